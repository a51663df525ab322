package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp/store"
)

// TestShutdownEndsStreams: the server's Shutdown tells each open event
// stream to reconnect (the SSE retry field), ends it, and so returns at
// once rather than when its context gives up.
func TestShutdownEndsStreams(t *testing.T) {
	e := newEnv(t, store.SQLite)
	if code, body := e.do(t, "POST", "/api/v1/projects", "application/json", validBody); code != 202 {
		t.Fatalf("create: %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", e.url+"/api/v1/projects/shop/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream = %d", resp.StatusCode)
	}
	body := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(resp.Body)
		body <- string(b)
	}()
	time.Sleep(100 * time.Millisecond) // the stream follows the project
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.http.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v; want the stream ended, and nil", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Shutdown took %s; want the stream ended at once", took)
	}
	select {
	case b := <-body:
		if !strings.HasSuffix(b, "retry: 1000\n\n") {
			t.Errorf("the stream ended with %q; want retry: 1000, a reconnect hint", b[max(0, len(b)-100):])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
	}
}
