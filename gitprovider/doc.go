// Package gitprovider creates and manages onramp's project repositories on
// external Git providers: Gitea, GitHub and GitLab, each through its
// official Go client, behind one interface, Provider.
//
// What each kind does:
//
//	                      Gitea                   GitHub                  GitLab
//	repository            private, under a user or organisation          ... or group
//	onramp's mark         the description starts "Managed by onramp: project <name>."
//	Flux's credential     read-only deploy key,   read-only deploy key,   deploy token with
//	                      SSH, known_hosts from   SSH, known_hosts from   read_repository,
//	                      the server (or pinned)  GET /meta (or pinned)   HTTPS basic auth
//	webhook signature     X-Gitea-Signature       X-Hub-Signature-256     X-Gitlab-Token
//	push                  go-git over HTTPS with the token, in memory
//
// Errors are *Error values: an onramp code and a message that says what to
// do (errors.As finds them as *onramp.Error), whether a retry may help
// (errors.Is(err, ErrUnavailable)) and until when a rate limit holds
// (RetryAt). A token never appears in an error, a log line or a URL.
// docs/gitproviders.md says what was tested against a real server.
package gitprovider
