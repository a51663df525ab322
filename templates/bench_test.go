package templates

import (
	"fmt"
	"testing"
)

// BenchmarkRenderPreflight measures what creating a project costs before
// anything is pushed: rendering web-service and preflighting its three
// environments (three in-process kustomize builds). Each project has its
// own name, so that no preflight finds an earlier answer.
func BenchmarkRenderPreflight(b *testing.B) {
	r, err := New("")
	if err != nil {
		b.Fatal(err)
	}
	p := newProject(b, r, "shop", "web-service", nil, allTypes...)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		p.Name = fmt.Sprintf("shop%d", n)
		files, err := r.Render(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Preflight(p, files); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender measures rendering alone, to show what the kustomize
// builds of BenchmarkRenderPreflight cost on top.
func BenchmarkRender(b *testing.B) {
	r, err := New("")
	if err != nil {
		b.Fatal(err)
	}
	p := newProject(b, r, "shop", "web-service", nil, allTypes...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Render(p); err != nil {
			b.Fatal(err)
		}
	}
}
