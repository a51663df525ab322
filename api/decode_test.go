package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/onramp/onramp/store"
)

const validBody = `{"name":"shop","template":"web-service","environments":[{"name":"development","type":"development"}],"params":{"image":"nginx"}}`

// TestDecode checks how a create's body is read: what is not one JSON
// object is 400, a value of the wrong type is 422 naming its field with
// indexes, and the size limit holds whatever the body is made of.
func TestDecode(t *testing.T) {
	e := newEnv(t, store.SQLite)
	big := strings.Repeat(" ", 1<<20)
	tests := []struct {
		name, contentType, body string
		want                    int
		wantField               string
	}{
		{name: "valid", contentType: "application/json", body: validBody, want: 202},
		{name: "no content type", body: strings.Replace(validBody, "shop", "shop-2", 1), want: 202},
		{name: "content type with charset", contentType: "application/json; charset=utf-8", body: strings.Replace(validBody, "shop", "shop-3", 1), want: 202},
		{name: "content type in capitals", contentType: "APPLICATION/JSON", body: strings.Replace(validBody, "shop", "shop-4", 1), want: 202},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: validBody, want: 400},
		{name: "jsonx", contentType: "application/jsonx", body: validBody, want: 400},
		{name: "unparsable content type", contentType: "application/json; =", body: validBody, want: 400},
		{name: "empty", body: "", want: 400},
		{name: "whitespace only", body: " \n\t ", want: 400},
		{name: "trailing object", body: validBody + `{}`, want: 400},
		{name: "trailing bracket", body: validBody + `]`, want: 400},
		{name: "trailing garbage", body: validBody + ` x`, want: 400},
		{name: "array", body: `[]`, want: 400},
		{name: "string", body: `"shop"`, want: 400},
		{name: "number", body: `1`, want: 400},
		{name: "null", body: `null`, want: 400},
		{name: "empty key", body: `{"":1}`, want: 400},
		{name: "empty key in params", body: `{"name":"x","template":"web-service","params":{"":"v"}}`, want: 400},
		{name: "empty key in an environment", body: `{"name":"x","environments":[{"name":"a","":"b"}]}`, want: 400},
		{name: "leading whitespace past the limit", body: big + validBody, want: 413},
		{name: "trailing whitespace past the limit", body: validBody + big, want: 413},
		{name: "invalid JSON", body: `{"name":`, want: 400},
		{name: "name a number", body: `{"name":1}`, want: 422, wantField: "name"},
		{name: "environments an object", body: `{"name":"x","environments":{}}`, want: 422, wantField: "environments"},
		{name: "environment a number", body: `{"name":"x","environments":[{"name":"a","type":"development"},7]}`, want: 422, wantField: "environments[1]"},
		{name: "third environment's name a number", body: `{"name":"x","template":"web-service","environments":[{"name":"a","type":"development"},{"name":"b","type":"staging"},{"name":2,"type":"production"}]}`, want: 422, wantField: "environments[2].name"},
		{name: "second environment's type a bool", body: `{"name":"x","environments":[{"name":"a"},{"name":"b","type":true}]}`, want: 422, wantField: "environments[1].type"},
		{name: "keys in another case", body: `{"Name":"x","Environments":[{"name":"a"},{"Name":[]}]}`, want: 422, wantField: "environments[1].name"},
		{name: "unknown field", body: `{"name":"x","colour":"red"}`, want: 422, wantField: "colour"},
		{name: "param an array", body: `{"name":"x","params":{"image":[]}}`, want: 422, wantField: "params.image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.do(t, "POST", "/api/v1/projects", tt.contentType, tt.body)
			if code != tt.want {
				t.Fatalf("POST %.60q = %d %s; want %d", tt.body, code, body, tt.want)
			}
			if code < 400 {
				return
			}
			b := errorBody(t, body)
			if b.Error.Field != tt.wantField {
				t.Errorf("POST %.60q: field %q (%s); want %q", tt.body, b.Error.Field, b.Error.Message, tt.wantField)
			}
		})
	}
}

// TestEvery422NamesField sends many broken variations of a valid body and
// checks that no answer is a server error and that every 422 names the
// field to fix.
func TestEvery422NamesField(t *testing.T) {
	e := newEnv(t, store.SQLite)
	fragments := []string{`1`, `-1`, `1.5`, `1e999`, `true`, `null`, `""`, `"x"`, `[]`, `[1]`, `{}`, `{"a":1}`, `[{}]`, `"development"`, `"\u0000"`}
	keys := []string{`name`, `template`, `environments`, `params`, `type`, `image`, `replicas`, `Name`, `x`}
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[int]int{}
	for i := range 400 {
		body := mutate(rng, validBody, fragments, keys, i)
		code, answer := e.do(t, "POST", "/api/v1/projects", "application/json", body)
		seen[code]++
		switch {
		case code >= 500:
			t.Errorf("POST %s = %d %s; want no server error", body, code, answer)
		case code == http.StatusUnprocessableEntity:
			if b := errorBody(t, answer); b.Error.Field == "" {
				t.Errorf("POST %s = 422 %q without a field", body, b.Error.Message)
			}
		}
	}
	if seen[http.StatusUnprocessableEntity] < 50 || seen[http.StatusBadRequest] < 50 {
		t.Errorf("answers %v: want at least 50 of 400 bodies to be 422 and 50 to be 400, or the test checks little", seen)
	}
}

// mutate replaces one value of body, or one key, with another fragment.
func mutate(rng *rand.Rand, body string, fragments, keys []string, i int) string {
	switch i % 5 {
	case 0: // a key's value
		k := keys[rng.IntN(len(keys))]
		at := strings.Index(body, `"`+k+`":`)
		if at < 0 {
			return body[:len(body)-1] + `,"` + k + `":` + fragments[rng.IntN(len(fragments))] + `}`
		}
		rest := body[at+len(k)+3:]
		end := valueEnd(rest)
		return body[:at+len(k)+3] + fragments[rng.IntN(len(fragments))] + rest[end:]
	case 1: // a new environment
		return strings.Replace(body, `"environments":[`, `"environments":[`+fragments[rng.IntN(len(fragments))]+`,`, 1)
	case 3: // another top-level value
		return fragments[rng.IntN(len(fragments))]
	case 4: // an empty or unknown key in an environment
		return strings.Replace(body, `{"name":"development"`, `{"`+[]string{"", "x"}[rng.IntN(2)]+`":`+fragments[rng.IntN(len(fragments))]+`,"name":"development"`, 1)
	default: // an environment field
		env := fmt.Sprintf(`{"name":%s,"type":%s}`, fragments[rng.IntN(len(fragments))], fragments[rng.IntN(len(fragments))])
		return strings.Replace(body, `"environments":[`, `"environments":[`+env+`,`, 1)
	}
}

// valueEnd returns where the JSON value at the start of s ends, counting
// brackets; good enough for validBody's values.
func valueEnd(s string) int {
	depth, inString := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			if depth == 0 {
				return i
			}
			depth--
		case c == ',' && depth == 0:
			return i
		}
	}
	return len(s)
}
