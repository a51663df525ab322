package gitprovider_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub answers like GitHub's REST API (docs.github.com/rest) under
// /api/v3, as GitHub Enterprise Server does: the status codes, the error
// bodies ({"message", "documentation_url"}), Link pagination, the
// X-OAuth-Scopes header of classic tokens and the rate-limit headers.
type fakeGitHub struct {
	srv    *httptest.Server
	token  string
	login  string
	scopes string // X-OAuth-Scopes; "-" for a fine-grained token

	mu      sync.Mutex
	orgs    map[string]string // login -> the user's role
	repos   map[string]map[string]any
	keys    map[string][]map[string]any
	hooks   map[string][]map[string]any
	commits map[string]map[string]string // sha -> message; a test adds them
	nextID  int64
	fail    func(w http.ResponseWriter, r *http.Request) bool // answers instead when it returns true
}

// newFakeGitHub serves a GitHub whose token belongs to "octo".
func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{token: "ghp_" + strings.Repeat("s3cr3t", 6), login: "octo", scopes: "repo, delete_repo",
		orgs: map[string]string{"platform": "admin"}, repos: map[string]map[string]any{},
		keys: map[string][]map[string]any{}, hooks: map[string][]map[string]any{},
		commits: map[string]map[string]string{}, nextID: 100}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// ghError writes GitHub's error body.
