package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
)

// startReplicas runs n `onramp serve` processes on one PostgreSQL database
// and one data dir, as replicas sharing a volume do. Flux clones through a
// round-robin proxy in front of them, as it would through their Service:
// a repository is served by every replica, whichever created it.
func startReplicas(ctx context.Context, bin, dir, databaseURL, kubeconfig string, n int) ([]*server, func(), error) {
	lb, err := newBalancer()
	if err != nil {
		return nil, nil, err
	}
	var srvs []*server
	stop := func() {
		lb.close() // first: Flux's clones end at the proxy, not in its error log
		for _, s := range srvs {
			s.stop()
		}
	}
	for i := range n {
		fmt.Printf("starting replica %d of %d…\n", i+1, n)
		s, err := startServer(ctx, bin, dir, databaseURL, kubeconfig, "warn", "ONRAMP_GIT_URL="+lb.url+"/git")
		if err != nil {
			stop()
			return nil, nil, err
		}
		srvs = append(srvs, s)
		if err := lb.add(s.url); err != nil {
			stop()
			return nil, nil, err
		}
	}
	return srvs, stop, nil
}

// balancer spreads requests over the replicas in turn.
type balancer struct {
	url  string
	srv  *http.Server
	next atomic.Uint64

	mu      sync.Mutex
	proxies []*httputil.ReverseProxy
}

func newBalancer() (*balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &balancer{url: "http://" + ln.Addr().String()}
	b.srv = &http.Server{Handler: b}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

func (b *balancer) add(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.proxies = append(b.proxies, httputil.NewSingleHostReverseProxy(u))
	return nil
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	proxies := b.proxies
	b.mu.Unlock()
	if len(proxies) == 0 {
		http.Error(w, "no replica started yet", http.StatusServiceUnavailable)
		return
	}
	proxies[b.next.Add(1)%uint64(len(proxies))].ServeHTTP(w, r)
}

func (b *balancer) close() { _ = b.srv.Close() }
