package api

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/onramp/onramp"
)

// maxRefusing bounds the connections over a limit that are kept open to
// be answered 429: beyond it they are closed at once, so that a flood of
// connections costs the server no more than its limits and this.
const maxRefusing = 64

// LimitListener caps the connections l accepts at s.Limits: in all and
// per client address. A connection over a cap is answered 429 with
// Retry-After at its first request and closed (or closed at once when
// many are waiting for that answer). Serve it with s.HTTPServer.
func (s *Server) LimitListener(l net.Listener) net.Listener {
	lim := s.Limits.orDefaults()
	return &limitListener{Listener: l, max: lim.MaxConnections, perClient: lim.MaxConnectionsPerClient}
}

type limitListener struct {
	net.Listener
	max, perClient int

	clients  counter // open connections by client address
	mu       sync.Mutex
	open     int // admitted connections
	refusing int // connections kept open to be answered 429
}

// Accept returns the next connection, marked when it is over a cap.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := l.admit(c); lc != nil {
			return lc, nil
		}
		c.Close()
	}
}

// admit counts c against the caps and returns it wrapped, or nil when it
// should be closed at once.
func (l *limitListener) admit(c net.Conn) *limitConn {
	host := clientHost(c.RemoteAddr().String())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open < l.max {
		if release, ok := l.clients.acquire(host, l.perClient); ok {
			l.open++
			return &limitConn{Conn: c, release: func() { release(); l.done(&l.open) }}
		}
	}
	if l.refusing >= maxRefusing {
		return nil
	}
	l.refusing++
	return &limitConn{Conn: c, over: true, release: func() { l.done(&l.refusing) }}
}

func (l *limitListener) done(n *int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*n--
}

// limitConn is an accepted connection that gives its place back when
// closed; over says it is past a cap, to be answered 429.
type limitConn struct {
	net.Conn
	over    bool
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// connKey is the context key of a request's connection.
type connKey struct{}

// refuseOverLimit answers 429 on a connection past a cap, and closes it.
func (s *Server) refuseOverLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(*limitConn); ok && c.over {
			w.Header().Set("Connection", "close")
			s.Error(w, r, onramp.TooManyf(time.Second, "the server has too many connections open, or your address has; close some and try again"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
