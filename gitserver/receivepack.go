package gitserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// serveReceivePack answers a POST to git-receive-pack. It stores the pushed pack
// without the lock (objects are immutable), then applies each reference
// update under the repository lock, only if the reference still has the
// value the client based its push on. go-git's receive-pack session
// overwrites references unconditionally and checks no objects, so this is
// done here with go-git's decoder, pack writer and status report.
func (s *Server) serveReceivePack(ctx context.Context, w io.Writer, body io.Reader, req gitRequest, sto *filesystem.Storage) error {
	br := bufio.NewReader(body)
	if isProbe(br) {
		return nil
	}
	upd := packp.NewReferenceUpdateRequest()
	if err := upd.Decode(br); err != nil {
		return badRequest("read push request: %v", err)
	}
	rs := &packp.ReportStatus{UnpackStatus: "ok"}
	if err := storePack(sto, upd, br); err != nil {
		s.logger().Warn("store pushed pack", "project", req.project, "as", req.as(), "err", err)
		rs.UnpackStatus = "cannot store the pack"
		for _, cmd := range upd.Commands {
			rs.CommandStatuses = append(rs.CommandStatuses, &packp.CommandStatus{ReferenceName: cmd.Name, Status: "unpacker error"})
		}
	} else if rs.CommandStatuses, err = s.updateRefs(ctx, req, sto, upd.Commands); err != nil {
		return err
	} else if err := durable(s.Root); err != nil {
		return err // the client is told the push failed, not that it is stored
	} else if s.OnPush != nil && movedHead(sto, rs.CommandStatuses) {
		s.OnPush(ctx, req.project)
	}
	if !upd.Capabilities.Supports(capability.ReportStatus) {
		return nil
	}
	return rs.Encode(w)
}

// storePack writes the pack that follows the commands. A push that only
// deletes references carries none.
func storePack(sto storer.Storer, upd *packp.ReferenceUpdateRequest, pack io.Reader) error {
	for _, cmd := range upd.Commands {
		if cmd.New != plumbing.ZeroHash {
			err := packfile.UpdateObjectStorage(sto, pack)
			if errors.Is(err, packfile.ErrEmptyPackfile) {
				return nil
			}
			return err
		}
	}
	return nil
}

// updateRefs applies the commands under the repository lock and returns
// one status per command: "ok" or why it was refused.
func (s *Server) updateRefs(ctx context.Context, req gitRequest, sto *filesystem.Storage, cmds []*packp.Command) ([]*packp.CommandStatus, error) {
	unlock, err := lockRepo(ctx, s.Root, req.project)
	if err != nil {
		return nil, err
	}
	defer unlock()
	tips, head, err := refTips(sto)
	if err != nil {
		return nil, fmt.Errorf("read references of %s: %w", req.project, err)
	}
	statuses := make([]*packp.CommandStatus, 0, len(cmds))
	for _, cmd := range cmds {
		status := "ok"
		if err := updateRef(sto, cmd, head, tips); err != nil {
			status = err.Error()
		}
		s.logger().Info("git push", "project", req.project, "as", req.as(),
			"ref", cmd.Name, "old", cmd.Old, "new", cmd.New, "status", status)
		statuses = append(statuses, &packp.CommandStatus{ReferenceName: cmd.Name, Status: status})
	}
	if slices.ContainsFunc(statuses, func(st *packp.CommandStatus) bool { return st.Status == "ok" }) {
		if err := repack(s.Root, req.project, sto); err != nil { // the push is stored; the next one repacks
			s.logger().Warn("repack", "project", req.project, "err", err)
		}
	}
	return statuses, nil
}

// movedHead reports whether an accepted update moved the branch HEAD
// points at.
func movedHead(sto storer.Storer, statuses []*packp.CommandStatus) bool {
	ref, err := sto.Reference(plumbing.HEAD)
	if err != nil || ref.Type() != plumbing.SymbolicReference {
		return false
	}
	for _, st := range statuses {
		if st.ReferenceName == ref.Target() && st.Status == "ok" {
			return true
		}
	}
	return false
}

// refTips returns the hashes of all references, which the client had
// before its push, and the branch HEAD points at.
func refTips(sto storer.Storer) ([]plumbing.Hash, plumbing.ReferenceName, error) {
	var head plumbing.ReferenceName
	if ref, err := sto.Reference(plumbing.HEAD); err == nil && ref.Type() == plumbing.SymbolicReference {
		head = ref.Target()
	}
	iter, err := sto.IterReferences()
	if err != nil {
		return nil, "", err
	}
	var tips []plumbing.Hash
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference {
			tips = append(tips, ref.Hash())
		}
		return nil
	})
	return tips, head, err
}

// updateRef applies one command. Its error is the reason git shows the
// user next to the rejected reference.
func updateRef(sto storer.Storer, cmd *packp.Command, head plumbing.ReferenceName, tips []plumbing.Hash) error {
	if !strings.HasPrefix(cmd.Name.String(), "refs/") || cmd.Name.Validate() != nil {
		return fmt.Errorf("invalid reference name")
	}
	cur, err := sto.Reference(cmd.Name)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		cur = nil
	} else if err != nil {
		return fmt.Errorf("cannot read reference")
	}
	if curHash := refHash(cur); curHash != cmd.Old {
		return fmt.Errorf("stale info: the reference is at %s, fetch first", curHash)
	}
	if cmd.New == plumbing.ZeroHash {
		if cmd.Name == head {
			return fmt.Errorf("deletion of the current branch prohibited")
		}
		return sto.RemoveReference(cmd.Name)
	}
	if err := checkObjects(sto, cmd, tips); err != nil {
		return err
	}
	if err := sto.CheckAndSetReference(plumbing.NewHashReference(cmd.Name, cmd.New), cur); err != nil {
		return fmt.Errorf("failed to update reference")
	}
	return nil
}

func refHash(ref *plumbing.Reference) plumbing.Hash {
	if ref == nil {
		return plumbing.ZeroHash
	}
	return ref.Hash()
}

// checkObjects refuses a branch that would not point at a commit and an
// update whose objects did not all arrive, as git's connectivity check does,
// so that a broken push never becomes what Flux clones.
func checkObjects(sto storer.Storer, cmd *packp.Command, tips []plumbing.Hash) error {
	obj, err := sto.EncodedObject(plumbing.AnyObject, cmd.New)
	if err != nil {
		return fmt.Errorf("missing necessary objects")
	}
	if cmd.Name.IsBranch() && obj.Type() != plumbing.CommitObject {
		return fmt.Errorf("a branch must point at a commit, not a %s", obj.Type())
	}
	if _, err := revlist.Objects(sto, []plumbing.Hash{cmd.New}, tips); err != nil {
		return fmt.Errorf("missing necessary objects")
	}
	return nil
}
