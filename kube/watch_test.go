package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
)

// watchEvent is one callback from Watch.
type watchEvent struct {
	deleted bool
	project string
	r       onramp.Resource
}

// startWatch runs Watch until the test ends and returns its events, once
// every informer has listed what it follows.
func startWatch(t testing.TB, k *Client) <-chan watchEvent {
	t.Helper()
	events := make(chan watchEvent, 10000)
	ctx, cancel := context.WithCancel(context.Background())
	done, synced := make(chan error, 1), make(chan struct{})
	go func() {
		done <- k.Watch(ctx,
			func(p string, r onramp.Resource) { events <- watchEvent{project: p, r: r} },
			func(p string, r onramp.Resource) { events <- watchEvent{deleted: true, project: p, r: r} },
			func() { close(synced) })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v after its context ended; want nil", err)
		}
	})
	select {
	case <-synced:
	case err := <-done:
		t.Fatalf("Watch = %v before its informers synced", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the watch did not sync in 30 s: it may not list or watch one of the kinds")
	}
	return events
}

// next waits for the first event of project that match accepts.
func next(t testing.TB, events <-chan watchEvent, project string, what string, match func(watchEvent) bool) watchEvent {
	t.Helper()
	timeout := time.After(fluxTimeout)
	var seen []string
	for {
		select {
		case ev := <-events:
			if ev.project != project {
				continue
			}
			seen = append(seen, fmt.Sprintf("%s %s deleted=%v %s", ev.r.Kind, ev.r.Name, ev.deleted, ev.r.Status))
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("Watch: no %s within %s; saw %v", what, fluxTimeout, seen)
		}
	}
}

// TestWatch follows a Kustomization from creation to Ready at the pushed
// revision, checks that a new watcher gets the current state from its
// initial list, and sees the deletions.
func TestWatch(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	events := startWatch(t, e.kube)
	time.Sleep(time.Second) // let the informers list before the objects exist
	e.apply(t)
	p := e.spec.Project
	isKs := func(ev watchEvent) bool { return !ev.deleted && ev.r.Kind == onramp.KindKustomization }
	first := next(t, events, p, "Kustomization added", isKs)
	if first.r.Status == onramp.StatusReady {
		t.Fatalf("first Kustomization event is already ready: %+v", first.r)
	}
	var path []string
	ready := next(t, events, p, "Kustomization ready", func(ev watchEvent) bool {
		if isKs(ev) {
			path = append(path, fmt.Sprintf("%s(%s: %s; %s)", ev.r.Status, ev.r.Reason, ev.r.Message, ev.r.Hint))
		}
		return isKs(ev) && ev.r.Status == onramp.StatusReady
	})
	t.Logf("Kustomization statuses on the way to ready: %v", path)
	// The Kustomization never looks failed while its source clones: that
	// would flap the project to degraded for a second after every creation.
	for _, s := range path {
		if strings.HasPrefix(s, string(onramp.StatusFailed)) {
			t.Errorf("Kustomization reported %s before it became ready; want only reconciling", s)
		}
	}
	if ready.r.Revision != e.spec.Revision || ready.r.Environment != "development" || ready.r.Namespace != e.spec.Namespace || ready.r.ObservedAt.IsZero() {
		t.Errorf("ready event = %+v; want revision %s in development", ready.r, e.spec.Revision)
	}

	// A watcher started now (a restarted onramp) gets the current state.
	again := startWatch(t, e.kube)
	initial := map[string]onramp.ResourceStatus{}
	next(t, again, p, "initial list of all six objects, all ready", func(ev watchEvent) bool {
		initial[ev.r.Kind] = ev.r.Status
		for _, s := range initial {
			if s != onramp.StatusReady {
				return false
			}
		}
		return len(initial) == 6
	})

	if err := e.kube.DeleteProject(context.Background(), p, nil); err != nil {
		t.Fatalf("DeleteProject: %v", err)
	}
	for _, kind := range []string{onramp.KindKustomization, onramp.KindGitRepository, onramp.KindSecret,
		onramp.KindRoleBinding, onramp.KindServiceAccount, onramp.KindNamespace} {
		ev := next(t, events, p, kind+" deleted", func(ev watchEvent) bool { return ev.deleted && ev.r.Kind == kind })
		if ev.r.Status != onramp.StatusMissing {
			t.Errorf("delete event for %s has status %s; want missing", kind, ev.r.Status)
		}
	}
}
