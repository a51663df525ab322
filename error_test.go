package onramp_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/onramp/onramp"
)

func TestErrorRetryAfter(t *testing.T) {
	tests := []struct {
		err  error
		want time.Duration
	}{
		{onramp.TooManyf(0, "x"), time.Second},
		{onramp.TooManyf(300*time.Millisecond, "x"), time.Second},
		{onramp.TooManyf(time.Second, "x"), time.Second},
		{onramp.TooManyf(1100*time.Millisecond, "x"), 2 * time.Second},
		{onramp.TooManyf(12*time.Second, "x"), 12 * time.Second},
		{fmt.Errorf("wrapped: %w", onramp.TooManyf(2500*time.Millisecond, "x")), 3 * time.Second},
		{errors.New("plain"), time.Second},
	}
	for _, tt := range tests {
		if got := onramp.ErrorRetryAfter(tt.err); got != tt.want {
			t.Errorf("ErrorRetryAfter(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}
