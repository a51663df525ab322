package api

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/onramp/onramp"
)

// refuseBadBytes answers 400 to a request whose path or query holds
// invalid UTF-8 or a control character, before any handler looks it up:
// PostgreSQL refuses such bytes with an error (SQLSTATE 22021), and no name
// onramp stores holds them.
func (s *Server) refuseBadBytes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cleanText(r.URL.Path) || !cleanQuery(r.URL.RawQuery) {
			s.Error(w, r, onramp.Errorf(onramp.EMALFORMED, "the request's path or query holds invalid UTF-8 or a control character; send printable UTF-8"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanQuery reports whether every key and value of a raw query is clean
// once unescaped.
func cleanQuery(raw string) bool {
	if raw == "" {
		return true
	}
	q, _ := url.ParseQuery(raw) // what fails to parse, handlers never see
	for k, vs := range q {
		if !cleanText(k) {
			return false
		}
		for _, v := range vs {
			if !cleanText(v) {
				return false
			}
		}
	}
	return true
}

// cleanText reports whether s is valid UTF-8 without control characters.
func cleanText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}
