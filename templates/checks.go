package templates

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"sync"

	"github.com/onramp/onramp"
)

// maxChecks bounds the preflight answers kept; maxPreparing bounds the
// Prepares running at once, so that a burst of creates leaves the CPU to
// the jobs, which then check for themselves.
const (
	maxChecks    = 64
	maxPreparing = 2
)

// checks remembers Preflight's answers by everything they depend on: the
// project's name, its environments and the rendered files. A preflight is
// a pure function of these (kustomize builds offline, openapi: is refused),
// so the answer of one check serves every later one, and a check asked for
// while the same one runs waits for it instead of building again.
type checks struct {
	mu        sync.Mutex
	answers   map[[32]byte]*check
	order     [][32]byte // oldest first
	preparing int
}

type check struct {
	done chan struct{} // closed when err is set
	err  error
}

// do returns the answer for key, running run if no check has it. A panic in
// run (kustomize on input it does not expect) is the answer, as an error:
// the same input would panic again, and the checks that wait for it, or a
// Prepare's goroutine, must neither hang nor take the process down.
func (c *checks) do(key [32]byte, run func() error) (err error) {
	c.mu.Lock()
	if a, ok := c.answers[key]; ok {
		c.mu.Unlock()
		<-a.done
		return a.err
	}
	a := &check{done: make(chan struct{})}
	if c.answers == nil {
		c.answers = map[[32]byte]*check{}
	}
	c.answers[key] = a
	c.order = append(c.order, key)
	if len(c.order) > maxChecks {
		delete(c.answers, c.order[0])
		c.order = slices.Delete(c.order, 0, 1)
	}
	c.mu.Unlock()
	defer close(a.done)
	defer func() {
		if v := recover(); v != nil {
			a.err = onramp.Errorf(onramp.EINVALID, "kustomize failed on this template (%v); fix the template", v)
			err = a.err
		}
	}()
	a.err = run()
	return a.err
}

// checkKey identifies what a preflight of p's files checks.
func checkKey(p *onramp.Project, files onramp.Files) [32]byte {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte(p.Name))
	for _, e := range p.Environments {
		field([]byte(e.Name))
		field([]byte(e.Namespace))
		field([]byte(e.Path))
	}
	field(nil) // the environments end here
	for _, name := range slices.Sorted(maps.Keys(files)) {
		field([]byte(name))
		field(files[name])
	}
	return [32]byte(h.Sum(nil))
}

// Prepare renders and preflights p's template in the background, so that
// the job that initializes p finds the answer ready: called as a project is
// created, it moves the kustomize builds off the time the job waits in the
// queue. It does nothing when maxPreparing are running already.
func (r *Registry) Prepare(p *onramp.Project) {
	q := *p // the caller may go on to change p
	r.checks.mu.Lock()
	if r.checks.preparing >= maxPreparing {
		r.checks.mu.Unlock()
		return
	}
	r.checks.preparing++
	r.checks.mu.Unlock()
	go func() {
		defer func() {
			r.checks.mu.Lock()
			r.checks.preparing--
			r.checks.mu.Unlock()
		}()
		if files, err := r.Render(&q); err == nil {
			r.Preflight(&q, files)
		}
	}()
}
