package api_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/gitserver"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/store"
)

// clientAt returns an HTTP client whose connections come from the
// loopback address ip, so that tests can be several clients, and that
// keeps its connections open between requests.
func clientAt(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 100}}
}

// get sends a GET with token, if any, through c and returns the response
// with its body read.
func get(t *testing.T, c *http.Client, u, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, c, req)
}

// wantTooMany checks that resp is a 429 with a Retry-After of at least
// one second.
func wantTooMany(t *testing.T, what string, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("%s = %d %s; want 429", what, resp.StatusCode, body)
		return
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" || strings.HasPrefix(ra, "-") {
		t.Errorf("%s: Retry-After = %q; want whole seconds, at least 1", what, ra)
	}
}

// TestConnectionLimits checks the caps on connections, in all and per
// client address, with clients at several loopback addresses.
func TestConnectionLimits(t *testing.T) {
	e := newEnv(t, store.SQLite, func(s *api.Server) { s.Limits = api.Limits{MaxConnections: 4, MaxConnectionsPerClient: 2} })
	a1, a2, a3 := clientAt("127.0.0.1"), clientAt("127.0.0.1"), clientAt("127.0.0.1")
	b1, b2, c1 := clientAt("127.0.0.2"), clientAt("127.0.0.2"), clientAt("127.0.0.3")
	for _, c := range []*http.Client{a1, a2} {
		if resp, body := get(t, c, e.url+"/healthz", ""); resp.StatusCode != 200 {
			t.Fatalf("first connections of 127.0.0.1: %d %s", resp.StatusCode, body)
		}
	}
	resp, body := get(t, a3, e.url+"/healthz", "")
	wantTooMany(t, "third connection of 127.0.0.1", resp, body)
	for _, c := range []*http.Client{b1, b2} {
		if resp, body := get(t, c, e.url+"/healthz", ""); resp.StatusCode != 200 {
			t.Fatalf("connections of 127.0.0.2, another client: %d %s", resp.StatusCode, body)
		}
	}
	resp, body = get(t, c1, e.url+"/api/v1/projects", e.token)
	wantTooMany(t, "fifth connection to the server", resp, body)
	if errorBody(t, body).Error.Code != "too_many" {
		t.Errorf("fifth connection: %s; want code too_many", body)
	}
	a1.CloseIdleConnections() // gives 127.0.0.1 and the server a place back
	testutil.Until(t, 20*time.Second, "a place given back", func() bool {
		resp, _ := get(t, a3, e.url+"/healthz", "")
		return resp.StatusCode == 200
	})
}

// TestStreamLimit checks the cap on one user's event streams: other users
// are not affected, and a closed stream gives its place back.
func TestStreamLimit(t *testing.T) {
	e := newEnv(t, store.SQLite, func(s *api.Server) { s.Limits = api.Limits{MaxStreamsPerUser: 2} })
	if code, body := e.do(t, "POST", "/api/v1/projects", "application/json", validBody); code != 202 {
		t.Fatalf("create: %d %s", code, body)
	}
	bob, err := e.db.CreateToken(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	events := e.url + "/api/v1/projects/shop/events"
	first := openStream(t, events, e.token)
	openStream(t, events, e.token)
	resp, body := get(t, http.DefaultClient, events, e.token)
	wantTooMany(t, "third stream of a user", resp, body)
	if resp, body := get(t, http.DefaultClient, e.url+"/api/v1/projects/shop/events", bob); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another user's stream = %d %s; want 404, not the first user's limit", resp.StatusCode, body)
	}
	first()
	testutil.Until(t, 20*time.Second, "a closed stream's place given back", func() bool {
		resp, err := streamStatus(events, e.token)
		return err == nil && resp == 200
	})
}

// openStream opens an event stream, waits for its snapshot and returns a
// function that closes it (called at the test's end too).
func openStream(t *testing.T, u, token string) (close func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream %s = %d %s", u, resp.StatusCode, b)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "id:") {
		t.Fatalf("stream's first line %q, %v; want its snapshot's id", line, err)
	}
	var once sync.Once
	close = func() { once.Do(func() { cancel(); resp.Body.Close() }) }
	t.Cleanup(close)
	return close
}

