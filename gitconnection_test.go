package onramp_test

import (
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

func TestGitConnectionCreateValidate(t *testing.T) {
	ok := onramp.GitConnectionCreate{Name: "acme", Kind: "gitea", URL: "https://git.acme.dev/", Owner: "platform", Token: " tok-9f3Q \n"}
	tests := []struct {
		name      string
		change    func(*onramp.GitConnectionCreate)
		wantField string
	}{
		{"valid", func(*onramp.GitConnectionCreate) {}, ""},
		{"bad name", func(c *onramp.GitConnectionCreate) { c.Name = "Acme" }, "name"},
		{"unknown kind", func(c *onramp.GitConnectionCreate) { c.Kind = "bitbucket" }, "kind"},
		{"no scheme", func(c *onramp.GitConnectionCreate) { c.URL = "git.acme.dev" }, "url"},
		{"no owner", func(c *onramp.GitConnectionCreate) { c.Owner = " " }, "owner"},
		{"no token", func(c *onramp.GitConnectionCreate) { c.Token = "\n" }, "token"},
	}
	for _, tt := range tests {
		c := ok
		tt.change(&c)
		err := c.Validate()
		if got := onramp.ErrorField(err); got != tt.wantField || (tt.wantField == "") != (err == nil) {
			t.Errorf("%s: Validate() = %v; want field %q", tt.name, err, tt.wantField)
		}
		if tt.name == "valid" && (c.URL != "https://git.acme.dev" || c.Token != "tok-9f3Q") {
			t.Errorf("Validate() left URL %q, token %q; want them trimmed", c.URL, c.Token)
		}
		if s := c.String(); strings.Contains(s, c.Token) && c.Token != "" {
			t.Errorf("String() = %q shows the token", s)
		}
	}
}
