package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp/store/storetest"
)

// TestREADMETryIt runs the commands of the README's "Try it" section as
// they are written (bin/onramp is this Main), in order, against a real
// server with the control plane: each exits 0, and watch is left with
// Ctrl-C after a few seconds, as the README says. Only the project's name
// is made unique, so that no other test's objects share its namespaces.
// `make dev` itself is TestDev's; the curl examples are api's
// TestREADMECurl's.
func TestREADMETryIt(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds := tryItCommands(string(readme))
	if len(cmds) < 5 {
		t.Fatalf("the README's Try it has %d bin/onramp commands: %q; want template list, create, get, watch, delete", len(cmds), cmds)
	}
	s := startCluster(t, storetest.Engines()[0])
	tok := s.token(t, "alice")
	name := uniqueName("shop")
	for _, cmd := range cmds {
		args := strings.Fields(strings.TrimPrefix(cmd, "bin/onramp "))
		for i, a := range args {
			if a == "shop" {
				args[i] = name
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		if len(args) > 1 && args[1] == "watch" {
			time.AfterFunc(3*time.Second, cancel) // Ctrl-C
		}
		code, out, errOut := runCLIContext(ctx, t, s, tok, args...)
		cancel()
		if code != 0 {
			t.Errorf("%s = %d\nstdout:\n%s\nstderr:\n%s", cmd, code, out, errOut)
		}
	}
	if _, code := getProject(t, s, tok, name); code != 404 {
		t.Errorf("after the README's delete --wait, GET %s = %d; want 404", name, code)
	}
}

// tryItCommands returns the bin/onramp lines of the code block of the
// README's "Try it" section, without their comments.
func tryItCommands(readme string) []string {
	_, section, _ := strings.Cut(readme, "## Try it")
	section, _, _ = strings.Cut(section, "\n## ")
	var cmds []string
	for _, line := range strings.Split(section, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "bin/onramp ") {
			cmds = append(cmds, line)
		}
	}
	return cmds
}