// streamStatus opens a stream and closes it, returning its status.
func streamStatus(u, token string) (int, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// TestAuthFailureLimit checks that refused credentials from one address,
// in any position (API token, sign-in form, Git basic auth), count
// together, and that past the limit every check from that address is
// refused with 429 while other addresses are not affected.
func TestAuthFailureLimit(t *testing.T) {
	// 8 a minute: one more every 7.5 s, far longer than the test's steps.
	e := newEnv(t, store.SQLite, func(s *api.Server) { s.Limits = api.Limits{AuthFailuresPerMinute: 8} })
	c := clientAt("127.0.0.1")
	noRedirect := &http.Client{Transport: c.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	git := e.url + "/git/shop.git/info/refs?service=git-upload-pack"
	attempts := []struct {
		name    string
		refused int // the answer to a wrong token
		send    func(token string) (*http.Response, string)
	}{
		{"API token", 401, func(tok string) (*http.Response, string) { return get(t, c, e.url+"/api/v1/projects", tok) }},
		{"sign-in", 401, func(tok string) (*http.Response, string) {
			return post(t, c, e.url+"/signin", url.Values{"token": {tok}})
		}},
		{"Git", 401, func(tok string) (*http.Response, string) { return gitAs(t, c, git, "x", tok) }},
		{"page's session cookie", http.StatusSeeOther, func(tok string) (*http.Response, string) {
			req, _ := http.NewRequest("GET", e.url+"/projects/shop", nil)
			req.AddCookie(&http.Cookie{Name: "onramp_session", Value: tok})
			return do(t, noRedirect, req)
		}},
	}
	for _, a := range attempts {
		for i := range 2 {
			if resp, body := a.send(fmt.Sprintf("onr_guess%d_guess", i)); resp.StatusCode != a.refused {
				t.Fatalf("wrong %s = %d %.100s; want %d", a.name, resp.StatusCode, body, a.refused)
			}
		}
	}
	for _, a := range attempts {
		resp, body := a.send(e.token)
		wantTooMany(t, a.name+" with a valid token after 8 refusals", resp, body)
	}
	if resp, body := gitAs(t, c, git, "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Git without credentials = %d %s; want 401, the challenge git answers", resp.StatusCode, body)
	}
	if resp, body := get(t, clientAt("127.0.0.2"), e.url+"/api/v1/projects", e.token); resp.StatusCode != 200 {
		t.Errorf("valid token from another address = %d %s; want 200", resp.StatusCode, body)
	}
}

// do sends req through c and returns the response with its body read.
func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestFluxFailuresStayWithTheirProject checks that Flux's refused reads
// are counted per project: all projects' Flux comes from one address, and
// one project with a broken credential must not lock the others, or the
// users at that address, out.
func TestFluxFailuresStayWithTheirProject(t *testing.T) {
	e := newEnv(t, store.SQLite, func(s *api.Server) { s.Limits = api.Limits{AuthFailuresPerMinute: 3} })
	c := clientAt("127.0.0.1")
	refs := func(project string) string {
		return e.url + "/git/" + project + ".git/info/refs?service=git-upload-pack"
	}
	for range 3 {
		if resp, body := gitAs(t, c, refs("broken"), "flux", "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("Flux with a wrong credential = %d %s; want 401", resp.StatusCode, body)
		}
	}
	resp, body := gitAs(t, c, refs("broken"), "flux", "wrong")
	wantTooMany(t, "Flux's fourth refused read of one project", resp, body)
	if resp, body := gitAs(t, c, refs("other"), "flux", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Flux's read of another project = %d %s; want 401, not that project's limit", resp.StatusCode, body)
	}
	if resp, body := get(t, c, e.url+"/api/v1/projects", e.token); resp.StatusCode != http.StatusOK {
		t.Errorf("a user at the same address = %d %s; want 200", resp.StatusCode, body)
	}
}

// post sends a form through c.
func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, c, req)
}

// gitAs sends a Git request through c with basic credentials, if any.
func gitAs(t *testing.T, c *http.Client, u, user, password string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	return do(t, c, req)
}

