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

// An insert River announced makes the listener look again; one it may not
// have announced makes the listener announce it. A cancelled wait says
// context.Canceled, which River's notifier expects when it cancels the wait
// to change subscriptions or ping (any other error makes it reconnect).
func TestWakeListener(t *testing.T) {
	inner := &interruptedListener{calls: make(chan struct{}, 10), next: make(chan *riverdriver.Notification, 1)}
	var ins inserts
	l := &wakeListener{inner, &ins}
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
	ins.committed(false)
	called("after an insert")
	if r := <-results; r.err != nil || r.n == nil || r.n.Topic != "river_insert" || r.n.Payload != "{}" {
		t.Fatalf("WaitForNotification after an insert = %v, %v; want the insert notification River sent", r.n, r.err)
	}

	// Two inserts in quick succession: River announces the first only.
	if ins.inserting() {
		t.Error("an insert long after the one before counts as unannounced")
	}
	if !ins.inserting() {
		t.Error("an insert right after the one before counts as announced")
	}
	wait()
	called("third wait")
	ins.committed(true)
	if r := <-results; r.err != nil || r.n == nil || *r.n != insertNotification {
		t.Fatalf("WaitForNotification after an unannounced insert = %v, %v; want %v", r.n, r.err, insertNotification)
	}
	// Committed while nobody waited: the next wait announces it at once.
	ins.committed(true)
	wait()
	if r := <-results; r.err != nil || r.n == nil || *r.n != insertNotification {
		t.Fatalf("WaitForNotification after an unannounced insert committed earlier = %v, %v; want %v", r.n, r.err, insertNotification)
	}

	wait()
	called("second wait")
	cancel()
	if r := <-results; !errors.Is(r.err, context.Canceled) {
		t.Errorf("WaitForNotification cancelled = %v; want context.Canceled", r.err)
	}
}
