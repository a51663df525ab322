package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"

	"github.com/onramp/onramp"
)

var _ onramp.GitAuthorizer = (*DB)(nil)

// AuthorizeGit lets Flux read a project's repository with the project's
// sealed read credential; with an API token, its viewers read, its
// deployers and admins (the owner among them) read and write.
// Credentials are checked before the project is looked for, so that a
// caller without valid ones gets EUNAUTHORIZED whether the project exists
// or not; a signed-in caller gets ENOTFOUND for other owners' projects, so
// they stay invisible.
func (db *DB) AuthorizeGit(ctx context.Context, project, username, password string, write bool) error {
	if username == onramp.GitReadUser && !write {
		return db.authorizeGitRead(ctx, project, password)
	}
	u, err := db.Authenticate(ctx, password)
	if err != nil {
		return err
	}
	need, action := onramp.RoleViewer, ""
	if write {
		need, action = onramp.RoleDeployer, "pushing"
	}
	_, _, err = db.access(ctx, u.Name, project, need, action)
	return err
}

// authorizeGitRead checks Flux's read credential for project. A missing
// project is refused as a wrong credential is.
func (db *DB) authorizeGitRead(ctx context.Context, project, password string) error {
	wrong := onramp.Errorf(onramp.EUNAUTHORIZED, "wrong Git credentials for %s", project)
	id, _, err := db.gitProject(ctx, project)
	if onramp.ErrorCode(err) == onramp.ENOTFOUND {
		return wrong
	} else if err != nil {
		return err
	}
	cred, err := db.Credential(ctx, id, onramp.GitReadCredential)
	if err == nil && subtle.ConstantTimeCompare([]byte(cred), []byte(password)) == 1 {
		return nil
	}
	return wrong
}

// gitProject returns the ID and owner of the named project, or ENOTFOUND.
func (db *DB) gitProject(ctx context.Context, project string) (int64, string, error) {
	var id int64
	var owner string
	err := db.db.QueryRowContext(ctx, db.q(`SELECT p.id, u.name FROM projects p JOIN users u ON u.id = p.owner_id WHERE p.name = ?`), project).Scan(&id, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", notFound(project)
	}
	if err != nil {
		return 0, "", fmt.Errorf("find repository %s: %w", project, err)
	}
	return id, owner, nil
}