// TestSlowClientsCutOff checks that a client that sends its headers or
// its body too slowly loses its connection at the read timeout, signed in
// or not, and one that keeps it idle at the idle timeout.
func TestSlowClientsCutOff(t *testing.T) {
	e := newEnv(t, store.SQLite, func(s *api.Server) {
		s.Limits = api.Limits{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}
	})
	host := strings.TrimPrefix(e.url, "http://")
	tests := []struct{ name, start string }{
		{"slow headers", "GET /api/v1/projects HTTP/1.1\r\nHost: x\r\n"},
		{"slow body, anonymous", "POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"},
		{"slow body, signed in", "POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + e.token + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"},
		{"idle after a request", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tt.start); err != nil {
				t.Fatal(err)
			}
			// Far longer than the read timeout: only a server that never
			// cuts the client off meets it.
			conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			_, err = io.Copy(io.Discard, conn)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the server kept a %s open for 15 s", tt.name)
			}
		})
	}
}

// TestStreamsOutliveTimeouts checks that an event stream is not cut off by
// the read and write timeouts that bound other requests.
func TestStreamsOutliveTimeouts(t *testing.T) {
	e := newEnv(t, store.SQLite, func(s *api.Server) {
		s.Limits = api.Limits{ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}
		s.Heartbeat = 50 * time.Millisecond
	})
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
	r := bufio.NewReader(resp.Body)
	start := time.Now()
	for time.Since(start) < 1500*time.Millisecond { // several times both timeouts
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("stream ended after %s: %v; want it open past the timeouts", time.Since(start).Round(time.Millisecond), err)
		}
	}
}

// TestGitTransfersOutliveTimeouts checks that an authorized Git request
// may send its body for longer than the read timeout, as a large push over
// a slow link does.
func TestGitTransfersOutliveTimeouts(t *testing.T) {
	e := newEnv(t, store.SQLite, func(s *api.Server) { s.Limits = api.Limits{ReadTimeout: 200 * time.Millisecond} })
	if code, body := e.do(t, "POST", "/api/v1/projects", "application/json", validBody); code != 202 {
		t.Fatalf("create: %d %s", code, body)
	}
	if _, err := (&gitserver.Provider{Root: e.gitRoot}).CreateRepository(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	auth := base64.StdEncoding.EncodeToString([]byte("x:" + e.token))
	// A push's probe, "0000", in two halves with three read timeouts between.
	fmt.Fprintf(conn, "POST /git/shop.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n"+
		"Content-Type: application/x-git-receive-pack-request\r\nContent-Length: 4\r\n\r\n00", auth)
	time.Sleep(600 * time.Millisecond)
	io.WriteString(conn, "00")
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("slow push: %v; want an answer", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("slow push = %d; want 200", resp.StatusCode)
	}
}

// TestNormalUseMeetsNoLimit checks that, with the default limits, a burst
// of API calls from one client, a few streams and a mistyped token meet
// no limit.
func TestNormalUseMeetsNoLimit(t *testing.T) {
	e := newEnv(t, store.SQLite)
	resp, _ := get(t, http.DefaultClient, e.url+"/api/v1/projects", "onr_typo_typo")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("mistyped token = %d; want 401", resp.StatusCode)
	}
	if code, body := e.do(t, "POST", "/api/v1/projects", "application/json", validBody); code != 202 {
		t.Fatalf("create: %d %s", code, body)
	}
	for range 5 {
		openStream(t, e.url+"/api/v1/projects/shop/events", e.token)
	}
	var wg sync.WaitGroup
	codes := make(chan int, 200)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := http.DefaultClient
			if i%2 == 0 {
				c = clientAt("127.0.0.1") // a connection of its own
			}
			body := strings.Replace(validBody, "shop", fmt.Sprintf("burst-%d", i), 1)
			req, _ := http.NewRequest("POST", e.url+"/api/v1/projects", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+e.token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
			req, _ = http.NewRequest("GET", e.url+fmt.Sprintf("/api/v1/projects/burst-%d", i), nil)
			req.Header.Set("Authorization", "Bearer "+e.token)
			resp, err = c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusAccepted && code != http.StatusOK {
			t.Errorf("a normal call = %d; want 202 or 200", code)
		}
	}
}
