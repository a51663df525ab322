package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"io"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/store"
)

// twoEnvs is a project of the web-service template in development and
// production.
func twoEnvs(name string) string {
	return `{"name":"` + name + `","template":"web-service","environments":[{"name":"development","type":"development"},{"name":"production","type":"production"}]}`
}

// TestProjectsByOwner creates, reads and lists a project as its owner;
// another user sees none of it, and a missing or wrong token is a 401.
func TestProjectsByOwner(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		bob, err := e.db.CreateToken(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		const path = "/api/v1/projects"
		var p onramp.Project
		code, out := e.do(t, "POST", path, "application/json", twoEnvs("shop"))
		if code != http.StatusAccepted {
			t.Fatalf("create = %d %s; want 202", code, out)
		}
		decode(t, out, &p)
		if p.Name != "shop" || p.Phase != onramp.PhaseInitializing || len(p.Environments) != 2 || p.Environments[1].Namespace != "shop-production" {
			t.Errorf("created project = %+v", p)
		}
		code, out = e.do(t, "GET", path+"/shop", "", "")
		decode(t, out, &p)
		if code != http.StatusOK || p.Owner != "alice" {
			t.Errorf("get = %d %+v", code, p)
		}
		var list struct{ Projects []onramp.Project }
		code, out = e.do(t, "GET", path, "", "")
		decode(t, out, &list)
		if code != http.StatusOK || len(list.Projects) != 1 {
			t.Errorf("list = %d %+v; want one project", code, list)
		}
		list.Projects = nil
		decode(t, e.body(t, "GET", path, bob), &list)
		if len(list.Projects) != 0 {
			t.Errorf("bob's list = %+v; want empty", list)
		}
		for _, sub := range []string{"/shop", "/shop/logs", "/shop/history", "/shop/events"} {
			if code := e.status(t, "GET", path+sub, bob); code != http.StatusNotFound {
				t.Errorf("bob GET %s = %d; want 404", sub, code)
			}
		}
		if code := e.status(t, "DELETE", path+"/shop", bob); code != http.StatusNotFound {
			t.Errorf("bob DELETE = %d; want 404", code)
		}
		for _, tok := range []string{"", "nope", e.token + "x"} {
			resp := e.send(t, "GET", path, "", "", tok)
			var b api.ErrorBody
			err := json.NewDecoder(resp.Body).Decode(&b)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || err != nil || b.Error.Code != onramp.EUNAUTHORIZED {
				t.Errorf("token %q: %d %+v %v; want 401", tok, resp.StatusCode, b, err)
			}
		}
		if code := e.status(t, "GET", "/healthz", ""); code != http.StatusOK {
			t.Errorf("healthz = %d", code)
		}
	})
}

// TestConcurrentCreateSameName sends 50 creates of one name at once: one
// is accepted, the 49 others are conflicts, on each engine.
func TestConcurrentCreateSameName(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		codes := make([]int, 50)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := e.send(t, "POST", "/api/v1/projects", "application/json", twoEnvs("race"), e.token)
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		count := map[int]int{}
		for _, c := range codes {
			count[c]++
		}
		if count[http.StatusAccepted] != 1 || count[http.StatusConflict] != 49 {
			t.Errorf("status counts = %v; want one 202 and 49 409", count)
		}
	})
}

// TestMetrics counts the projects created and the requests by route.
func TestMetrics(t *testing.T) {
	e := newEnv(t, store.SQLite)
	if code, out := e.do(t, "POST", "/api/v1/projects", "application/json", twoEnvs("metered")); code != http.StatusAccepted {
		t.Fatalf("create = %d %s", code, out)
	}
	body := e.metrics(t)
	for _, want := range []string{"onramp_projects_created_total 1", `onramp_http_request_duration_seconds_count{route="POST /api/v1/projects",status="202"} 1`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// A stream wakes when this process writes an event, not at its next poll:
// with the poll set to an hour, a retry's phase change still arrives at once.
func TestEventStreamWakesOnWrite(t *testing.T) {
	e := newEnv(t, store.SQLite, func(s *api.Server) { s.Poll = time.Hour })
	ctx := context.Background()
	code, out := e.do(t, "POST", "/api/v1/projects", "application/json", twoEnvs("wake"))
	if code != http.StatusAccepted {
		t.Fatalf("create = %d %s", code, out)
	}
	stored, err := e.db.ProjectByName(ctx, "wake")
	if err != nil {
		t.Fatal(err)
	}
	// No workers run here: the test fails the first step as a job would.
	if err := e.db.FailStep(ctx, stored.ID, stored.Steps[0].Name, "broken", "fix it"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.ChangePhase(ctx, stored.ID, onramp.PhaseInitializing, onramp.PhaseFailed); err != nil {
		t.Fatal(err)
	}
	var p onramp.Project
	testutil.Until(t, 10*time.Second, "phase failed", func() bool {
		_, out := e.do(t, "GET", "/api/v1/projects/wake", "", "")
		decode(t, out, &p)
		return p.Phase == onramp.PhaseFailed
	})
	resp := e.send(t, "GET", "/api/v1/projects/wake/events", "", "", e.token)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream = %d", resp.StatusCode)
	}
	events := testutil.ReadEvents(ctx, resp.Body)
	if code, out := e.do(t, "POST", "/api/v1/projects/wake/retry", "", ""); code != http.StatusAccepted {
		t.Fatalf("retry = %d %s", code, out)
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended before phase initializing")
			}
			if ev.Type == onramp.EventPhase && strings.Contains(ev.Data, `"`+string(onramp.PhaseInitializing)+`"`) {
				return
			}
		case <-deadline:
			t.Fatal("no phase initializing within 30s of the retry")
		}
	}
}

// decode decodes a JSON answer into v.
func decode(t testing.TB, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("answer %.200q is not JSON: %v", body, err)
	}
}

// status sends a request with token and returns its status.
func (e *env) status(t testing.TB, method, path, token string) int {
	t.Helper()
	resp := e.send(t, method, path, "", "", token)
	resp.Body.Close()
	return resp.StatusCode
}

// body sends a request with token and returns its body.
func (e *env) body(t testing.TB, method, path, token string) string {
	t.Helper()
	resp := e.send(t, method, path, "", "", token)
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
