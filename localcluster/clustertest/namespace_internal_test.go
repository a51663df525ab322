package clustertest

import (
	"regexp"
	"strings"
	"testing"
)

// TestNamespaceName checks that any test name becomes a valid namespace name
// that still shows which test made it.
func TestNamespaceName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	tests := []struct {
		name     string
		testName string
		prefix   string
	}{
		{name: "plain", testName: "TestApply", prefix: "t-testapply-"},
		{name: "subtest", testName: "TestApply/with_prune", prefix: "t-testapply-with-prune-"},
		{name: "symbols only", testName: "/__/", prefix: "t-"},
		{name: "long", testName: "Test" + strings.Repeat("VeryLongName", 10), prefix: "t-testverylongname"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := namespaceName(tt.testName)
			if !valid.MatchString(got) || len(got) > 63 {
				t.Errorf("namespaceName(%q) = %q; want a DNS-1123 label of at most 63 characters", tt.testName, got)
			}
			if !strings.HasPrefix(got, tt.prefix) {
				t.Errorf("namespaceName(%q) = %q; want prefix %q", tt.testName, got, tt.prefix)
			}
			if again := namespaceName(tt.testName); again == got {
				t.Errorf("namespaceName(%q) twice = %q; want different random suffixes", tt.testName, got)
			}
		})
	}
}
