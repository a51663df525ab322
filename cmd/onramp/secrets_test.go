package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store/storetest"
)

// Secrets appear in no log, job argument, event, log line or API answer;
// only the cluster Secret Flux reads holds the Git credential.
func TestSecretsNeverLeak(t *testing.T) {
	s := startCluster(t, storetest.Engines()[0], "--log-level", "debug")
	tok, bobTok := s.token(t, "alice"), s.token(t, "bob")
	name := readyProject(t, s, tok)
	ctx := context.Background()
	p, err := s.app.DB.ProjectByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := s.app.DB.Credential(ctx, p.ID, onramp.GitReadCredential)
	if err != nil || len(cred) < 16 {
		t.Fatalf("credential: %q %v", cred, err)
	}
	var secret corev1.Secret
	if err := kubeClient(t).Get(ctx, client.ObjectKey{Namespace: name + "-development", Name: name + "-git"}, &secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["password"]) != cred {
		t.Fatal("the cluster Secret does not hold the stored credential: this test would grep for the wrong value")
	}

	places := map[string]string{"server log": s.stderr.String() + s.stdout.String()}
	for _, q := range []struct{ place, query string }{
		{"job arguments", `SELECT args FROM river_job`},
		{"job errors", `SELECT errors FROM river_job WHERE errors IS NOT NULL`},
		{"events", `SELECT data FROM events`},
		{"log lines", `SELECT message FROM log_lines`},
		{"resources", `SELECT message || hint FROM resources`},
	} {
		rows, err := s.app.DB.SQL().Query(q.query)
		if err != nil {
			t.Fatalf("%s: %v", q.place, err)
		}
		for rows.Next() {
			var v []byte
			rows.Scan(&v)
			places[q.place] += string(v) + "\n"
		}
		rows.Close()
	}
	for _, path := range []string{"", "/logs", "/history"} {
		places["GET "+path] = get(t, s.url+"/api/v1/projects/"+name+path, tok)
	}
	places["GET list"] = get(t, s.url+"/api/v1/projects", tok)
	stream, _ := openStream(t, s, tok, name, 0)
	timeout := time.After(2 * time.Second)
read:
	for {
		select {
		case e, ok := <-stream:
			if !ok {
				break read
			}
			places["event stream"] += e.Data
		case <-timeout:
			break read
		}
	}
	if places["events"] == "" || places["event stream"] == "" || places["server log"] == "" {
		t.Fatal("nothing was collected to look through")
	}
	for place, text := range places {
		for secret, what := range map[string]string{cred: "the Git credential", tok: "alice's API token", bobTok: "bob's API token"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s appears in the %s", what, place)
			}
		}
	}

	// Git: Flux's credential reads but cannot write; others get nothing.
	repo := strings.TrimPrefix(p.Repository.URL, "http://")
	clone := func(userinfo string) (string, error) {
		cmd := exec.Command("git", "clone", "-q", "http://"+userinfo+repo, filepath.Join(t.TempDir(), "c"))
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := clone(onramp.GitReadUser + ":" + cred + "@"); err != nil {
		t.Errorf("clone with Flux's credential: %v %s", err, out)
	}
	if out, err := clone("bob:" + bobTok + "@"); err == nil || !strings.Contains(out, "not found") {
		t.Errorf("clone with another owner's token: %v %s; want not found", err, out)
	}
	if out, err := clone("flux:wrong@"); err == nil || !strings.Contains(out, "Authentication failed") {
		t.Errorf("clone with a wrong password: %v %s; want authentication failed", err, out)
	}
}

func get(t *testing.T, url, tok string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
