package localgitea

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"text/template"
)

// appINI is the configuration Start writes before every run. Everything
// listens on 127.0.0.1 only; webhooks may call loopback addresses only, so
// that a test's Gitea can reach the test's server and nothing else.
var appINI = template.Must(template.New("app.ini").Parse(`; Written by onramp's localgitea on every start; edits are lost.
APP_NAME = onramp local Gitea
RUN_MODE = prod
RUN_USER = {{.RunUser}}
WORK_PATH = {{.DataDir}}
{{- if .Root}}
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
{{- end}}

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {{.HTTPPort}}
DOMAIN = 127.0.0.1
ROOT_URL = http://127.0.0.1:{{.HTTPPort}}/
LOCAL_ROOT_URL = http://127.0.0.1:{{.HTTPPort}}/
APP_DATA_PATH = {{.DataDir}}/data
STATIC_ROOT_PATH = {{.BinDir}}
OFFLINE_MODE = true
DISABLE_SSH = false
START_SSH_SERVER = true
BUILTIN_SSH_SERVER_USER = git
SSH_DOMAIN = 127.0.0.1
SSH_PORT = {{.SSHPort}}
SSH_LISTEN_HOST = 127.0.0.1
SSH_LISTEN_PORT = {{.SSHPort}}
SSH_SERVER_HOST_KEYS = {{.HostKey}}
SSH_CREATE_AUTHORIZED_KEYS_FILE = false
SSH_CREATE_AUTHORIZED_PRINCIPALS_FILE = false
LFS_START_SERVER = false

[database]
DB_TYPE = sqlite3
PATH = {{.DataDir}}/data/gitea.db
SQLITE_JOURNAL_MODE = WAL

[repository]
ROOT = {{.DataDir}}/repositories
DEFAULT_BRANCH = main
DEFAULT_PRIVATE = private

[security]
INSTALL_LOCK = true
SECRET_KEY = {{.SecretKey}}
INTERNAL_TOKEN = {{.InternalToken}}
PASSWORD_HASH_ALGO = pbkdf2_hi

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = true
ENABLE_NOTIFY_MAIL = false

[webhook]
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 5

[mailer]
ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[actions]
ENABLED = false

[packages]
ENABLED = false

[cron]
ENABLED = false

[cron.update_checker]
ENABLED = false

[log]
MODE = console
LEVEL = Warn
ROOT_PATH = {{.DataDir}}/log
`))

// config holds what appINI is filled with.
type config struct {
	RunUser, DataDir, BinDir, HostKey string
	Root                              bool
	HTTPPort, SSHPort                 int
	SecretKey, InternalToken          string
}

// writeConfig writes dataDir/app.ini for one run and returns its path.
func writeConfig(c config) (string, error) {
	var buf bytes.Buffer
	if err := appINI.Execute(&buf, c); err != nil {
		return "", fmt.Errorf("render app.ini: %w", err)
	}
	path := filepath.Join(c.DataDir, "app.ini")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("write app.ini: %w", err)
	}
	return path, nil
}

// runUser is the name Gitea must find itself running as.
func runUser() (name string, root bool, err error) {
	u, err := user.Current()
	if err != nil {
		return "", false, fmt.Errorf("find the current user: %w", err)
	}
	return u.Username, u.Uid == "0", nil
}

// keys are the secrets Gitea signs with; they must survive restarts, or
// every token and session stored in the data dir stops working.
type keys struct {
	SecretKey     string `json:"secret_key"`
	InternalToken string `json:"internal_token"`
}

// loadKeys reads dataDir/keys.json, creating it on first use.
func loadKeys(dataDir string) (keys, error) {
	path := filepath.Join(dataDir, "keys.json")
	var k keys
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &k); err != nil {
			return k, fmt.Errorf("read %s: %w; remove the data dir to start afresh", path, err)
		}
		return k, nil
	}
	k = keys{SecretKey: randomHex(32), InternalToken: randomHex(48)}
	if err := writeJSON(path, k); err != nil {
		return k, err
	}
	return k, nil
}

// writeJSON writes v to path, readable by the owner only.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)
}
