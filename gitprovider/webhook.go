package gitprovider

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/onramp/onramp"
)

// validHMAC reports whether sigHex is the hex HMAC-SHA256 of body with
// secret, compared in constant time.
func validHMAC(body []byte, secret, sigHex string) bool {
	got, err := hex.DecodeString(sigHex)
	if err != nil || secret == "" {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// validToken reports whether a delivery's shared token is secret, compared
// in constant time.
func validToken(got, secret string) bool {
	return secret != "" && subtle.ConstantTimeCompare([]byte(got), []byte(secret)) == 1
}

// badSignature is the error for a delivery not signed with the secret.
func badSignature(header string) error {
	return onramp.Errorf(onramp.EUNAUTHORIZED, "webhook delivery refused: its %s does not match the repository's webhook secret", header)
}

// pushPayload is the part of a push delivery onramp reads; Gitea, GitHub
// and GitLab share these fields.
type pushPayload struct {
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Repository struct {
		FullName          string `json:"full_name"`
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"repository"`
	Project struct {
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
}

// decodePush reads a delivery of the given event; only "push" is decoded.
func decodePush(event string, body []byte) (PushEvent, error) {
	ev := PushEvent{Event: event}
	if event != "push" {
		return ev, nil
	}
	var p pushPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return ev, onramp.Errorf(onramp.EMALFORMED, "webhook delivery is not a push event's JSON: %v", err)
	}
	ev.After = p.After
	ev.Branch, _ = strings.CutPrefix(p.Ref, "refs/heads/")
	if !strings.HasPrefix(p.Ref, "refs/heads/") {
		ev.Branch = ""
	}
	ev.Repository = p.Repository.FullName
	if ev.Repository == "" {
		ev.Repository = p.Project.PathWithNamespace
	}
	return ev, nil
}
