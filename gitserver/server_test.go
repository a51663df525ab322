package gitserver_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/onramp/onramp"
)

// changedFiles is sampleFiles after an edit, a removal and an addition.
func changedFiles() onramp.Files {
	files := sampleFiles()
	files["README.md"] = []byte("# shop, second version\n")
	delete(files, "deploy.txt")
	files["deploy/overlays/staging/kustomization.yaml"] = []byte("resources:\n- ../../base\n")
	return files
}

// twoCommits creates p with sampleFiles then changedFiles and returns the
// second revision.
func twoCommits(t *testing.T, e *env) string {
	t.Helper()
	e.createAndCommit(t, "p", sampleFiles())
	rev, err := e.provider.Commit(context.Background(), "p", changedFiles(), "second")
	if err != nil {
		t.Fatalf("Commit(p) = %v", err)
	}
	return rev
}

func TestCloneGitCLI(t *testing.T) {
	e := newEnv(t)
	rev := twoCommits(t, e)
	tests := []struct {
		name        string
		args        []string
		wantCommits string
	}{
		{name: "full", args: []string{"clone"}, wantCommits: "2"},
		{name: "depth 1, as Flux does", args: []string{"clone", "--depth", "1"}, wantCommits: "1"},
		{name: "protocol v0", args: []string{"-c", "protocol.version=0", "clone"}, wantCommits: "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p")
			mustGit(t, t.TempDir(), append(tt.args, e.repoURL("p-reader", "p"), dir)...)
			if d := diffFiles(readTree(t, dir), changedFiles()); d != "" {
				t.Errorf("clone(%q) files: %s", tt.name, d)
			}
			if got := "main@sha1:" + mustGit(t, dir, "rev-parse", "HEAD"); got != rev {
				t.Errorf("clone(%q) HEAD = %s; want %s", tt.name, got, rev)
			}
			if got := mustGit(t, dir, "symbolic-ref", "--short", "HEAD"); got != "main" {
				t.Errorf("clone(%q) branch = %q; want %q", tt.name, got, "main")
			}
			if got := mustGit(t, dir, "rev-list", "--count", "HEAD"); got != tt.wantCommits {
				t.Errorf("clone(%q) commits = %s; want %s", tt.name, got, tt.wantCommits)
			}
			mustGit(t, dir, "fsck", "--strict")
		})
	}
}

func TestCloneGoGit(t *testing.T) {
	e := newEnv(t)
	rev := twoCommits(t, e)
	tests := []struct {
		name        string
		opts        gogit.CloneOptions
		wantShallow bool
	}{
		{name: "full", opts: gogit.CloneOptions{}},
		{name: "depth 1, single branch, no tags, as Flux does", opts: gogit.CloneOptions{
			ReferenceName: plumbing.NewBranchReferenceName("main"), SingleBranch: true,
			Depth: 1, Tags: gogit.NoTags,
		}, wantShallow: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := tt.opts
			opts.URL = e.url + "/git/p.git"
			opts.Auth = &githttp.BasicAuth{Username: "p-reader", Password: "read-secret"}
			repo, err := gogit.PlainCloneContext(context.Background(), dir, false, &opts)
			if err != nil {
				t.Fatalf("clone(%q) = %v; want nil", tt.name, err)
			}
			head, err := repo.Head()
			if err != nil {
				t.Fatalf("clone(%q): Head() = %v", tt.name, err)
			}
			if got := "main@sha1:" + head.Hash().String(); got != rev {
				t.Errorf("clone(%q) HEAD = %s; want %s", tt.name, got, rev)
			}
			if d := diffFiles(readTree(t, dir), changedFiles()); d != "" {
				t.Errorf("clone(%q) files: %s", tt.name, d)
			}
			shallow, err := repo.Storer.Shallow()
			if err != nil {
				t.Fatalf("clone(%q): Shallow() = %v", tt.name, err)
			}
			if got := len(shallow) > 0; got != tt.wantShallow {
				t.Errorf("clone(%q) shallow = %v (%v); want %v", tt.name, got, shallow, tt.wantShallow)
			}
		})
	}
}

