package onramp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
)

func TestTokenCreateValidate(t *testing.T) {
	tests := []struct {
		name string
		c    onramp.TokenCreate
		want string // the field refused, or "" for none
	}{
		{"empty", onramp.TokenCreate{}, ""},
		{"name and expiry", onramp.TokenCreate{Name: "CI — deploys", ExpiresIn: onramp.Duration(720 * time.Hour)}, ""},
		{"longest name", onramp.TokenCreate{Name: strings.Repeat("x", onramp.MaxTokenName)}, ""},
		{"longest lifetime", onramp.TokenCreate{ExpiresIn: onramp.Duration(onramp.MaxTokenLifetime)}, ""},
		{"name too long", onramp.TokenCreate{Name: strings.Repeat("x", onramp.MaxTokenName+1)}, "name"},
		{"newline in name", onramp.TokenCreate{Name: "a\nb"}, "name"},
		{"invalid UTF-8", onramp.TokenCreate{Name: "\xc3\x28"}, "name"},
		{"negative", onramp.TokenCreate{ExpiresIn: onramp.Duration(-time.Hour)}, "expires_in"},
		{"under a second", onramp.TokenCreate{ExpiresIn: onramp.Duration(time.Millisecond)}, "expires_in"},
		{"too long", onramp.TokenCreate{ExpiresIn: onramp.Duration(onramp.MaxTokenLifetime + time.Second)}, "expires_in"},
	}
	for _, tt := range tests {
		err := tt.c.Validate()
		if got := onramp.ErrorField(err); got != tt.want || (tt.want != "" && onramp.ErrorCode(err) != onramp.EINVALID) {
			t.Errorf("%s: Validate() = %v; want field %q", tt.name, err, tt.want)
		}
	}
}
