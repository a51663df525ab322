package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store/storetest"
)

// runCLI runs a client command through the real Main against s.
func runCLI(t *testing.T, s *server, token string, args ...string) (int, string, string) {
	t.Helper()
	return runCLIContext(context.Background(), t, s, token, args...)
}

// runCLIContext is runCLI until ctx ends, as Ctrl-C ends a command.
func runCLIContext(ctx context.Context, t *testing.T, s *server, token string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	m := NewMain()
	m.Stdout, m.Stderr = &stdout, &stderr
	m.Getenv = func(k string) string {
		return map[string]string{"ONRAMP_SERVER": s.url, "ONRAMP_TOKEN": token}[k]
	}
	code := m.Run(ctx, args)
	return code, stdout.String(), stderr.String()
}

// TestCLIWait follows projects to 100%, to Ready, to a failure and to
// their deletion with the client's --wait flags, against serve with the
// control plane.
func TestCLIWait(t *testing.T) {
	s := startCluster(t, storetest.Engines()[0], "--templates-dir", "testdata/templates")
	tok := s.token(t, "alice")

	t.Run("wait succeeds", func(t *testing.T) {
		name := uniqueName("cli")
		code, out, errOut := runCLI(t, s, tok, "project", "create", name, "--env", "development,staging", "--wait")
		if code != 0 || !strings.Contains(out, "100% provisioned") && !strings.Contains(out, "100% ready") {
			t.Errorf("create --wait = %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		// The last transaction ends finalize, writes 100% and provisioned:
		// drawn once, not event by event.
		if strings.Contains(out, "initializing all steps done") {
			t.Errorf("create --wait drew the last transaction half-applied:\n%s", out)
		}
		code, out, _ = runCLI(t, s, tok, "project", "get", name, "--output", "json")
		var p onramp.Project
		if err := json.Unmarshal([]byte(out), &p); code != 0 || err != nil || p.Name != name || p.Progress != 100 {
			t.Errorf("get --output json = %d %v %+v", code, err, p)
		}
		code, out, _ = runCLI(t, s, tok, "project", "list")
		if code != 0 || !strings.Contains(out, name) {
			t.Errorf("list = %d:\n%s", code, out)
		}
		if code, out, errOut = runCLI(t, s, tok, "project", "delete", name, "--wait"); code != 0 || !strings.Contains(out, "project "+name+" is gone") {
			t.Errorf("delete --wait = %d\n%s\n%s; want 0 and the project said gone", code, out, errOut)
		}
		// The bar counts the deletion up from 0, and no environment is
		// said ready while it is being deleted.
		var bars []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "% deleting") {
				bars = append(bars, strings.Fields(l)[0])
			}
			if strings.Contains(l, "=ready") {
				t.Errorf("delete --wait shows an environment ready: %q", l)
			}
		}
		// (The last events may go with the project's records, so 100%
		// itself is not required; the namespaces' wait of seconds leaves
		// the steps before it time to show.)
		if len(bars) < 2 || bars[0] == "100%" || bars[0] == bars[len(bars)-1] {
			t.Errorf("delete --wait progress = %v; want it to count up from below 100%%:\n%s", bars, out)
		}
		if _, c := getProject(t, s, tok, name); c != 404 {
			t.Errorf("after delete --wait: GET = %d; want 404", c)
		}
	})
	t.Run("wait-ready succeeds", func(t *testing.T) {
		code, out, errOut := runCLI(t, s, tok, "project", "create", uniqueName("cli"), "--env", "development", "--wait-ready", "--timeout", "2m")
		if code != 0 || !strings.Contains(out, "ready") {
			t.Errorf("create --wait-ready = %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})
	t.Run("preflight failure exits 1 with the hint", func(t *testing.T) {
		code, out, errOut := runCLI(t, s, tok, "project", "create", uniqueName("cli"), "--template", "param-base", "--env", "development", "--param", "base=../../missing", "--wait")
		if code != 1 || !strings.Contains(errOut, "step render_template failed") || !strings.Contains(errOut, "hint:") {
			t.Errorf("create --wait with a bad overlay = %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})
	// The client's errors, its timeout and the template commands, which
	// need no cluster, are cli's TestProjectCommandErrors, TestWaitTimeout
	// and TestTemplateCommands.
}
