// Package status keeps every project's resources, environments and phase
// current with what Flux reports, and explains failures in terms of what
// to do.
package status

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/onramp/onramp"
)

// Facts are what onramp knows beyond Flux's message, used to make hints
// concrete.
type Facts struct {
	// Project is the project's name, for commands in hints.
	Project string
	// Overlays returns the overlay directories in the pushed commit.
	Overlays func() []string
	// CredentialExists says whether onramp still holds the project's Git
	// read credential.
	CredentialExists func() bool
}

// The facts beyond the name are read only by the hints that use them.
func (f Facts) overlays() []string {
	if f.Overlays == nil {
		return nil
	}
	return f.Overlays()
}

func (f Facts) credentialExists() bool { return f.CredentialExists != nil && f.CredentialExists() }

// rule turns one kind of Flux failure into a hint.
type rule struct {
	kind    string // "" for any kind
	reason  string // "" for any reason
	message *regexp.Regexp
	// waiting marks conditions that are not failures: the object waits for
	// something that is on its way.
	waiting bool
	hint    func(r onramp.Resource, m []string, f Facts) string
}

var rules = []rule{
	{kind: onramp.KindKustomization, reason: "ArtifactFailed", message: regexp.MustCompile(`kustomization path not found: stat \S*?/kustomization-[^/]+/(\S+?):`),
		hint: func(r onramp.Resource, m []string, f Facts) string {
			existing := "none"
			if overlays := f.overlays(); len(overlays) > 0 {
				existing = strings.Join(overlays, ", ")
			}
			return fmt.Sprintf("the path ./%s does not exist in revision %s; directories with a kustomization in the pushed commit: %s. Restore the directory in the repository, or run `onramp project retry %s` to re-apply onramp's path", m[1], r.Revision, existing, f.Project)
		}},
	{kind: onramp.KindKustomization, reason: "ArtifactFailed", message: regexp.MustCompile(`Source artifact not found`), waiting: true,
		hint: func(r onramp.Resource, _ []string, f Facts) string {
			return fmt.Sprintf("waits for GitRepository %s/%s to fetch its first revision; see that object's status", r.Namespace, r.Name)
		}},
	{kind: onramp.KindKustomization, reason: "DependencyNotReady", waiting: true,
		hint: func(r onramp.Resource, _ []string, _ Facts) string {
			return "waits for the objects it depends on to become ready"
		}},
	{kind: onramp.KindGitRepository, reason: "GitOperationFailed", message: regexp.MustCompile(`(?i)authentication required|unauthorized|authorization failed`),
		hint: func(r onramp.Resource, _ []string, f Facts) string {
			cred := "onramp still holds the project's read credential, so the Secret was probably changed outside onramp"
			if !f.credentialExists() {
				cred = "onramp no longer holds a read credential for this repository"
			}
			return fmt.Sprintf("Flux cannot authenticate with Secret %s/%s-git; %s. Run `onramp project retry %s` to re-apply the Secret", r.Namespace, f.Project, cred, f.Project)
		}},
	{kind: onramp.KindGitRepository, reason: "GitOperationFailed",
		hint: func(r onramp.Resource, _ []string, _ Facts) string {
			return "Flux cannot clone the repository: check that onramp's Git server (or ONRAMP_GIT_URL) is reachable from the cluster"
		}},
	{kind: onramp.KindKustomization, reason: "BuildFailed",
		hint: func(r onramp.Resource, _ []string, _ Facts) string {
			at := ""
			if r.Revision != "" {
				at = " in revision " + r.Revision
			}
			return "kustomize build failed" + at + ": " + firstLine(r.Message) + ". Fix the overlay in the repository; Flux retries every 30s"
		}},
	{kind: onramp.KindKustomization, reason: "HealthCheckFailed", message: regexp.MustCompile(`timeout waiting for: \[(.*)\]`),
		hint: func(_ onramp.Resource, m []string, _ Facts) string {
			return "these objects did not become ready in time: " + m[1] + "; look at their events and logs"
		}},
	{reason: "", message: nil,
		hint: func(r onramp.Resource, _ []string, f Facts) string {
			if r.Status == onramp.StatusMissing {
				return fmt.Sprintf("%s %s/%s was deleted outside onramp; run `onramp project retry %s` to re-create it", r.Kind, r.Namespace, r.Name, f.Project)
			}
			if r.Status == onramp.StatusStalled {
				return "Flux stopped retrying: " + firstLine(r.Message) + ". Fix the cause, then run `onramp project retry " + f.Project + "`"
			}
			if r.Status == onramp.StatusFailed {
				return "Flux reports " + r.Reason + ": " + firstLine(r.Message)
			}
			return ""
		}},
}

// Diagnose returns r with its hint set, and with a failure that is only a
// wait for something on its way (a source not fetched yet) turned back
// into reconciling.
func Diagnose(r onramp.Resource, f Facts) onramp.Resource {
	r.Hint = ""
	if r.Status == onramp.StatusReady || r.Status == onramp.StatusPending {
		return r
	}
	for _, rl := range rules {
		if rl.kind != "" && rl.kind != r.Kind || rl.reason != "" && rl.reason != r.Reason {
			continue
		}
		var m []string
		if rl.message != nil {
			if m = rl.message.FindStringSubmatch(r.Message); m == nil {
				continue
			}
		}
		if rl.waiting && r.Status == onramp.StatusFailed {
			r.Status = onramp.StatusReconciling
		}
		r.Hint = rl.hint(r, m, f)
		return r
	}
	return r
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
