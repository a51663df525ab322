package testutil

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"time"
)

// Event is one Server-Sent Event read from a stream, and when it was read.
type Event struct {
	ID   int64
	Type string
	Data string
	At   time.Time
}

// ReadEvents parses Server-Sent Events from body onto a channel, stamping
// each with the time it was read, until the body ends or ctx does. It
// closes body and then the channel.
func ReadEvents(ctx context.Context, body io.ReadCloser) <-chan Event {
	ch := make(chan Event, 1024)
	go func() {
		defer close(ch)
		defer body.Close()
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 8<<20)
		var e Event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" && e.Type != "":
				e.At = time.Now()
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
				e = Event{}
			case strings.HasPrefix(line, "id: "):
				e.ID, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				e.Type = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.Data = line[6:]
			}
		}
	}()
	return ch
}
