package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/store"
)

// blockingAuth is the real store's token check, called once the client
// that asked has gone: the store then fails as it does when a client
// leaves in the middle of its query.
type blockingAuth struct {
	*store.DB
	entered chan struct{}
}

func (a blockingAuth) Authenticate(ctx context.Context, token string) (*onramp.User, error) {
	a.entered <- struct{}{}
	<-ctx.Done()
	return a.DB.Authenticate(ctx, token)
}

// TestClientGone checks that a client that leaves in the middle of its
// request is not a server error: nothing logged at ERROR, and no 500 in
// the metrics.
func TestClientGone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		entered := make(chan struct{})
		e := newEnv(t, engine, func(s *api.Server) { s.Auth = blockingAuth{DB: s.Projects.(*store.DB), entered: entered} })
		for _, token := range []string{e.token, "onr_guess_guess"} {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v1/projects", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			done := make(chan error, 1)
			go func() {
				_, err := http.DefaultClient.Do(req)
				done <- err
			}()
			<-entered
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("request err = %v; want canceled", err)
			}
		}
		var metrics string
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(metrics, `status="499"} 2`) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // the server notices the client left on its own
			metrics = e.metrics(t)
		}
		if !strings.Contains(metrics, `onramp_http_request_duration_seconds_count{route="GET /api/v1/projects",status="499"} 2`) {
			t.Errorf("metrics lack 2 requests counted 499:\n%s", grepLines(metrics, "onramp_http_request_duration_seconds_count"))
		}
		if strings.Contains(metrics, `status="500"`) {
			t.Errorf("metrics count a 500:\n%s", grepLines(metrics, "onramp_http_request_duration_seconds_count"))
		}
		if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") {
			t.Errorf("a client that left was logged as an error:\n%s", logs)
		}
	})
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
