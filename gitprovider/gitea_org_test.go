package gitprovider_test

import (
	"strings"
	"testing"

	"code.gitea.io/sdk/gitea"

	"github.com/onramp/onramp"
)

// TestGiteaOrganisation: repositories under an organisation, for its owner
// and for a member whose team may or may not create repositories.
func TestGiteaOrganisation(t *testing.T) {
	e := newGiteaEnv(t)
	org := "platform-" + randomSuffix()
	if _, _, err := e.admin.CreateOrg(gitea.CreateOrgOption{Name: org, Visibility: gitea.VisibleTypePrivate}); err != nil {
		t.Fatal(err)
	}
	owner := giteaProvider(t, e.g, org, e.g.Admin.Token)
	id, err := owner.Check(ctx(t))
	if err != nil || id.OwnerKind != "organization" || id.Owner != org {
		t.Fatalf("Check() as the organisation's owner = %+v, %v; want organization %s", id, err, org)
	}
	repo, err := owner.EnsureRepository(ctx(t), projectName(t))
	if err != nil || repo.Owner != org || !repo.Private {
		t.Fatalf("EnsureRepository() in %s = %+v, %v; want a private repository there", org, repo, err)
	}
	if err := owner.DeleteRepository(ctx(t), repo.Name); err != nil {
		t.Fatal(err)
	}

	readers, _, err := e.admin.CreateTeam(org, gitea.CreateTeamOption{Name: "readers", Permission: gitea.AccessModeRead, Units: []gitea.RepoUnitType{gitea.RepoUnitCode}})
	if err != nil {
		t.Fatal(err)
	}
	member, token := e.user(t)
	if _, err := e.admin.AddTeamMember(readers.ID, member); err != nil {
		t.Fatal(err)
	}
	_, err = giteaProvider(t, e.g, org, token).Check(ctx(t))
	wantCode(t, err, onramp.EUNAUTHORIZED)
	if want := "user " + member + " may not create repositories in organisation `" + org + "`"; !strings.Contains(onramp.ErrorMessage(err), want) {
		t.Errorf("Check() as a reader = %q; want it to say %q", onramp.ErrorMessage(err), want)
	}

	makers, _, err := e.admin.CreateTeam(org, gitea.CreateTeamOption{Name: "makers", Permission: gitea.AccessModeWrite, CanCreateOrgRepo: true, Units: []gitea.RepoUnitType{gitea.RepoUnitCode}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.AddTeamMember(makers.ID, member); err != nil {
		t.Fatal(err)
	}
	if _, err := giteaProvider(t, e.g, org, token).Check(ctx(t)); err != nil {
		t.Errorf("Check() as a member of a team that may create repositories: %v", err)
	}
}

// user creates a user and a token of it with the scopes onramp asks for.
func (e *giteaEnv) user(t *testing.T) (name, token string) {
	t.Helper()
	name, password := "dev-"+randomSuffix(), "pw-"+randomSuffix()+randomSuffix()
	mustChange := false
	if _, _, err := e.admin.AdminCreateUser(gitea.CreateUserOption{Username: name, Email: name + "@example.com", Password: password, MustChangePassword: &mustChange}); err != nil {
		t.Fatal(err)
	}
	c, err := gitea.NewClient(e.g.URL, gitea.SetBasicAuth(name, password), gitea.SetGiteaVersion(""))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := c.CreateAccessToken(gitea.CreateAccessTokenOption{Name: "onramp", Scopes: []gitea.AccessTokenScope{"write:repository", "write:user", "write:organization"}})
	if err != nil {
		t.Fatal(err)
	}
	return name, tok.Token
}
