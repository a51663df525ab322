package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// A project whose initialization job ended without an end (its job gone,
// here cancelled, and nothing written for over a minute) is failed by the
// sweep the server's queue runs at start, with the retry that resumes it.
func TestServeFailsLostInitializations(t *testing.T) {
	url := storetest.URL(t, "sqlite")
	db := storetest.OpenURL(t, url)
	ctx := context.Background()
	name := uniqueName("lost")
	p := &onramp.Project{Name: name, Template: "web-service", Environments: []onramp.Environment{
		{Name: "development", Type: onramp.Development, Namespace: name + "-development", Path: "./deploy/overlays/development"}}}
	if err := db.CreateProject(ctx, "alice", p); err != nil {
		t.Fatal(err)
	}
	jobs, err := db.Jobs.(*store.Queue).JobList(ctx, river.NewJobListParams().Kinds(onramp.InitializeJob{}.Kind()))
	if err != nil || len(jobs.Jobs) != 1 {
		t.Fatalf("initialize jobs = %v, %v; want 1", jobs, err)
	}
	if _, err := db.Jobs.(*store.Queue).JobCancel(ctx, jobs.Jobs[0].ID); err != nil {
		t.Fatal(err)
	}
	// Nothing written for two minutes: the sweep leaves a project alone for
	// one after its last change.
	if _, err := db.SQL().Exec(`UPDATE projects SET updated_at = ? WHERE id = ?`, time.Now().Add(-2*time.Minute).UnixMicro(), p.ID); err != nil {
		t.Fatal(err)
	}

	startMain(t, "serve", url, nil)
	waitUntil(t, time.Minute, "the lost initialization failed", func() bool {
		got, err := db.ProjectByID(ctx, p.ID)
		return err == nil && got.Phase == onramp.PhaseFailed
	})
	got, _ := db.ProjectByID(ctx, p.ID)
	if s := got.Steps[0]; s.Status != onramp.StepFailed || !strings.Contains(s.Hint, "onramp project retry "+p.Name) {
		t.Errorf("first step after the sweep = %+v; want failed with the retry hint", s)
	}
}
