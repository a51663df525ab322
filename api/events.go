package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/onramp/onramp"
)

// projectEvents streams a project's events as Server-Sent Events: a
// snapshot first (unless the client resumes with Last-Event-ID), then every
// stored event once, in order. Events are read from the database, so any
// onramp process sharing it can serve the stream.
func (s *Server) projectEvents(w http.ResponseWriter, r *http.Request) {
	ctx, name, who := r.Context(), r.PathValue("name"), owner(r)
	release, err := s.holdStream(who)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	defer release()
	after, resumed, err := lastEventID(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !resumed {
		// The newest event ID is read before the project, so that no event
		// is missed; an event already reflected in the snapshot may be sent
		// once more, which is harmless because events carry whole states.
		if after, err = s.Projects.LastProjectEvent(ctx, who, name); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	p, err := s.Projects.FindProject(ctx, who, name)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	// A stream outlives the server's read and write timeouts: it reads
	// nothing more (the client's leaving still ends it), and each write
	// gets the write timeout of its own.
	rc.SetReadDeadline(time.Time{})
	s.extendWrite(rc)
	w.WriteHeader(http.StatusOK)
	if !resumed {
		writeEvent(w, after, onramp.EventSnapshot, p)
	}
	rc.Flush()
	s.follow(ctx, w, rc, who, p, after)
}

// holdStream counts one more event stream of the user, or returns
// ETOOMANY when they hold as many as they may.
func (s *Server) holdStream(user string) (release func(), err error) {
	max := s.Limits.orDefaults().MaxStreamsPerUser
	release, ok := s.streams.acquire(user, max)
	if !ok {
		return nil, onramp.TooManyf(5*time.Second, "you have %d event streams open, the most a user may; close one and try again", max)
	}
	return release, nil
}

// follow sends the project's events after `after` until the client leaves,
// the project is gone, or the stream's credential is no longer valid.
func (s *Server) follow(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, who string, p *onramp.Project, after int64) {
	name := p.Name
	poll, beat := s.Poll, s.Heartbeat
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	if beat <= 0 {
		beat = 15 * time.Second
	}
	recheck := s.Recheck
	if recheck <= 0 {
		recheck = 2 * time.Second
	}
	ticker, heartbeat, rechecks := time.NewTicker(poll), time.NewTicker(beat), time.NewTicker(recheck)
	defer ticker.Stop()
	defer heartbeat.Stop()
	defer rechecks.Stop()
	changed := func() <-chan struct{} { return nil } // a nil channel never fires
	if s.Changed != nil {
		changed = func() <-chan struct{} { return s.Changed(p.ID) }
	}
	wake := changed()
	for {
		read := false
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			fmt.Fprintf(w, "retry: %d\n\n", reconnectAfter.Milliseconds())
			_ = rc.Flush()
			return
		case <-heartbeat.C:
			fmt.Fprint(w, ": heartbeat\n\n")
		case <-rechecks.C:
			if s.refused(ctx, w, rc, name, after) {
				return
			}
		case <-ticker.C:
			read = true
		case <-wake:
			read = true
		}
		s.extendWrite(rc)
		if read {
			// Asked for before reading: a write committed after this
			// point closes it, and the next wait ends at once.
			wake = changed()
			events, err := s.Projects.ProjectEvents(ctx, who, name, after, 500)
			if onramp.ErrorCode(err) == onramp.ENOTFOUND {
				writeEvent(w, after, onramp.EventPhase, map[string]string{"phase": "deleted"})
				rc.Flush()
				return
			}
			if err != nil && ctx.Err() != nil {
				return // the client left during the read
			}
			if err != nil {
				s.Logger.Warn("event stream", "project", name, "error", err)
				continue
			}
			for _, e := range events {
				writeEvent(w, e.ID, e.Type, e.Data)
				after = e.ID
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// refused checks the stream's credential again and, if it is refused (a
// token revoked or expired, a session ended, or the address refused too
// often), ends the stream with an "error" event that says why. A failure
// to check is logged and the stream goes on, as it does when a read of
// events fails.
func (s *Server) refused(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, name string, after int64) bool {
	err := s.checkAgain(ctx)
	switch code := onramp.ErrorCode(err); {
	case err == nil:
		return false
	case code == onramp.EUNAUTHORIZED || code == onramp.ETOOMANY:
		var body ErrorBody
		body.Error.Code, body.Error.Message = code, onramp.ErrorMessage(err)
		writeEvent(w, after, EventError, body)
		_ = rc.Flush()
		return true
	case ctx.Err() != nil:
		return true // the client left during the check
	default:
		s.Logger.Warn("event stream: check credential", "project", name, "error", err)
		return false
	}
}

// reconnectAfter is the reconnection time a stream of a stopping server
// sends before it ends (the `retry:` field): the client comes back with
// Last-Event-ID, to another replica, and misses nothing.
const reconnectAfter = time.Second

// CloseStreams tells every open event stream's client to reconnect, and
// ends the streams; new streams end at once. HTTPServer's server calls it
// on Shutdown.
func (s *Server) CloseStreams() {
	s.closeOnce.Do(func() {
		if s.closing != nil {
			close(s.closing)
		}
	})
}

// EventError is the last event of a stream whose credential was refused
// after it opened; its data is an ErrorBody.
const EventError = "error"

// extendWrite gives the stream's next writes the server's write timeout
// from now.
func (s *Server) extendWrite(rc *http.ResponseController) {
	rc.SetWriteDeadline(time.Now().Add(s.Limits.orDefaults().WriteTimeout))
}

func writeEvent(w http.ResponseWriter, id int64, typ string, data any) {
	body, ok := data.(json.RawMessage)
	if !ok {
		body, _ = json.Marshal(data)
	}
	fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", id, typ, body)
}

// lastEventID reads where a resuming client left off, from the
// Last-Event-ID header or the last_event_id query parameter (browsers'
// EventSource cannot set headers on the first connection).
func lastEventID(r *http.Request) (int64, bool, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	if v == "" {
		return 0, false, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 0 {
		return 0, false, onramp.FieldErrorf("Last-Event-ID", "Last-Event-ID must be an event ID, not %q", v)
	}
	return id, true, nil
}
