package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/store"
)

// floorWorkers is how many projects the floor applies at once: as many
// as `onramp serve` runs jobs (its default --workers).
const floorWorkers = 10

// floorResult is what the floor reached and what it cost.
type floorResult struct {
	applied, ready time.Duration
	cpu            map[string]time.Duration
}

// burstFloor measures, after the burst, what the same objects cost
// without onramp: every project's three environments applied by a bare
// client (kube.Client.ApplyEnvironment, floorWorkers projects at a time)
// under the name "f"+name, pointing at the project's repository with its
// credential, and with -ready until Flux alone has made every one Ready.
// onramp's own GitRepositories and Kustomizations are suspended first so
// that their interval reconciles do not run beside the floor.
func (m *measurement) burstFloor(ctx context.Context, db *store.DB, names []string, procs map[string]int) (*floorResult, error) {
	k, kc, err := m.clients()
	if err != nil {
		return nil, err
	}
	fmt.Printf("floor: reading %d projects' objects…\n", len(names))
	specs := make([][]kube.EnvironmentSpec, len(names))
	for i, name := range names {
		p, err := db.ProjectByName(ctx, name)
		if err != nil {
			return nil, err
		}
		if specs[i], err = floorSpecs(ctx, kc, p, "f"+name); err != nil {
			return nil, err
		}
	}
	fmt.Printf("floor: suspending onramp's %d GitRepositories and Kustomizations…\n", 2*3*len(names))
	if err := parallel(16, len(names), func(i int) error { return suspend(ctx, kc, names[i], specs[i]) }); err != nil {
		return nil, err
	}
	time.Sleep(10 * time.Second) // what was queued before the suspension ends

	var ready func() time.Time
	if m.ready {
		ready = watchReady(ctx, kc, specs)
	}
	cpu0 := m.cpu(procs)
	fmt.Printf("floor: applying %d projects × 3 environments, %d at a time…\n", len(names), floorWorkers)
	start := time.Now()
	err = parallel(floorWorkers, len(names), func(i int) error {
		for _, spec := range specs[i] {
			if _, err := k.ApplyEnvironment(ctx, spec, nil); err != nil {
				return fmt.Errorf("floor: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r := &floorResult{applied: time.Since(start)}
	fmt.Printf("floor: all applied after %s\n", r.applied.Round(time.Millisecond))
	if ready != nil {
		if at := ready(); !at.IsZero() {
			r.ready = at.Sub(start)
			fmt.Printf("floor: all Ready after %s\n", r.ready.Round(time.Millisecond))
		}
	}
	cpu := m.cpu(procs)
	r.cpu = map[string]time.Duration{}
	for name := range cpu {
		r.cpu[name] = cpu[name] - cpu0[name]
	}
	return r, nil
}

// watchReady watches every Kustomization of the specs' projects and
// returns a function that waits until all are Ready at their revision
// and returns when that was, or the zero time if ctx ended first.
func watchReady(ctx context.Context, kc client.WithWatch, specs [][]kube.EnvironmentSpec) func() time.Time {
	want := map[client.ObjectKey]string{}
	for _, ss := range specs {
		for _, s := range ss {
			want[client.ObjectKey{Namespace: onramp.Namespace(s.Project, s.Environment), Name: s.Project}] = s.Revision
		}
	}
	t0 := time.Now()
	done := make(chan time.Time, 1)
	ready := map[client.ObjectKey]bool{}
	n := 0 // of them true
	go func() {
		defer close(done)
		last := time.Now()
		for ctx.Err() == nil {
			w, err := kc.Watch(ctx, &kustomizev1.KustomizationList{})
			if err != nil {
				time.Sleep(time.Second)
				continue
			}
			for ev := range w.ResultChan() { // the apiserver ends a watch now and then: watch again
				ks, ok := ev.Object.(*kustomizev1.Kustomization)
				if !ok || ev.Type == watch.Error {
					continue
				}
				key := client.ObjectKeyFromObject(ks)
				rev, ok := want[key]
				if !ok {
					continue
				}
				now := ev.Type != watch.Deleted && kube.Status(ks, rev).Status == onramp.StatusReady
				if now != ready[key] {
					ready[key] = now
					if now {
						n++
					} else {
						n--
					}
				}
				if time.Since(last) > 10*time.Second {
					fmt.Printf("floor: %d of %d Kustomizations Ready after %s\n", n, len(want), time.Since(t0).Round(time.Second))
					last = time.Now()
				}
				if n == len(want) {
					w.Stop()
					done <- time.Now()
					return
				}
			}
		}
	}()
	return func() time.Time { return <-done }
}

// floorSummary is the report's lines for the floor and onramp's rate
// against it.
func floorSummary(b *strings.Builder, r *floorResult, n int, at100, atReady time.Duration) {
	fmt.Fprintf(b, "  floor, all applied: %s (%.1f projects/s); onramp's rate to 100%% is %.2f× the floor's\n",
		r.applied.Round(time.Millisecond), float64(n)/r.applied.Seconds(), r.applied.Seconds()/at100.Seconds())
	if r.ready > 0 && atReady > 0 {
		fmt.Fprintf(b, "  floor, all Ready (Flux alone): %s; onramp's rate to Ready is %.2f× the floor's\n",
			r.ready.Round(time.Millisecond), r.ready.Seconds()/atReady.Seconds())
	}
	fmt.Fprintf(b, "  floor CPU seconds:%s\n", cpuLine(r.cpu))
}
