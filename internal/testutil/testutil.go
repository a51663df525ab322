// Package testutil holds the helpers that onramp's tests in several
// packages share, and the measurement command uses. Nothing else imports it.
package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Eventually calls check until it returns "" or timeout passes, then fails
// t with what it waited for and check's last answer: what is not there yet.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		state := check()
		if state == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, timeout, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Until is Eventually for a condition that has nothing to say.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, timeout, what, func() string {
		if cond() {
			return ""
		}
		return "not yet"
	})
}

// Buffer is a bytes.Buffer that concurrent writers may share, such as the
// handlers of a server logging into it while a test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
