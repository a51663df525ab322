package cli_test

import (
	"strings"
	"testing"
)

// TestProjectCommandErrors: the server's refusals exit 1 with its message
// and the field at fault; a command used wrongly exits 2 with its usage.
func TestProjectCommandErrors(t *testing.T) {
	url, _, tok := server(t)
	code, _, errOut := run(url, tok, "project", "create", "Bad_Name")
	if code != 1 || !strings.Contains(errOut, "lowercase letters") || !strings.Contains(errOut, "(name)") {
		t.Errorf("create Bad_Name = %d; stderr %q", code, errOut)
	}
	code, _, errOut = run(url, tok, "project", "create", "shop", "--env", "dev")
	if code != 2 || !strings.Contains(errOut, "dev:development") {
		t.Errorf("create --env dev = %d; stderr %q; want usage and the NAME:TYPE form", code, errOut)
	}
	code, _, errOut = run(url, "", "project", "list")
	if code != 1 || !strings.Contains(errOut, "ONRAMP_TOKEN") {
		t.Errorf("list without a token = %d; stderr %q", code, errOut)
	}
	code, _, errOut = run(url, tok, "project", "get")
	if code != 2 || !strings.Contains(errOut, "takes one NAME") {
		t.Errorf("get without a name = %d; stderr %q", code, errOut)
	}
}

// TestWaitTimeout: with no worker the project stays initializing, and
// --wait-ready gives up at its --timeout with exit code 2.
func TestWaitTimeout(t *testing.T) {
	url, _, tok := server(t)
	code, _, errOut := run(url, tok, "project", "create", "shop", "--wait-ready", "--timeout", "200ms")
	if code != 2 || !strings.Contains(errOut, "timed out after 200ms") {
		t.Errorf("create --wait-ready --timeout 200ms = %d; stderr:\n%s", code, errOut)
	}
}

// TestTemplateCommands lists the built-in templates and shows one.
func TestTemplateCommands(t *testing.T) {
	url, _, tok := server(t)
	code, out, _ := run(url, tok, "template", "list")
	if code != 0 || !strings.Contains(out, "web-service") || !strings.Contains(out, "worker") {
		t.Errorf("template list = %d:\n%s", code, out)
	}
	code, out, _ = run(url, tok, "template", "show", "web-service")
	if code != 0 || !strings.Contains(out, "./deploy/overlays/production") {
		t.Errorf("template show = %d:\n%s", code, out)
	}
}
