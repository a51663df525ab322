package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

// TestEnvironmentsBound checks that a project may have up to
// MaxEnvironments environments and that more are a 422 naming
// environments, on each engine, however many more.
func TestEnvironmentsBound(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		for _, n := range []int{onramp.MaxEnvironments, onramp.MaxEnvironments + 1, 4096, 10000} {
			envs := make([]string, n)
			for i := range envs {
				envs[i] = fmt.Sprintf(`{"name":"e%d","type":"development"}`, i)
			}
			body := fmt.Sprintf(`{"name":"many-%d","template":"web-service","params":{"image":"nginx"},"environments":[%s]}`, n, strings.Join(envs, ","))
			code, answer := e.do(t, "POST", "/api/v1/projects", "application/json", body)
			want := http.StatusAccepted
			if n > onramp.MaxEnvironments {
				want = http.StatusUnprocessableEntity
			}
			if code != want {
				t.Fatalf("create with %d environments = %d %.200s; want %d", n, code, answer, want)
			}
			if b := errorBody(t, answer); code != http.StatusAccepted && b.Error.Field != "environments" {
				t.Errorf("create with %d environments: field %q; want environments", n, b.Error.Field)
			}
		}
	})
}
