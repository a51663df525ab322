package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp/store"
)

// TestREADMECurl runs the curl commands of README.md, as they are written,
// with ONRAMP_SERVER and ONRAMP_TOKEN pointing at a real server, in order:
// each answer must be what the README promises, not an error.
func TestREADMECurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("the README's examples need curl: install it (%v)", err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	commands := curlCommands(string(readme))
	if len(commands) < 2 {
		t.Fatalf("README.md has %d curl commands; want the create and the event stream at least", len(commands))
	}
	e := newEnv(t, store.SQLite)
	for _, cmd := range commands {
		out := runCurl(t, curl, cmd, e.url, e.token)
		switch {
		case strings.Contains(cmd, "/events"):
			if !strings.Contains(out, "event: snapshot") {
				t.Errorf("%s\nprinted %q; want an event stream that starts with its snapshot", cmd, out)
			}
		default:
			var answer map[string]any
			if err := json.Unmarshal([]byte(out), &answer); err != nil || answer["error"] != nil || answer["name"] == nil {
				t.Errorf("%s\nprinted %q; want a project", cmd, out)
			}
		}
	}
}

// curlCommands returns the commands of the README's code blocks that
// start with curl, with their continuation lines joined.
func curlCommands(readme string) []string {
	var cmds []string
	inBlock, cur := false, ""
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = !inBlock
		case !inBlock:
		case cur != "" || strings.HasPrefix(line, "curl "):
			cur += line
			if strings.HasSuffix(cur, "\\") {
				cur = strings.TrimSuffix(cur, "\\")
				continue
			}
			cmds = append(cmds, cur)
			cur = ""
		}
	}
	return cmds
}

// runCurl runs cmd with sh and returns what it printed: all of it, or for
// an event stream, what it printed until its first event.
func runCurl(t *testing.T, curl, cmd, server, token string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "sh", "-c", strings.Replace(cmd, "curl ", curl+" ", 1))
	c.Env = append(os.Environ(), "ONRAMP_SERVER="+server, "ONRAMP_TOKEN="+token)
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		out.WriteString(line)
		if err != nil || strings.HasPrefix(out.String(), "id:") && strings.Contains(out.String(), "\n\n") {
			break
		}
	}
	cancel() // ends a stream; a command that is done is not affected
	c.Wait()
	return out.String()
}
