package gitserver

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// storerLoader hands go-git's transport server the repository the request
// already opened, whatever the endpoint.
type storerLoader struct{ sto storer.Storer }

func (l storerLoader) Load(*transport.Endpoint) (storer.Storer, error) { return l.sto, nil }

// advertise answers GET info/refs: the service announcement, then the
// references and capabilities, read under the repository lock so that no
// reference is read while a writer rewrites it.
func (s *Server) advertise(w http.ResponseWriter, r *http.Request, req gitRequest, sto storer.Storer) error {
	unlock, err := lockRepo(r.Context(), s.Root, req.project)
	if err != nil {
		return err
	}
	ar, err := advertisedRefs(r.Context(), sto, req.service)
	unlock()
	if err != nil {
		return fmt.Errorf("advertise %s: %w", req.project, err)
	}
	ar.Prefix = [][]byte{[]byte("# service=" + req.service), pktline.Flush}
	w.Header().Set("Content-Type", "application/x-"+req.service+"-advertisement")
	return ar.Encode(w)
}

// advertisedRefs lists the repository's references with go-git's transport
// server and sets the capabilities this package implements on top of it.
func advertisedRefs(ctx context.Context, sto storer.Storer, service string) (*packp.AdvRefs, error) {
	srv := server.NewServer(storerLoader{sto})
	if service == receivePack {
		sess, err := srv.NewReceivePackSession(&transport.Endpoint{}, nil)
		if err != nil {
			return nil, err
		}
		ar, err := sess.AdvertisedReferencesContext(ctx)
		if err != nil {
			return nil, err
		}
		// Pushes update branches and tags, never HEAD.
		ar.Head = nil
		ar.Capabilities.Delete(capability.SymRef)
		return ar, setCaps(ar.Capabilities, noThin)
	}
	sess, err := srv.NewUploadPackSession(&transport.Endpoint{}, nil)
	if err != nil {
		return nil, err
	}
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return nil, err
	}
	return ar, setCaps(ar.Capabilities, capability.MultiACKDetailed, capability.Sideband64k, capability.Shallow)
}

// noThin makes the git CLI push self-contained packs: go-git stores a pushed
// pack as it comes and cannot complete a thin one.
const noThin capability.Capability = "no-thin"

// setCaps adds the capabilities this package implements beyond go-git's.
func setCaps(l *capability.List, caps ...capability.Capability) error {
	for _, c := range caps {
		if err := l.Set(c); err != nil {
			return fmt.Errorf("set capability %s: %w", c, err)
		}
	}
	return nil
}
