package store_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// Changed wakes the followers of the projects whose events a commit wrote,
// and of a project removed, and leaves the others asleep.
func TestChangedWakesOnlyTheProject(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, b := newProject("woken"), newProject("asleep")
		mustCreate(t, db, a, b)
		closed := func(ch <-chan struct{}) bool {
			select {
			case <-ch:
				return true
			default:
				return false
			}
		}
		wa, wb := db.Changed(a.ID), db.Changed(b.ID)
		if closed(wa) || closed(wb) {
			t.Fatal("Changed closed before any commit")
		}
		if err := db.Log(ctx, a.ID, "", "info", "hello"); err != nil {
			t.Fatal(err)
		}
		if !closed(wa) {
			t.Error("a commit of the project's event did not wake its follower")
		}
		if closed(wb) {
			t.Error("another project's commit woke this one's follower")
		}
		if again := db.Changed(a.ID); closed(again) {
			t.Error("Changed after the wake is already closed; want it open until the next commit")
		}
		if err := db.RemoveProject(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if !closed(wb) {
			t.Error("removing the project did not wake its follower")
		}
	})
}

// On PostgreSQL a replica's event streams wake at another replica's
// commits of their project's events, and at its removal, without waiting
// for their poll; other projects' commits leave them asleep.
func TestChangedWakesAcrossProcesses(t *testing.T) {
	url := storetest.URL(t, store.Postgres)
	serving, working := storetest.OpenURL(t, url), storetest.OpenURL(t, url)
	ctx := context.Background()
	a, b := newProject("across"), newProject("elsewhere")
	mustCreate(t, working, a, b)
	wait := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not wake the other process's follower", what)
		}
	}
	// Listening wakes every follower once, when it starts: what was
	// committed before may have been missed.
	ready := serving.Changed(a.ID)
	serving.Listen(slog.New(slog.DiscardHandler))
	wait(ready, "the start of listening")

	wa, wb := serving.Changed(a.ID), serving.Changed(b.ID)
	if err := working.Log(ctx, a.ID, "", "info", "from the worker"); err != nil {
		t.Fatal(err)
	}
	wait(wa, "a commit of the project's event")
	select {
	case <-wb:
		t.Error("another project's commit woke this one's follower")
	case <-time.After(200 * time.Millisecond):
	}
	if err := working.RemoveProject(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	wait(wb, "removing the project")
}
