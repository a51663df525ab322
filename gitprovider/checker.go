package gitprovider

import (
	"context"
	"errors"
	"net/http"

	"github.com/onramp/onramp"
)

// Checker checks a connection's token with its provider before onramp
// records it. It implements onramp.GitConnectionChecker.
type Checker struct {
	// HTTPClient makes the calls; nil means New's default.
	HTTPClient *http.Client
}

var _ onramp.GitConnectionChecker = Checker{}

// CheckGitConnection runs the provider's Check and returns the token's
// login. A refusal is EINVALID naming the field to fix: the token for a
// token the provider refuses, the owner for one it does not know, the URL
// for a provider that does not answer.
func (ch Checker) CheckGitConnection(ctx context.Context, c onramp.GitConnectionCreate) (string, error) {
	p, err := New(Connection{Kind: c.Kind, URL: c.URL, Owner: c.Owner, Token: c.Token, HTTPClient: ch.HTTPClient})
	if err != nil {
		return "", err
	}
	id, err := p.Check(ctx)
	if err != nil {
		return "", fieldError(err)
	}
	return id.Login, nil
}

// fieldError turns a Check failure into the EINVALID error of the field it
// concerns, keeping the provider's message, which says what to do.
func fieldError(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	field := "url"
	switch e.Code {
	case onramp.EUNAUTHORIZED:
		field = "token"
	case onramp.ENOTFOUND:
		field = "owner"
	case onramp.EINVALID:
		if f := onramp.ErrorField(err); f != "" {
			field = f
		}
	}
	return &onramp.Error{Code: onramp.EINVALID, Field: field, Message: e.Message}
}
