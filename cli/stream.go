package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/onramp/onramp"
)

// Event is one Server-Sent Event of a project's stream.
type Event struct {
	ID   int64
	Type string
	Data json.RawMessage
	// More says the next event had already arrived with this one: the
	// server sends what one read of the database found at once, so a view
	// can wait for the rest before drawing and show a transaction's events
	// together.
	More bool
}

// Stream follows a project's events, reconnecting with Last-Event-ID when
// the connection drops, so no event is missed or repeated. It calls fn for
// each event until fn returns done or an error, or ctx ends.
func (c *Client) Stream(ctx context.Context, name string, fn func(Event) (done bool, err error)) error {
	var last int64 = -1
	for attempt := 0; ; attempt++ {
		done, err := c.streamOnce(ctx, name, &last, fn)
		if done || ctx.Err() != nil {
			return err
		}
		if f, ok := err.(final); ok {
			return f.error
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(time.Duration(attempt+1)*200*time.Millisecond, 2*time.Second)):
		}
	}
}

func (c *Client) streamOnce(ctx context.Context, name string, last *int64, fn func(Event) (bool, error)) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.Server, "/")+projectPath(name, "/events"), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "text/event-stream")
	if *last >= 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(*last, 10))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return false, fmt.Errorf("cannot reach onramp at %s: %w", c.Server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, final{decodeError(resp)}
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var ev Event
	for {
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case line == "":
			if ev.Type == "" {
				continue
			}
			if ev.Type == "error" {
				return false, final{streamError(ev.Data)}
			}
			*last = ev.ID
			next, _ := br.Peek(br.Buffered())
			ev.More = bytes.HasPrefix(next, []byte("id: ")) || bytes.HasPrefix(next, []byte("event: "))
			done, err := fn(ev)
			if done || err != nil {
				return true, err
			}
			ev = Event{}
		case strings.HasPrefix(line, "id: "):
			ev.ID, _ = strconv.ParseInt(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			ev.Type = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.Data = json.RawMessage(line[6:])
		}
	}
}

// streamError is the error an "error" event carries: the server ended the
// stream because its credential was refused (a token revoked or expired).
func streamError(data json.RawMessage) error {
	var body struct {
		Error onramp.Error `json:"error"`
	}
	if err := json.Unmarshal(data, &body); err != nil || body.Error.Code == "" {
		return fmt.Errorf("the server ended the event stream: %s", data)
	}
	return &body.Error
}

// final marks an error that reconnecting cannot fix (401, 404).
type final struct{ error }

func (f final) Unwrap() error { return f.error }
