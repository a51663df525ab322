package onramp_test

import (
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

func TestRevisionSHA(t *testing.T) {
	sha := strings.Repeat("0123456789", 4)
	tests := []struct {
		revision string
		want     string // "" for EINVALID
	}{
		{"main@sha1:" + sha, sha}, {"release/1.0@sha1:" + sha, sha}, {"sha1:" + sha, sha}, {sha, sha},
		{"main@sha1:ABCDEF" + sha[6:], "abcdef" + sha[6:]},
		{"", ""}, {"main", ""}, {"main@sha1:" + sha[:7], ""}, {sha + "0", ""}, {"main@sha256:" + sha, ""},
		{"main/" + sha, ""}, {"main@sha1:../../" + sha[6:], ""}, {"xsha1:" + sha, ""},
	}
	for _, tt := range tests {
		got, err := onramp.RevisionSHA(tt.revision)
		if tt.want == "" && onramp.ErrorCode(err) != onramp.EINVALID || tt.want != "" && (err != nil || got != tt.want) {
			t.Errorf("RevisionSHA(%q) = %q, %v; want %q", tt.revision, got, err, tt.want)
		}
	}
}