func ghError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q,"documentation_url":"https://docs.github.com/rest","status":"%d"}`, message, status)
}

// ghJSON writes v with status.
func ghJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// serve routes one request.
func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		ghError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil && f.fail(w, r) {
		return
	}
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	if f.scopes != "-" {
		w.Header().Set("X-OAuth-Scopes", f.scopes)
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == "GET" && path == "/user":
		ghJSON(w, 200, map[string]any{"login": f.login, "id": 1, "type": "User"})
	case r.Method == "GET" && path == "/meta":
		ghJSON(w, 200, map[string]any{"ssh_keys": []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}})
	case r.Method == "GET" && len(parts) == 2 && parts[0] == "orgs":
		if _, ok := f.orgs[parts[1]]; !ok {
			ghError(w, 404, "Not Found")
			return
		}
		ghJSON(w, 200, map[string]any{"login": parts[1], "members_can_create_private_repositories": false})
	case r.Method == "GET" && len(parts) == 4 && parts[0] == "user" && parts[1] == "memberships":
		role, ok := f.orgs[parts[3]]
		if !ok {
			ghError(w, 404, "Not Found")
			return
		}
		ghJSON(w, 200, map[string]any{"state": "active", "role": role})
	case r.Method == "POST" && (path == "/user/repos" || len(parts) == 3 && parts[0] == "orgs" && parts[2] == "repos"):
		owner := f.login
		if parts[0] == "orgs" {
			owner = parts[1]
		}
		f.createRepo(w, r, owner)
	case len(parts) >= 3 && parts[0] == "repos":
		f.serveRepo(w, r, parts[1]+"/"+parts[2], parts[3:])
	default:
		ghError(w, 404, "Not Found")
	}
}

// createRepo answers POST /user/repos and /orgs/{org}/repos.
func (f *fakeGitHub) createRepo(w http.ResponseWriter, r *http.Request, owner string) {
	var body struct {
		Name, Description string
		Private           bool
	}
	json.NewDecoder(r.Body).Decode(&body)
	full := owner + "/" + body.Name
	if _, ok := f.repos[full]; ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(422)
		fmt.Fprint(w, `{"message":"Repository creation failed.","errors":[{"resource":"Repository","code":"custom","field":"name","message":"name already exists on this account"}],"documentation_url":"https://docs.github.com/rest/repos/repos#create-an-organization-repository","status":"422"}`)
		return
	}
	f.nextID++
	repo := map[string]any{
		"id": f.nextID, "name": body.Name, "full_name": full, "owner": map[string]any{"login": owner},
		"private": body.Private, "description": body.Description, "default_branch": "main",
		"clone_url": f.srv.URL + "/" + full + ".git", "ssh_url": "git@github.example:" + full + ".git",
		"html_url": f.srv.URL + "/" + full,
	}
	f.repos[full] = repo
	ghJSON(w, 201, repo)
}

// serveRepo answers /repos/{owner}/{repo}/... .
func (f *fakeGitHub) serveRepo(w http.ResponseWriter, r *http.Request, full string, rest []string) {
	repo, ok := f.repos[full]
	if !ok {
		ghError(w, 404, "Not Found")
		return
	}
	switch {
	case len(rest) == 0 && r.Method == "GET":
		ghJSON(w, 200, repo)
	case len(rest) == 0 && r.Method == "DELETE":
		if !strings.Contains(f.scopes, "delete_repo") && f.scopes != "-" {
			ghError(w, 403, "Must have admin rights to Repository.")
			return
		}
		delete(f.repos, full)
		delete(f.keys, full)
		delete(f.hooks, full)
		delete(f.commits, full)
		w.WriteHeader(204)
	case rest[0] == "commits" && len(rest) == 2 && r.Method == "GET":
		f.serveCommit(w, full, rest[1])
	case rest[0] == "keys":
		f.keys[full] = f.serveList(w, r, f.keys[full], rest[1:])
	case rest[0] == "hooks":
		f.hooks[full] = f.serveList(w, r, f.hooks[full], rest[1:])
	default:
		ghError(w, 404, "Not Found")
	}
}

// serveList answers a list of keys or hooks: GET with page and per_page and
// a Link header, POST, PATCH and DELETE by id. It returns the new list.
func (f *fakeGitHub) serveList(w http.ResponseWriter, r *http.Request, items []map[string]any, rest []string) []map[string]any {
	switch {
	case r.Method == "GET" && len(rest) == 0:
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		page, per = max(page, 1), min(max(per, 1), 100)
		if r.URL.Query().Get("per_page") == "" {
			per = 30
		}
		start, end := min((page-1)*per, len(items)), min(page*per, len(items))
		if end < len(items) {
			u := *r.URL
			q := u.Query()
			q.Set("page", strconv.Itoa(page+1))
			q.Set("per_page", strconv.Itoa(per))
			u.RawQuery = q.Encode()
			w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, f.srv.URL, u.String()))
		}
		ghJSON(w, 200, items[start:end])
	case r.Method == "POST" && len(rest) == 0:
		var item map[string]any
		json.NewDecoder(r.Body).Decode(&item)
		f.nextID++
		item["id"] = f.nextID
		if cfg, ok := item["config"].(map[string]any); ok && cfg["secret"] != nil {
			cfg["secret"] = "********"
		}
		ghJSON(w, 201, item)
		return append(items, item)
	case len(rest) == 1:
		id, _ := strconv.ParseInt(rest[0], 10, 64)
		for i, item := range items {
			if item["id"] != id && item["id"] != float64(id) {
				continue
			}
			if r.Method == "DELETE" {
				w.WriteHeader(204)
				return append(items[:i], items[i+1:]...)
			}
			json.NewDecoder(r.Body).Decode(&item)
			ghJSON(w, 200, item)
			return items
		}
		ghError(w, 404, "Not Found")
	default:
		ghError(w, 404, "Not Found")
	}
	return items
}

// serveCommit answers GET /repos/{owner}/{repo}/commits/{sha}: 409 for an
// empty repository, 422 for a commit it does not have, as GitHub does.
func (f *fakeGitHub) serveCommit(w http.ResponseWriter, full, sha string) {
	commits := f.commits[full]
	if len(commits) == 0 {
		ghError(w, 409, "Git Repository is empty.")
		return
	}
	msg, ok := commits[sha]
	if !ok {
		ghError(w, 422, "No commit found for SHA: "+sha)
		return
	}
	author := map[string]any{"name": "onramp", "email": "onramp@localhost", "date": "2026-01-02T03:04:05Z"}
	ghJSON(w, 200, map[string]any{"sha": sha, "html_url": f.srv.URL + "/" + full + "/commit/" + sha,
		"commit":  map[string]any{"message": msg, "author": author, "committer": author},
		"parents": []any{}, "files": []any{}})
}
