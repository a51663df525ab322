package templates

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp/onramp"
)

func TestChecksRemember(t *testing.T) {
	var c checks
	var runs atomic.Int32
	bad := errors.New("bad overlay")
	run := func(err error) func() error {
		return func() error { runs.Add(1); return err }
	}
	key := func(i int) [32]byte { return [32]byte{byte(i), byte(i >> 8)} }

	if err := c.do(key(1), run(bad)); err != bad {
		t.Fatalf("first check = %v; want %v", err, bad)
	}
	if err := c.do(key(1), run(nil)); err != bad || runs.Load() != 1 {
		t.Fatalf("second check of the same key = %v after %d runs; want the first answer after 1 run", err, runs.Load())
	}

	// Checks of one key asked for while it runs wait for its answer.
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.do(key(2), func() error { runs.Add(1); <-release; return nil }) })
	for c.answered(key(2)) == nil {
		time.Sleep(time.Millisecond)
	}
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = c.do(key(2), run(bad)) })
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("waiting check %d = %v; want the running check's nil", i, err)
		}
	}
	if runs.Load() != 2 {
		t.Errorf("%d runs for two keys; want 2", runs.Load())
	}

	// A panic is the answer, as an error, for the check and those after.
	crash := func() error { runs.Add(1); panic("kustomize bug") }
	for i := range 2 {
		err := c.do(key(3), crash)
		if onramp.ErrorCode(err) != onramp.EINVALID || !strings.Contains(err.Error(), "kustomize bug") {
			t.Errorf("check %d of a key whose run panics = %v; want EINVALID naming the panic", i, err)
		}
	}
	if runs.Load() != 3 {
		t.Errorf("%d runs after a panicking key was checked twice; want 3", runs.Load())
	}

	// The oldest answers are forgotten beyond maxChecks.
	for i := range maxChecks {
		c.do(key(100+i), run(nil))
	}
	before := runs.Load()
	c.do(key(1), run(nil))
	c.do(key(100+maxChecks-1), run(nil))
	if got := runs.Load() - before; got != 1 {
		t.Errorf("%d runs for an evicted and a kept key; want 1", got)
	}
	if len(c.answers) != maxChecks || len(c.order) != maxChecks {
		t.Errorf("%d answers, %d in order; want %d", len(c.answers), len(c.order), maxChecks)
	}
}

// answered returns the check of key, for tests.
func (c *checks) answered(key [32]byte) *check {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answers[key]
}

func TestCheckKey(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	p := newProject(t, r, "shop", "web-service", nil, allTypes...)
	files, err := r.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	base := checkKey(p, files)
	if checkKey(p, maps.Clone(files)) != base {
		t.Error("the same files in another map have another key")
	}
	changed := map[string]func(*onramp.Project, onramp.Files){
		"project name":          func(p *onramp.Project, _ onramp.Files) { p.Name = "shop2" },
		"environment path":      func(p *onramp.Project, _ onramp.Files) { p.Environments[1].Path = "./deploy" },
		"environment namespace": func(p *onramp.Project, _ onramp.Files) { p.Environments[2].Namespace = "other" },
		"environment dropped":   func(p *onramp.Project, _ onramp.Files) { p.Environments = p.Environments[:2] },
		"file content": func(_ *onramp.Project, f onramp.Files) {
			f["deploy/base/deployment.yaml"] = append(f["deploy/base/deployment.yaml"], ' ')
		},
		"file added": func(_ *onramp.Project, f onramp.Files) { f["extra.yaml"] = nil },
		// The same bytes split differently between name and content.
		"name and content": func(_ *onramp.Project, f onramp.Files) {
			for name, b := range f {
				delete(f, name)
				f[name+string(b[:1])] = b[1:]
				return
			}
		},
	}
	for what, change := range changed {
		q := *p
		q.Environments = append([]onramp.Environment(nil), p.Environments...)
		f := maps.Clone(files)
		change(&q, f)
		if checkKey(&q, f) == base {
			t.Errorf("a changed %s keeps the key", what)
		}
	}
}

// TestPrepare prepares a project that preflights and one that does not:
// the preflights after find the same answers.
func TestPrepare(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	good := newProject(t, r, "shop", "web-service", nil, allTypes...)
	bad := newProject(t, r, "cart", "web-service", nil, allTypes...)
	bad.Environments[0].Path = "./deploy/overlays/dev"
	for _, p := range []*onramp.Project{good, bad} {
		r.Prepare(p)
	}
	for _, p := range []*onramp.Project{good, bad} {
		files, err := r.Render(p)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for r.checks.answered(checkKey(p, files)) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no preparation of %s began", p.Name)
			}
			time.Sleep(time.Millisecond)
		}
		err = r.Preflight(p, files)
		if want := fmt.Sprint(preflight(p, files)); fmt.Sprint(err) != want {
			t.Errorf("preflight(%s) after Prepare = %v; want %s", p.Name, err, want)
		}
	}
	if err := r.Preflight(bad, mustRender(t, r, bad)); err == nil || !strings.Contains(err.Error(), "overlays/dev does not exist") {
		t.Errorf("preflight(cart) = %v; want the missing overlay", err)
	}
}

func mustRender(t testing.TB, r *Registry, p *onramp.Project) onramp.Files {
	t.Helper()
	files, err := r.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	return files
}
