package store_test

import (
	"context"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// Every test runs against each engine: one conformance suite.
func forEachEngine(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, engine := range storetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fn(t, storetest.Open(t, engine))
		})
	}
}

func newProject(name string) *onramp.Project {
	p := &onramp.Project{Name: name, Template: "web-service", Params: map[string]string{"image": "nginx"}}
	for _, typ := range []onramp.EnvironmentType{onramp.Development, onramp.Staging, onramp.Production} {
		p.Environments = append(p.Environments, onramp.Environment{
			Name: string(typ), Type: typ, Namespace: onramp.Namespace(name, string(typ)),
			Path: "./deploy/overlays/" + string(typ), Interval: onramp.Duration(typ.Interval()),
		})
	}
	return p
}

// mustCreate stores the projects for alice, failing the test if it cannot.
func mustCreate(t *testing.T, db *store.DB, ps ...*onramp.Project) {
	t.Helper()
	for _, p := range ps {
		if err := db.CreateProject(context.Background(), "alice", p); err != nil {
			t.Fatalf("CreateProject(%s): %v", p.Name, err)
		}
	}
}
