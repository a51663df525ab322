package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"

	"github.com/onramp/onramp"
)

var _ onramp.GitAuthorizer = (*DB)(nil)

// AuthorizeGit lets Flux read a project's repository with the project's
// sealed read credential, and its owner read and write with an API token.
// Anyone else gets ENOTFOUND, so other owners' projects stay invisible.
func (db *DB) AuthorizeGit(ctx context.Context, project, username, password string, write bool) error {
	var id int64
	var owner string
	err := db.db.QueryRowContext(ctx, db.q(`SELECT p.id, u.name FROM projects p JOIN users u ON u.id = p.owner_id WHERE p.name = ?`), project).Scan(&id, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(project)
	}
	if err != nil {
		return err
	}
	if username == onramp.GitReadUser && !write {
		cred, err := db.Credential(ctx, id, onramp.GitReadCredential)
		if err == nil && subtle.ConstantTimeCompare([]byte(cred), []byte(password)) == 1 {
			return nil
		}
		return onramp.Errorf(onramp.EUNAUTHORIZED, "wrong Git credentials for %s", project)
	}
	u, err := db.Authenticate(ctx, password)
	if err != nil {
		return err
	}
	if u.Name != owner {
		return notFound(project)
	}
	return nil
}
