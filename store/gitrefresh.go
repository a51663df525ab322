package store

import (
	"context"
	"fmt"

	"github.com/onramp/onramp"
)

// RefreshGitConnections seals c's token anew into every connection named
// c.Name that points at c's provider and owner, and returns how many it
// changed: the server's own connection, made for each user from its
// configuration, follows a token the operator rotated.
func (db *DB) RefreshGitConnections(ctx context.Context, c onramp.GitConnectionCreate) (int64, error) {
	sealed, err := db.Cipher.Seal([]byte(c.Token))
	if err != nil {
		return 0, fmt.Errorf("seal the token of git connection %s: %w", c.Name, err)
	}
	res, err := db.exec(ctx, `UPDATE git_connections SET token = ? WHERE name = ? AND kind = ? AND url = ? AND owner = ?`,
		sealed, c.Name, c.Kind, c.URL, c.Owner)
	if err != nil {
		return 0, fmt.Errorf("refresh the token of git connections %s: %w", c.Name, err)
	}
	return res.RowsAffected()
}
