package localgitea_test

import (
	"os"
	"testing"
)

// writeFile writes content to path or fails t.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
