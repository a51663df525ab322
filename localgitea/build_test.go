package localgitea

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestLookup finds nothing in an empty cache, and outside a checkout the
// newest complete bin dir.
func TestLookup(t *testing.T) {
	cache := t.TempDir()
	tools, err := FindToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lookup(context.Background(), BuildOptions{ToolsDir: tools, CacheDir: cache}); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Lookup() in an empty cache: %v; want ErrNotBuilt", err)
	}
	for _, name := range []string{"old", "half"} {
		dir := filepath.Join(cache, name)
		for _, f := range append([]string{binaryName}, staticDirs...) {
			if name == "half" && f == binaryName {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, err := newestBinDir(cache); err != nil || got != filepath.Join(cache, "old") {
		t.Errorf("newestBinDir() = %q, %v; want the complete one", got, err)
	}
}

// TestParseToken reads the token from `gitea admin user create`'s output.
func TestParseToken(t *testing.T) {
	out := "New user 'onramp-admin' has been successfully created!\nAccess token was successfully created... 0123abcd\n"
	if got := parseToken([]byte(out)); got != "0123abcd" {
		t.Errorf("parseToken() = %q; want 0123abcd", got)
	}
	if got := parseToken([]byte("nothing")); got != "" {
		t.Errorf("parseToken(no token) = %q; want empty", got)
	}
}

// TestExitErrorPortInUse: a Gitea that could not bind its port is told
// apart, so that Start tries again on new ports.
func TestExitErrorPortInUse(t *testing.T) {
	log := filepath.Join(t.TempDir(), "gitea.log")
	p := &process{logPath: log, exitErr: errors.New("exit status 1")}
	if err := os.WriteFile(log, []byte("[F] Failed to start SSH server: listen tcp 127.0.0.1:39283: bind: address already in use\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.exitError(); !errors.Is(err, errPortInUse) {
		t.Errorf("exitError() = %v; want errPortInUse", err)
	}
	if err := os.WriteFile(log, []byte("[F] something else\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.exitError(); errors.Is(err, errPortInUse) {
		t.Errorf("exitError() = %v; want no errPortInUse", err)
	}
}
