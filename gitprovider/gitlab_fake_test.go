package gitprovider_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGitLab answers like GitLab's REST API v4 (docs.gitlab.com/api): the
// PRIVATE-TOKEN header, URL-encoded project paths as ids, error bodies
// ({"message": ...}), offset pagination (X-Next-Page, Link), the
// personal_access_tokens/self scopes and the rate-limit headers.
type fakeGitLab struct {
	srv    *httptest.Server
	token  string
	scopes []string

	mu       sync.Mutex
	projects map[string]map[string]any // by path_with_namespace
	tokens   map[int64][]map[string]any
	hooks    map[int64][]map[string]any
	commits  map[int64]map[string]string // sha -> message; a test adds them
	nextID   int64
	fail     func(w http.ResponseWriter, r *http.Request) bool
}

// newFakeGitLab serves a GitLab whose token belongs to "alice", a
// Maintainer of group "platform".
func newFakeGitLab(t *testing.T) *fakeGitLab {
	f := &fakeGitLab{token: "glpat-" + strings.Repeat("S3cr3t", 4), scopes: []string{"api"},
		projects: map[string]map[string]any{}, tokens: map[int64][]map[string]any{}, hooks: map[int64][]map[string]any{},
		commits: map[int64]map[string]string{}, nextID: 500}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// glJSON writes v with status.
func glJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// glError writes GitLab's error body.
func glError(w http.ResponseWriter, status int, message string) {
	glJSON(w, status, map[string]any{"message": message})
}

// serve routes one request by its escaped path, since project ids are
// URL-encoded paths.
func (f *fakeGitLab) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("PRIVATE-TOKEN") != f.token {
		glError(w, 401, "401 Unauthorized")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil && f.fail(w, r) {
		return
	}
	w.Header().Set("RateLimit-Limit", "2000")
	w.Header().Set("RateLimit-Remaining", "1999")
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4"), "/"), "/")
	for i := range parts {
		parts[i], _ = url.PathUnescape(parts[i])
	}
	switch {
	case r.Method == "GET" && len(parts) == 1 && parts[0] == "user":
		glJSON(w, 200, map[string]any{"id": 7, "username": "alice"})
	case r.Method == "GET" && len(parts) == 2 && parts[0] == "personal_access_tokens" && parts[1] == "self":
		glJSON(w, 200, map[string]any{"id": 1, "name": "onramp", "scopes": f.scopes, "active": true})
	case r.Method == "GET" && len(parts) == 2 && parts[0] == "groups":
		if parts[1] != "platform" {
			glError(w, 404, "404 Group Not Found")
			return
		}
		glJSON(w, 200, map[string]any{"id": 42, "full_path": "platform", "project_creation_level": "maintainer"})
	case r.Method == "GET" && len(parts) == 5 && parts[0] == "groups" && parts[2] == "members":
		glJSON(w, 200, map[string]any{"id": 7, "username": "alice", "access_level": 40})
	case r.Method == "POST" && len(parts) == 1 && parts[0] == "projects":
		f.createProject(w, r)
	case len(parts) >= 2 && parts[0] == "projects":
		f.serveProject(w, r, parts[1], parts[2:])
	default:
		glError(w, 404, "404 Not Found")
	}
}

// createProject answers POST /projects.
func (f *fakeGitLab) createProject(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Path, Description, Visibility string
		NamespaceID                   int64 `json:"namespace_id"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	ns := "alice"
	if body.NamespaceID == 42 {
		ns = "platform"
	}
	full := ns + "/" + body.Path
	if _, ok := f.projects[full]; ok {
		glJSON(w, 400, map[string]any{"message": map[string]any{"name": []string{"has already been taken"}, "path": []string{"has already been taken"}}})
		return
	}
	f.nextID++
	p := map[string]any{
		"id": f.nextID, "path": body.Path, "name": body.Path, "path_with_namespace": full, "description": body.Description,
		"visibility": body.Visibility, "default_branch": "main", "web_url": f.srv.URL + "/" + full,
		"http_url_to_repo": f.srv.URL + "/" + full + ".git", "ssh_url_to_repo": "git@gitlab.example:" + full + ".git",
	}
	f.projects[full] = p
	glJSON(w, 201, p)
}

// project finds a project by id or path.
func (f *fakeGitLab) project(id string) map[string]any {
	if p, ok := f.projects[id]; ok {
		return p
	}
	for _, p := range f.projects {
		if fmt.Sprint(p["id"]) == id {
			return p
		}
	}
	return nil
}

// serveProject answers /projects/{id}/... .
func (f *fakeGitLab) serveProject(w http.ResponseWriter, r *http.Request, id string, rest []string) {
	p := f.project(id)
	if p == nil {
		glError(w, 404, "404 Project Not Found")
		return
	}
	pid := p["id"].(int64)
	switch {
	case len(rest) == 0 && r.Method == "GET":
		glJSON(w, 200, p)
	case len(rest) == 0 && r.Method == "DELETE":
		delete(f.projects, p["path_with_namespace"].(string))
		glJSON(w, 202, map[string]any{"message": "202 Accepted"})
	case rest[0] == "deploy_tokens":
		f.tokens[pid] = f.serveList(w, r, f.tokens[pid], rest[1:], true)
	case rest[0] == "hooks":
		f.hooks[pid] = f.serveList(w, r, f.hooks[pid], rest[1:], false)
	case len(rest) == 3 && rest[0] == "repository" && rest[1] == "commits" && r.Method == "GET":
		f.serveCommit(w, pid, rest[2])
	default:
		glError(w, 404, "404 Not Found")
	}
}

// serveList answers a list of deploy tokens or hooks: GET with page and
// per_page and X-Next-Page, POST, PUT and DELETE by id.
func (f *fakeGitLab) serveList(w http.ResponseWriter, r *http.Request, items []map[string]any, rest []string, tokens bool) []map[string]any {
	switch {
	case r.Method == "GET" && len(rest) == 0:
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		page, per = max(page, 1), min(max(per, 1), 100)
		if r.URL.Query().Get("per_page") == "" {
			per = 20
		}
		start, end := min((page-1)*per, len(items)), min(page*per, len(items))
		w.Header().Set("X-Page", strconv.Itoa(page))
		w.Header().Set("X-Per-Page", strconv.Itoa(per))
		w.Header().Set("X-Total", strconv.Itoa(len(items)))
		if end < len(items) {
			w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
		}
		out := make([]map[string]any, 0, end-start)
		for _, item := range items[start:end] {
			shown := map[string]any{}
			for k, v := range item {
				if k != "token" {
					shown[k] = v // GitLab shows a token's value only at creation
				}
			}
			out = append(out, shown)
		}
		glJSON(w, 200, out)
	case r.Method == "POST" && len(rest) == 0:
		var item map[string]any
		json.NewDecoder(r.Body).Decode(&item)
		f.nextID++
		item["id"] = f.nextID
		if tokens {
			item["username"] = fmt.Sprintf("gitlab+deploy-token-%d", f.nextID)
			item["token"] = fmt.Sprintf("gldt-%020d", f.nextID)
			item["revoked"], item["expired"] = false, false
		}
		glJSON(w, 201, item)
		return append(items, item)
	case len(rest) == 1:
		for i, item := range items {
			if fmt.Sprint(item["id"]) != rest[0] {
				continue
			}
			if r.Method == "DELETE" {
				w.WriteHeader(204)
				return append(items[:i], items[i+1:]...)
			}
			json.NewDecoder(r.Body).Decode(&item)
			glJSON(w, 200, item)
			return items
		}
		glError(w, 404, "404 Not Found")
	default:
		glError(w, 404, "404 Not Found")
	}
	return items
}

// serveCommit answers GET /projects/:id/repository/commits/:sha.
func (f *fakeGitLab) serveCommit(w http.ResponseWriter, pid int64, sha string) {
	msg, ok := f.commits[pid][sha]
	if !ok {
		glError(w, 404, "404 Commit Not Found")
		return
	}
	title, _, _ := strings.Cut(msg, "\n")
	glJSON(w, 200, map[string]any{"id": sha, "short_id": sha[:8], "title": title, "message": msg,
		"author_name": "onramp", "author_email": "onramp@localhost", "created_at": "2026-01-02T03:04:05.000Z",
		"parent_ids": []string{}, "status": nil})
}
