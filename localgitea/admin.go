package localgitea

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// adminUser is the name of the administrator Start creates.
const adminUser = "onramp-admin"

// tokenLine starts the line on which `gitea admin user create` prints the
// new token.
const tokenLine = "Access token was successfully created... "

// ensureAdmin returns the data dir's administrator, creating it with an
// access token of every scope on first use. The credentials are kept in
// dataDir/admin.json, readable by the owner only.
func ensureAdmin(ctx context.Context, bin, dataDir, cfgPath string) (Admin, error) {
	path := filepath.Join(dataDir, "admin.json")
	var a Admin
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &a); err != nil || a.Token == "" {
			return a, fmt.Errorf("read %s: unreadable admin credentials; remove the data dir to start afresh", path)
		}
		return a, nil
	}
	a = Admin{User: adminUser, Password: randomHex(16)}
	out, err := giteaOutput(ctx, bin, dataDir, "admin", "user", "create", "--config", cfgPath,
		"--username", a.User, "--password", a.Password, "--email", a.User+"@localhost",
		"--admin", "--must-change-password=false",
		"--access-token", "--access-token-name", "onramp", "--access-token-scopes", "all")
	if err != nil {
		return a, fmt.Errorf("create gitea admin: %w", err)
	}
	if a.Token = parseToken(out); a.Token == "" {
		return a, fmt.Errorf("create gitea admin: no access token in gitea's answer")
	}
	return a, writeJSON(path, a)
}

// parseToken finds the token in the output of `gitea admin user create`.
func parseToken(out []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), tokenLine); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// runGitea runs a gitea subcommand to its end.
func runGitea(ctx context.Context, bin, dataDir string, args ...string) error {
	_, err := giteaOutput(ctx, bin, dataDir, args...)
	return err
}

// giteaOutput runs a gitea subcommand and returns its standard output. The
// error carries the tail of standard error only: standard output may hold a
// token.
func giteaOutput(ctx context.Context, bin, dataDir string, args ...string) ([]byte, error) {
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 4096}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dataDir
	cmd.Env = giteaEnv(dataDir)
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("gitea %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// giteaEnv is the environment every gitea command runs with: the data dir
// as its work path and custom folder, and nothing of the caller's Gitea.
func giteaEnv(dataDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GITEA_") {
			env = append(env, kv)
		}
	}
	return append(env, "GITEA_WORK_DIR="+dataDir, "GITEA_CUSTOM="+filepath.Join(dataDir, "custom"))
}
