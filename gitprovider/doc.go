// Package gitprovider creates and manages onramp's project repositories on
// external Git providers: Gitea, GitHub and GitLab, each through its
// official Go client, behind one interface, Provider.
//
//	p, err := gitprovider.New(gitprovider.Connection{Kind: "gitea", URL: url, Owner: "platform", Token: token})
//	id, err := p.Check(ctx)                              // when the user connects
//	repo, err := p.EnsureRepository(ctx, "shop")         // create_repository
//	rev, err := p.Push(ctx, repo, files, "Render shop")  // push_commit: "main@sha1:<sha>"
//	cred, err := p.EnsureDeployCredential(ctx, repo, sealedEarlier) // setup_gitops: cred.URL, cred.SecretData()
//	err = p.EnsureWebhook(ctx, repo, publicURL, secret)  // with ONRAMP_PUBLIC_URL
//	ev, err := p.VerifyWebhook(r, body, secret)          // each delivery: ev.Revision()
//	err = p.DeleteRepository(ctx, "shop")                // or RemoveWebhook + RemoveDeployCredential
//
// Every method is idempotent, and a repository onramp did not create (its
// description does not carry onramp's mark) is never taken, pushed to or
// deleted. Push and Head take the Repo that EnsureRepository or Repository
// returned, since they need its clone URL and default branch; the deploy
// credential's secret half is shown by a provider only once, so the caller
// keeps what EnsureDeployCredential returned (sealed) and hands it back.
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