func TestHTTPStatus(t *testing.T) {
	e := newEnv(t)
	e.createAndCommit(t, "p", sampleFiles())
	e.createAndCommit(t, "q", sampleFiles())
	const refs = "/git/p.git/info/refs?service="
	tests := []struct {
		name, method, path, user, password string
		want                               int
	}{
		{name: "no credentials", method: "GET", path: refs + "git-upload-pack", want: 401},
		{name: "wrong password", method: "GET", path: refs + "git-upload-pack", user: "p-reader", password: "nope", want: 401},
		{name: "unknown user", method: "GET", path: refs + "git-upload-pack", user: "nobody", password: "read-secret", want: 401},
		{name: "another project's credentials", method: "GET", path: refs + "git-upload-pack", user: "q-writer", password: "q-secret", want: 404},
		{name: "read-only reads", method: "GET", path: refs + "git-upload-pack", user: "p-reader", password: "read-secret", want: 200},
		{name: "read-only cannot push", method: "GET", path: refs + "git-receive-pack", user: "p-reader", password: "read-secret", want: 401},
		{name: "read-write can push", method: "GET", path: refs + "git-receive-pack", user: "p-writer", password: "write-secret", want: 200},
		{name: "authorized but missing on disk", method: "GET", path: "/git/ghost.git/info/refs?service=git-upload-pack", user: "ghost", password: "ghost-secret", want: 404},
		{name: "uppercase name", method: "GET", path: "/git/P.git/info/refs?service=git-upload-pack", user: "p-reader", password: "read-secret", want: 404},
		{name: "underscore name", method: "GET", path: "/git/p_q.git/info/refs?service=git-upload-pack", want: 404},
		{name: "leading dash", method: "GET", path: "/git/-p.git/info/refs?service=git-upload-pack", want: 404},
		{name: "dot in name", method: "GET", path: "/git/.locks.git/info/refs?service=git-upload-pack", want: 404},
		{name: "too long", method: "GET", path: "/git/" + strings.Repeat("a", 64) + ".git/info/refs?service=git-upload-pack", want: 404},
		{name: "no .git suffix", method: "GET", path: "/git/p/info/refs?service=git-upload-pack", user: "p-reader", password: "read-secret", want: 404},
		{name: "unknown action", method: "GET", path: "/git/p.git/HEAD", user: "p-reader", password: "read-secret", want: 404},
		{name: "dumb protocol", method: "GET", path: "/git/p.git/info/refs", user: "p-reader", password: "read-secret", want: 403},
		{name: "POST info/refs", method: "POST", path: refs + "git-upload-pack", user: "p-reader", password: "read-secret", want: 405},
		{name: "GET upload-pack", method: "GET", path: "/git/p.git/git-upload-pack", user: "p-reader", password: "read-secret", want: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.do(t, tt.method, tt.path, tt.user, tt.password, nil, nil)
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s as %q = %d; want %d", tt.method, tt.path, tt.user, resp.StatusCode, tt.want)
			}
			gotChallenge := resp.Header.Get("WWW-Authenticate")
			if wantChallenge := tt.want == 401; (gotChallenge == `Basic realm="onramp"`) != wantChallenge {
				t.Errorf("%s %s: WWW-Authenticate = %q; want it: %v", tt.method, tt.path, gotChallenge, wantChallenge)
			}
		})
	}
}

func TestAdvertisement(t *testing.T) {
	e := newEnv(t)
	e.createAndCommit(t, "p", sampleFiles())
	resp := e.do(t, "GET", "/git/p.git/info/refs?service=git-upload-pack", "p-reader", "read-secret", nil, nil)
	body, _ := io.ReadAll(resp.Body)
	if got, want := resp.Header.Get("Content-Type"), "application/x-git-upload-pack-advertisement"; got != want {
		t.Errorf("Content-Type = %q; want %q", got, want)
	}
	if want := "001e# service=git-upload-pack\n0000"; !bytes.HasPrefix(body, []byte(want)) {
		t.Errorf("advertisement = %q; want prefix %q", body, want)
	}
	for _, want := range []string{"symref=HEAD:refs/heads/main", "shallow", "side-band-64k", "refs/heads/main\n"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("advertisement = %q; want it to contain %q", body, want)
		}
	}
}

// do sends one request to the test server, with basic credentials when
// user is set.
func (e *env) do(t *testing.T, method, path, user, password string, header http.Header, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestCloneRefusedGitCLI(t *testing.T) {
	e := newEnv(t)
	e.createAndCommit(t, "p", sampleFiles())
	e.createAndCommit(t, "q", sampleFiles())
	tests := []struct {
		name, user, password, project string
		wantOutput                    string
	}{
		{name: "wrong password", user: "p-reader", password: "nope", project: "p", wantOutput: "Authentication failed"},
		{name: "another project's credentials", user: "q-writer", password: "q-secret", project: "p", wantOutput: "not found"},
		{name: "no credentials", project: "p", wantOutput: "could not read Username"},
		{name: "bad project name", user: "p-reader", password: "read-secret", project: "Bad_Name", wantOutput: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := e.url + "/git/" + tt.project + ".git"
			if tt.user != "" {
				pu, _ := url.Parse(u)
				pu.User = url.UserPassword(tt.user, tt.password)
				u = pu.String()
			}
			out, err := git(t, t.TempDir(), "clone", u, "p")
			if err == nil || !strings.Contains(out, tt.wantOutput) {
				t.Errorf("clone(%q) = %v, %q; want an error saying %q", tt.name, err, out, tt.wantOutput)
			}
		})
	}
}

func TestUploadPackRequest(t *testing.T) {
	e := newEnv(t)
	rev := e.createAndCommit(t, "p", sampleFiles())
	head := strings.TrimPrefix(rev, "main@sha1:")
	request := pkt("want "+head+" ofs-delta\n") + "0000" + pkt("done\n")
	tests := []struct {
		name        string
		contentType string
		gzip        bool
		body        string
		want        int
		wantPrefix  string
	}{
		{name: "plain", body: request, want: 200, wantPrefix: "0008NAK\nPACK"},
		{name: "gzip", gzip: true, body: request, want: 200, wantPrefix: "0008NAK\nPACK"},
		{name: "probe", body: "0000", want: 200},
		{name: "wrong content type", contentType: "text/plain", body: request, want: 400},
		{name: "unknown object", body: pkt("want "+strings.Repeat("1", 40)+"\n") + "0000" + pkt("done\n"), want: 400},
		{name: "garbage", body: "hello", want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/x-git-upload-pack-request"}}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			body := []byte(tt.body)
			if tt.gzip {
				h.Set("Content-Encoding", "gzip")
				body = gzipped(t, body)
			}
			resp := e.do(t, "POST", "/git/p.git/git-upload-pack", "p-reader", "read-secret", h, body)
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want || !bytes.HasPrefix(got, []byte(tt.wantPrefix)) {
				t.Errorf("upload-pack(%q) = %d %.40q; want %d %q…", tt.name, resp.StatusCode, got, tt.want, tt.wantPrefix)
			}
		})
	}
}

// pkt encodes one pkt-line.
func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
