package gitserver

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// packWindow is how many objects the pack encoder compares when it looks
// for deltas, go-git's own choice.
const packWindow = 10

// fetchRequest is one stateless round of fetch negotiation: what the client
// wants, what it has, and how the round ends.
type fetchRequest struct {
	*packp.UploadRequest
	haves []plumbing.Hash
	end   roundEnd
}

// roundEnd is how a round of haves ends, which decides the answer.
type roundEnd int

const (
	// endOfRequest: the request stops after the wants, as the git CLI's
	// first round of a shallow fetch does; only the shallow list answers.
	endOfRequest roundEnd = iota
	// endFlush: the client asks for acknowledgements and will send more.
	endFlush
	// endDone: the client is done negotiating and wants the pack.
	endDone
)

// fetchPlan is what the server answers to a fetchRequest.
type fetchPlan struct {
	common  []plumbing.Hash // haves the repository has too
	objects []plumbing.Hash // objects to send once the client is done
	shallow *shallowUpdate  // only for a depth-limited fetch
}

// serveUploadPack answers a POST to git-upload-pack. go-git's own
// upload-pack session ignores the client's haves and cannot limit depth,
// which Flux asks for, so the negotiation is done here and go-git encodes
// the pack.
func serveUploadPack(w io.Writer, body io.Reader, sto storer.Storer) error {
	br := bufio.NewReader(body)
	if isProbe(br) {
		return nil
	}
	req, err := readFetchRequest(br)
	if err != nil {
		return badRequest("read fetch request: %v", err)
	}
	plan, err := planFetch(sto, req)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if err := writeNegotiation(bw, req, plan); err != nil {
		return err
	}
	if req.end == endDone {
		if err := sendPack(bw, sto, plan.objects, req.Capabilities); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// isProbe reports whether the body is just a flush-pkt: the git CLI sends
// one before a large request, to check credentials before it streams.
func isProbe(br *bufio.Reader) bool {
	b, err := br.Peek(5)
	return err == io.EOF && string(b) == "0000"
}

// readFetchRequest decodes wants, capabilities and depth with go-git, then
// the haves and "done" that go-git's decoder leaves unread.
func readFetchRequest(r io.Reader) (*fetchRequest, error) {
	ur := packp.NewUploadRequest()
	if err := ur.Decode(r); err != nil {
		return nil, err
	}
	req := &fetchRequest{UploadRequest: ur}
	sc := pktline.NewScanner(r)
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\n"))
		switch {
		case len(line) == 0:
			req.end = endFlush
		case string(line) == "done":
			req.end = endDone
			return req, nil
		case bytes.HasPrefix(line, []byte("have ")):
			h, err := parseHash(line[len("have "):])
			if err != nil {
				return nil, err
			}
			req.haves = append(req.haves, h)
		default:
			return nil, fmt.Errorf("unexpected line %q", line)
		}
	}
	return req, sc.Err()
}

// hasObject reports whether sto has h, looking again at the packs for a
// moment before it says no: a fetch that races a push's pack or a repack
// (TestClonesDuringRepacks, rarely, under load) found an advertised object
// missing from the packs it had listed a moment before.
func hasObject(sto storer.Storer, h plumbing.Hash) error {
	err := sto.HasEncodedObject(h)
	r, ok := sto.(interface{ Reindex() })
	for i := 0; err != nil && ok && i < 20; i++ {
		time.Sleep(25 * time.Millisecond)
		r.Reindex()
		err = sto.HasEncodedObject(h)
	}
	return err
}

func parseHash(b []byte) (plumbing.Hash, error) {
	var h plumbing.Hash
	if len(b) != 2*len(h) {
		return h, fmt.Errorf("malformed object name %q", b)
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return h, fmt.Errorf("malformed object name %q", b)
	}
	return h, nil
}

// planFetch works out the common objects and, when the client is done,
// the objects to send.
func planFetch(sto storer.Storer, req *fetchRequest) (*fetchPlan, error) {
	for _, h := range req.Wants {
		if err := hasObject(sto, h); errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, badRequest("want %s: not our ref", h)
		} else if err != nil {
			return nil, fmt.Errorf("find %s: %w", h, err)
		}
	}
	plan := &fetchPlan{}
	for _, h := range req.haves {
		if sto.HasEncodedObject(h) == nil {
			plan.common = append(plan.common, h)
		}
	}
	if d, ok := req.Depth.(packp.DepthCommits); ok && d > 0 {
		var err error
		plan.shallow, err = planShallow(sto, req.Wants, req.Shallows, int(d))
		if err != nil {
			return nil, err
		}
		plan.objects = plan.shallow.objects
		return plan, nil
	}
	if req.Depth != nil && !req.Depth.IsZero() {
		return nil, badRequest("only deepen by a number of commits is supported")
	}
	if req.end != endDone {
		return plan, nil
	}
	var err error
	plan.objects, err = revlist.Objects(sto, req.Wants, plan.common)
	if err != nil {
		return nil, fmt.Errorf("list objects to send: %w", err)
	}
	return plan, nil
}

