package onramp

import (
	"bytes"
	"encoding/json"
)

// Params are template parameter values as a request carries them. JSON
// numbers and booleans are accepted and kept as their text, so that
// {"port": 8080} and {"port": "8080"} mean the same.
type Params map[string]string

// UnmarshalJSON implements json.Unmarshaler.
func (p *Params) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return FieldErrorf("params", "params must be an object of parameter names to values")
	}
	out := Params{}
	for k, v := range raw {
		var s string
		switch v = bytes.TrimSpace(v); {
		case bytes.Equal(v, []byte("null")):
			return FieldErrorf("params."+k, "parameter %q is null; leave it out to use its default", k)
		case json.Unmarshal(v, &s) == nil:
			out[k] = s
		case len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9' || v[0] == 't' || v[0] == 'f'):
			out[k] = string(v)
		default:
			return FieldErrorf("params."+k, "parameter %q must be a string, number or boolean", k)
		}
	}
	*p = out
	return nil
}
