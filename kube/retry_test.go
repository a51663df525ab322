package kube

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestRetry(t *testing.T) {
	gr := schema.GroupResource{Resource: "namespaces"}
	tests := []struct {
		name      string
		errs      []error // what each call returns; the last one repeats
		wantCalls int
		wantErr   bool
	}{
		{"success", []error{nil}, 1, false},
		{"transient then success", []error{apierrors.NewServiceUnavailable("restarting"), apierrors.NewTooManyRequests("busy", 0), nil}, 3, false},
		{"permanent", []error{apierrors.NewForbidden(gr, "x", errors.New("no"))}, 1, true},
		{"transient until the deadline", []error{apierrors.NewInternalError(errors.New("etcd"))}, -1, true},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		calls := 0
		err := retry(ctx, func() error {
			calls++
			return tt.errs[min(calls, len(tt.errs))-1]
		})
		cancel()
		if (err != nil) != tt.wantErr || (tt.wantCalls > 0 && calls != tt.wantCalls) || (tt.wantCalls < 0 && calls < 2) {
			t.Errorf("retry(%s) = %v after %d calls; want error %v after %d calls", tt.name, err, calls, tt.wantErr, tt.wantCalls)
		}
	}
}