// writeNegotiation writes the shallow list of a depth-limited fetch, then
// acknowledges the haves as git's upload-pack does: with multi_ack_detailed
// every common object, then NAK at a flush or the last common object at
// done; without it, the first common object, or NAK when there is none.
func writeNegotiation(w io.Writer, req *fetchRequest, plan *fetchPlan) error {
	if plan.shallow != nil {
		if err := plan.shallow.update.Encode(w); err != nil {
			return err
		}
	}
	e := pktline.NewEncoder(w)
	caps := req.Capabilities
	multiACK := caps.Supports(capability.MultiACKDetailed) || caps.Supports(capability.MultiACK)
	for i, h := range plan.common {
		var err error
		switch {
		case caps.Supports(capability.MultiACKDetailed):
			err = e.Encodef("ACK %s common\n", h)
		case multiACK:
			err = e.Encodef("ACK %s continue\n", h)
		case i == 0:
			err = e.Encodef("ACK %s\n", h)
		}
		if err != nil {
			return err
		}
	}
	switch {
	case req.end == endOfRequest:
		return nil
	case len(plan.common) == 0:
		return e.Encodef("NAK\n")
	case req.end == endFlush && multiACK:
		return e.Encodef("NAK\n")
	case req.end == endDone && multiACK:
		return e.Encodef("ACK %s\n", plan.common[len(plan.common)-1])
	}
	return nil
}

// sendPack encodes objects as a pack, multiplexed on side-band channel 1
// when the client asked for it, so that an error reaches it on channel 3.
func sendPack(w io.Writer, sto storer.EncodedObjectStorer, objects []plumbing.Hash, caps *capability.List) error {
	useRefDeltas := !caps.Supports(capability.OFSDelta)
	band, size := sideband.Sideband64k, sideband.MaxPackedSize64k
	switch {
	case caps.Supports(capability.Sideband64k):
	case caps.Supports(capability.Sideband):
		band, size = sideband.Sideband, sideband.MaxPackedSize
	default:
		_, err := packfile.NewEncoder(w, sto, useRefDeltas).Encode(objects, packWindow)
		return err
	}
	mux := sideband.NewMuxer(band, w)
	// Batch the encoder's many small writes into full side-band packets
	// (a packet carries the channel byte and size-1 bytes of pack).
	bw := bufio.NewWriterSize(mux, size-1)
	_, err := packfile.NewEncoder(bw, sto, useRefDeltas).Encode(objects, packWindow)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		mux.WriteChannel(sideband.ErrorMessage, []byte("onramp: cannot send the pack, see the server log\n"))
		return fmt.Errorf("send pack: %w", err)
	}
	return pktline.NewEncoder(w).Flush()
}
