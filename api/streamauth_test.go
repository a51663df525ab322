package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/store"
)

// TestOpenStreamEnds checks that an event stream already open ends within
// a few seconds once its token is revoked, or its session signed out,
// with an "error" event that says why.
func TestOpenStreamEnds(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		if code, body := e.do(t, "POST", "/api/v1/projects", "application/json", validBody); code != 202 {
			t.Fatalf("create: %d %s", code, body)
		}
		events := e.url + "/api/v1/projects/shop/events"
		tok, err := e.db.IssueToken(context.Background(), "alice", onramp.TokenCreate{Name: "stream"})
		if err != nil {
			t.Fatal(err)
		}
		t.Run("revoked token", func(t *testing.T) {
			req, _ := http.NewRequest("GET", events, nil)
			req.Header.Set("Authorization", "Bearer "+tok.Secret)
			wantStreamEnds(t, req, func() {
				if err := e.db.RevokeToken(context.Background(), "alice", tok.ID); err != nil {
					t.Fatal(err)
				}
			})
		})
		t.Run("signed out", func(t *testing.T) {
			c := signIn(t, e, e.token)
			req, _ := http.NewRequest("GET", events, nil)
			req.AddCookie(c)
			wantStreamEnds(t, req, func() {
				if resp, _ := withCookie(t, "POST", e.url+"/signout", c); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("sign out = %d", resp.StatusCode)
				}
			})
		})
	})
}

// wantStreamEnds opens the stream req, calls end, and checks that the
// stream then ends within 5 s with an unauthorized "error" event.
func wantStreamEnds(t *testing.T, req *http.Request, end func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream = %d %s", resp.StatusCode, b)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	if line := <-lines; !strings.HasPrefix(line, "id:") {
		t.Fatalf("stream's first line %q; want its snapshot", line)
	}
	end()
	ended := time.Now()
	var last []string
	timeout := time.After(5 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				text := strings.Join(last, "\n")
				if !strings.Contains(text, "event: error\n") || !strings.Contains(text, `"code":"unauthorized"`) {
					t.Errorf("the stream ended after %v with\n%s\nwant an unauthorized error event", time.Since(ended), text)
				}
				return
			}
			last = append(last, line)
			if len(last) > 4 {
				last = last[1:]
			}
		case <-timeout:
			t.Fatal("the stream is still open 5 s after its credential ended")
		}
	}
}

// TestRefusedSessionsLimited checks that session cookies the API refuses
// count against the address's budget of refused credentials, as tokens do,
// and are answered 429 once it is spent.
func TestRefusedSessionsLimited(t *testing.T) {
	e := newEnv(t, store.SQLite, func(s *api.Server) { s.Limits = api.Limits{AuthFailuresPerMinute: 2} })
	for i := range 2 {
		c := &http.Cookie{Name: onramp.SessionCookie, Value: fmt.Sprintf("ons_guess%d_guess", i)}
		if resp, body := withCookie(t, "GET", e.url+"/api/v1/projects", c); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a wrong session cookie = %d %s; want 401", resp.StatusCode, body)
		}
	}
	resp, body := get(t, http.DefaultClient, e.url+"/api/v1/projects", e.token)
	wantTooMany(t, "a valid token after 2 refused session cookies", resp, body)
}
