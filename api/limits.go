package api

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits bound what one client can hold of the server, so that slow, idle
// or greedy clients cannot exhaust it. Normal use meets none of them. A
// zero field takes its DefaultLimits value.
type Limits struct {
	// ReadTimeout bounds reading a request, body included; WriteTimeout
	// writing its answer. Event streams and Git transfers extend them as
	// they go.
	ReadTimeout, WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends nothing.
	IdleTimeout time.Duration
	// MaxConnections caps the server's open connections, and
	// MaxConnectionsPerClient one client address's: each holds at most
	// one request at a time, so this caps a client's requests too.
	MaxConnections, MaxConnectionsPerClient int
	// MaxStreamsPerUser caps one user's open event streams.
	MaxStreamsPerUser int
	// AuthFailuresPerMinute is how many refused credentials a client
	// address may send per minute (API tokens, sign-in, Git) before its
	// checks are refused for a while, valid or not.
	AuthFailuresPerMinute int
}

// DefaultLimits are the limits of a server that is given none.
func DefaultLimits() Limits {
	return Limits{
		ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		MaxConnections: 4096, MaxConnectionsPerClient: 256,
		MaxStreamsPerUser: 100, AuthFailuresPerMinute: 20,
	}
}

// orDefaults fills l's zero fields from DefaultLimits.
func (l Limits) orDefaults() Limits {
	d := DefaultLimits()
	return Limits{
		ReadTimeout:             or(l.ReadTimeout, d.ReadTimeout),
		WriteTimeout:            or(l.WriteTimeout, d.WriteTimeout),
		IdleTimeout:             or(l.IdleTimeout, d.IdleTimeout),
		MaxConnections:          or(l.MaxConnections, d.MaxConnections),
		MaxConnectionsPerClient: or(l.MaxConnectionsPerClient, d.MaxConnectionsPerClient),
		MaxStreamsPerUser:       or(l.MaxStreamsPerUser, d.MaxStreamsPerUser),
		AuthFailuresPerMinute:   or(l.AuthFailuresPerMinute, d.AuthFailuresPerMinute),
	}
}

// or returns v, or def when v is not positive.
func or[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// HTTPServer returns the http.Server that serves Handler with the
// timeouts of s.Limits. Serve it on s.LimitListener's listener.
func (s *Server) HTTPServer() *http.Server {
	l := s.Limits.orDefaults()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: min(10*time.Second, l.ReadTimeout),
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	// Shutdown waits for requests to end; an event stream ends only when
	// told to.
	srv.RegisterOnShutdown(s.CloseStreams)
	return srv
}

// clientKey is the context key of a request's client address.
type clientKey struct{}

// withClient puts the request's client address in its context, for the
// checks of credentials that Auth, the pages and Git make.
func withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), clientKey{}, clientHost(r.RemoteAddr))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// clientFromContext returns the client address withClient recorded.
func clientFromContext(ctx context.Context) (string, bool) {
	c, ok := ctx.Value(clientKey{}).(string)
	return c, ok
}

// clientHost returns the host of a remote address: a client's ports do
// not make it another client.
func clientHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// counter counts what each key holds, such as a user's event streams.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

// acquire counts one more for key unless key already holds max; release
// gives it back.
func (c *counter) acquire(key string, max int) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	if c.n[key] >= max {
		return nil, false
	}
	c.n[key]++
	var once sync.Once
	return func() { once.Do(func() { c.release(key) }) }, true
}

func (c *counter) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key]--; c.n[key] <= 0 {
		delete(c.n, key)
	}
}
