package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
)

// interruptedListener stands in for River's SQLite listener cut short in
// the middle of a look at its table, which SQLite reports as its own
// "interrupted" error rather than the context's: a race the real listener
// cannot be made to lose on purpose.
type interruptedListener struct {
	riverdriver.Listener
	calls chan struct{}
	next  chan *riverdriver.Notification // what the next look finds
}

func (l *interruptedListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	l.calls <- struct{}{}
	select {
	case n := <-l.next:
		return n, nil
	default:
	}
	<-ctx.Done()
	return nil, errors.New("interrupted (9)")
}

// A wake-up makes the listener look again; a cancelled wait says
// context.Canceled, which River's notifier expects when it cancels the wait
// to change subscriptions or ping (any other error makes it reconnect).
func TestWakeListener(t *testing.T) {
	inner := &interruptedListener{calls: make(chan struct{}, 10), next: make(chan *riverdriver.Notification, 1)}
	var enqueued signal
	l := &wakeListener{inner, &enqueued}
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		n   *riverdriver.Notification
		err error
	}
	results := make(chan result, 1)
	wait := func() {
		go func() {
			n, err := l.WaitForNotification(ctx)
			results <- result{n, err}
		}()
	}
	called := func(what string) {
		t.Helper()
		select {
		case <-inner.calls:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the listener did not look", what)
		}
	}

	wait()
	called("first wait")
	inner.next <- &riverdriver.Notification{Topic: "river_insert", Payload: "{}"}
	enqueued.fire()
	called("after an insert")
	if r := <-results; r.err != nil || r.n == nil || r.n.Topic != "river_insert" {
		t.Fatalf("WaitForNotification after an insert = %v, %v; want the insert notification", r.n, r.err)
	}

	wait()
	called("second wait")
	cancel()
	if r := <-results; !errors.Is(r.err, context.Canceled) {
		t.Errorf("WaitForNotification cancelled = %v; want context.Canceled", r.err)
	}
}
