package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/onramp/onramp/store"
)

// Every bad input gets a 4xx with a code and, where one field is at fault,
// that field: never a 500.
func TestBadInputs(t *testing.T) {
	// No workers: "taken" stays initializing.
	e := newEnv(t, store.SQLite)
	env := `"environments":[{"name":"development","type":"development"}]`
	if code, out := e.do(t, "POST", "/api/v1/projects", "application/json", `{"name":"taken","template":"web-service",`+env+`}`); code != http.StatusAccepted {
		t.Fatalf("create = %d %s", code, out)
	}
	long := strings.Repeat("a", 43)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
		field  string
	}{
		{"empty body", "POST", "/api/v1/projects", ``, 400, "malformed", ""},
		{"not JSON", "POST", "/api/v1/projects", `name=shop`, 400, "malformed", ""},
		{"truncated JSON", "POST", "/api/v1/projects", `{"name":"shop"`, 400, "malformed", ""},
		{"JSON array", "POST", "/api/v1/projects", `[1,2]`, 400, "malformed", ""},
		{"two objects", "POST", "/api/v1/projects", `{"name":"a"}{"name":"b"}`, 400, "malformed", ""},
		{"unknown field", "POST", "/api/v1/projects", `{"name":"shop","colour":"red"}`, 422, "invalid", "colour"},
		{"name a number", "POST", "/api/v1/projects", `{"name":42}`, 422, "invalid", "name"},
		{"params not an object", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service",` + env + `,"params":[]}`, 422, "invalid", "params"},
		{"param value an object", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service",` + env + `,"params":{"port":{"n":1}}}`, 422, "invalid", "params.port"},
		{"param value a list", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service",` + env + `,"params":{"image":["a"]}}`, 422, "invalid", "params.image"},
		{"environments not a list", "POST", "/api/v1/projects", `{"name":"shop","environments":"dev"}`, 422, "invalid", "environments"},
		{"missing name", "POST", "/api/v1/projects", `{"template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"uppercase name", "POST", "/api/v1/projects", `{"name":"Shop","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"underscore in name", "POST", "/api/v1/projects", `{"name":"my_shop","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"name starts with dash", "POST", "/api/v1/projects", `{"name":"-shop","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"name ends with dash", "POST", "/api/v1/projects", `{"name":"shop-","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"name with dot", "POST", "/api/v1/projects", `{"name":"shop.io","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"name with space", "POST", "/api/v1/projects", `{"name":"my shop","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"name too long for namespaces", "POST", "/api/v1/projects", `{"name":"` + long + `","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"unicode name", "POST", "/api/v1/projects", `{"name":"shöp","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"reserved default", "POST", "/api/v1/projects", `{"name":"default","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"reserved kube-system", "POST", "/api/v1/projects", `{"name":"kube-system","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"reserved kube-public", "POST", "/api/v1/projects", `{"name":"kube-public","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"reserved kube-node-lease", "POST", "/api/v1/projects", `{"name":"kube-node-lease","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"reserved flux-system", "POST", "/api/v1/projects", `{"name":"flux-system","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"reserved kube- prefix", "POST", "/api/v1/projects", `{"name":"kube-mine","template":"web-service",` + env + `}`, 422, "invalid", "name"},
		{"name taken", "POST", "/api/v1/projects", `{"name":"taken","template":"web-service",` + env + `}`, 409, "conflict", "name"},
		{"missing template", "POST", "/api/v1/projects", `{"name":"shop",` + env + `}`, 422, "invalid", "template"},
		{"unknown template", "POST", "/api/v1/projects", `{"name":"shop","template":"nope",` + env + `}`, 422, "invalid", "template"},
		{"no environments", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service","environments":[]}`, 422, "invalid", "environments"},
		{"environment without name", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service","environments":[{"type":"development"}]}`, 422, "invalid", "environments[0].name"},
		{"environment bad name", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service","environments":[{"name":"Dev","type":"development"}]}`, 422, "invalid", "environments[0].name"},
		{"environment name too long", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service","environments":[{"name":"` + strings.Repeat("d", 21) + `","type":"development"}]}`, 422, "invalid", "environments[0].name"},
		{"environment twice", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service","environments":[{"name":"dev","type":"development"},{"name":"dev","type":"staging"}]}`, 422, "invalid", "environments[1].name"},
		{"environment unknown type", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service","environments":[{"name":"dev","type":"dev"}]}`, 422, "invalid", "environments[0].type"},
		{"environment missing type", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service","environments":[{"name":"qa"}]}`, 422, "invalid", "environments[0].type"},
		{"unknown parameter", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service",` + env + `,"params":{"colour":"red"}}`, 422, "invalid", "params.colour"},
		{"int parameter not a number", "POST", "/api/v1/projects", `{"name":"shop","template":"web-service",` + env + `,"params":{"port":"http"}}`, 422, "invalid", "params.port"},
		{"body over 1 MiB", "POST", "/api/v1/projects", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "too_large", ""},
		{"wrong content type", "POST", "/api/v1/projects", `{}`, 400, "malformed", ""},
		{"limit not a number", "GET", "/api/v1/projects?limit=ten", ``, 422, "invalid", "limit"},
		{"limit zero", "GET", "/api/v1/projects?limit=0", ``, 422, "invalid", "limit"},
		{"limit too big", "GET", "/api/v1/projects?limit=1000", ``, 422, "invalid", "limit"},
		{"forged cursor", "GET", "/api/v1/projects?cursor=nope!", ``, 422, "invalid", "cursor"},
		{"logs after not a number", "GET", "/api/v1/projects/taken/logs?after=x", ``, 422, "invalid", "after"},
		{"unknown project", "GET", "/api/v1/projects/nope", ``, 404, "not_found", ""},
		{"delete unknown project", "DELETE", "/api/v1/projects/nope", ``, 404, "not_found", ""},
		{"retry while initializing", "POST", "/api/v1/projects/taken/retry", ``, 409, "conflict", ""},
		{"unknown template page", "GET", "/api/v1/templates/nope", ``, 404, "not_found", ""},
		{"unknown endpoint", "GET", "/api/v1/nothing", ``, 404, "not_found", ""},
		{"bad Last-Event-ID", "GET", "/api/v1/projects/taken/events?last_event_id=x", ``, 422, "invalid", "Last-Event-ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			contentType := ""
			if tt.name == "wrong content type" {
				contentType = "text/plain"
			}
			code, out := e.do(t, tt.method, tt.path, contentType, tt.body)
			b := errorBody(t, out)
			if code != tt.status || b.Error.Code != tt.code || b.Error.Field != tt.field || b.Error.Message == "" {
				t.Errorf("%s %s = %d %+v; want %d code %q field %q with a message", tt.method, tt.path, code, b.Error, tt.status, tt.code, tt.field)
			}
		})
	}
	if len(tests) < 40 {
		t.Errorf("only %d bad inputs", len(tests))
	}
}
