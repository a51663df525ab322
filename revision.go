package onramp

import "strings"

// RevisionSHA returns the commit SHA of revision: "main@sha1:<sha>" as Flux
// writes it, "sha1:<sha>", or a bare SHA, in lower case. Anything else is
// EINVALID, so that the SHA is safe to put in a path or a URL.
func RevisionSHA(revision string) (string, error) {
	sha := revision
	if i := strings.LastIndex(sha, "sha1:"); i >= 0 && (i == 0 || sha[i-1] == '@') {
		sha = sha[i+len("sha1:"):]
	}
	sha = strings.ToLower(sha)
	if len(sha) != 40 || strings.Trim(sha, "0123456789abcdef") != "" {
		return "", Errorf(EINVALID, "revision %q is not a commit: want main@sha1:<40 hex digits> or a SHA", revision)
	}
	return sha, nil
}
