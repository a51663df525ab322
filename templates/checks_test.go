package templates

import (
	"errors"
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

// A panic in kustomize is an EINVALID error that names it, not a crash.
func TestGuarded(t *testing.T) {
	bad := errors.New("bad overlay")
	if err := guarded(func() error { return bad }); err != bad {
		t.Errorf("guarded(error) = %v; want %v", err, bad)
	}
	err := guarded(func() error { panic("kustomize bug") })
	if onramp.ErrorCode(err) != onramp.EINVALID || !strings.Contains(err.Error(), "kustomize bug") {
		t.Errorf("guarded(panic) = %v; want EINVALID naming the panic", err)
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
