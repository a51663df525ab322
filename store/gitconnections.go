package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/onramp/onramp"
)

var _ onramp.GitConnectionService = (*DB)(nil)

// CreateGitConnection records c for owner with its token sealed by
// db.Cipher; a name the owner already uses is ECONFLICT.
func (db *DB) CreateGitConnection(ctx context.Context, owner string, c onramp.GitConnectionCreate, login string) (*onramp.GitConnection, error) {
	sealed, err := db.Cipher.Seal([]byte(c.Token))
	if err != nil {
		return nil, fmt.Errorf("seal the token of git connection %s: %w", c.Name, err)
	}
	now := db.now()
	err = db.withTx(ctx, func(tx *txn) error {
		userID, err := db.ensureUser(ctx, tx, owner)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO git_connections (user_id, name, kind, url, owner, login, token, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), userID, c.Name, c.Kind, c.URL, c.Owner, login, sealed, now)
		return err
	})
	if isUniqueViolation(err) {
		return nil, onramp.Errorf(onramp.ECONFLICT, "you already have a git connection named %s: choose another name, or `onramp git disconnect %s` first", c.Name, c.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("create git connection %s: %w", c.Name, err)
	}
	return &onramp.GitConnection{Name: c.Name, Kind: c.Kind, URL: c.URL, Owner: c.Owner, Login: login, CreatedAt: fromMicros(now)}, nil
}

const gitConnectionColumns = `g.name, g.kind, g.url, g.owner, g.login, g.created_at`

func scanGitConnection(row interface{ Scan(...any) error }) (*onramp.GitConnection, error) {
	var c onramp.GitConnection
	var created int64
	if err := row.Scan(&c.Name, &c.Kind, &c.URL, &c.Owner, &c.Login, &created); err != nil {
		return nil, err
	}
	c.CreatedAt = fromMicros(created)
	return &c, nil
}

// GitConnections returns the owner's connections by name.
func (db *DB) GitConnections(ctx context.Context, owner string) ([]*onramp.GitConnection, error) {
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT `+gitConnectionColumns+`
		FROM git_connections g JOIN users u ON u.id = g.user_id WHERE u.name = ? ORDER BY g.name`), owner)
	if err != nil {
		return nil, fmt.Errorf("list git connections of %s: %w", owner, err)
	}
	defer rows.Close()
	list := []*onramp.GitConnection{}
	for rows.Next() {
		c, err := scanGitConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("list git connections of %s: %w", owner, err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list git connections of %s: %w", owner, err)
	}
	return list, nil
}

// FindGitConnection returns the owner's connection name; ENOTFOUND for a
// missing one or another owner's.
func (db *DB) FindGitConnection(ctx context.Context, owner, name string) (*onramp.GitConnection, error) {
	c, err := scanGitConnection(db.db.QueryRowContext(ctx, db.q(`SELECT `+gitConnectionColumns+`
		FROM git_connections g JOIN users u ON u.id = g.user_id WHERE u.name = ? AND g.name = ?`), owner, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoGitConnection(name)
	}
	if err != nil {
		return nil, fmt.Errorf("git connection %s: %w", name, err)
	}
	return c, nil
}

func errNoGitConnection(name string) error {
	return onramp.Errorf(onramp.ENOTFOUND, "no git connection %s: `onramp git list` shows yours", name)
}

// DeleteGitConnection removes the owner's connection name, refused while
// a project uses it.
func (db *DB) DeleteGitConnection(ctx context.Context, owner, name string) error {
	return db.withTx(ctx, func(tx *txn) error {
		var id int64
		err := tx.QueryRowContext(ctx, db.q(`SELECT g.id FROM git_connections g JOIN users u ON u.id = g.user_id
			WHERE u.name = ? AND g.name = ?`), owner, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoGitConnection(name)
		}
		if err != nil {
			return fmt.Errorf("git connection %s: %w", name, err)
		}
		var project string
		err = tx.QueryRowContext(ctx, db.q(`SELECT name FROM projects WHERE git_connection_id = ? ORDER BY id LIMIT 1`), id).Scan(&project)
		if err == nil {
			return onramp.Errorf(onramp.ECONFLICT, "project %s uses git connection %s: delete the project first (`onramp project delete %s --wait`)", project, name, project)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("projects on git connection %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM git_connections WHERE id = ?`), id); err != nil {
			return fmt.Errorf("delete git connection %s: %w", name, err)
		}
		return nil
	})
}

// GitConnectionToken returns the token of the owner's connection name,
// opened with db.Cipher; for the jobs that act on the provider.
func (db *DB) GitConnectionToken(ctx context.Context, owner, name string) (string, error) {
	var sealed []byte
	err := db.db.QueryRowContext(ctx, db.q(`SELECT g.token FROM git_connections g JOIN users u ON u.id = g.user_id
		WHERE u.name = ? AND g.name = ?`), owner, name).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNoGitConnection(name)
	}
	if err != nil {
		return "", fmt.Errorf("git connection %s: %w", name, err)
	}
	plain, err := db.Cipher.Open(sealed)
	if err != nil {
		return "", fmt.Errorf("open the token of git connection %s: %w (was ONRAMP_SECRET_KEY changed?)", name, err)
	}
	return string(plain), nil
}

// gitConnectionID returns the ID of the owner's connection name, nil for
// "" (the built-in Git server); an unknown name is EINVALID naming git.
func (db *DB) gitConnectionID(ctx context.Context, tx *txn, owner, name string) (*int64, error) {
	if name == "" {
		return nil, nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT g.id FROM git_connections g JOIN users u ON u.id = g.user_id
		WHERE u.name = ? AND g.name = ?`), owner, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, onramp.FieldErrorf("git", "no git connection %s: connect it with `onramp git connect %s …` (`onramp git list` shows yours)", name, name)
	}
	if err != nil {
		return nil, fmt.Errorf("git connection %s: %w", name, err)
	}
	return &id, nil
}

// ProjectGitConnection returns the connection of project id and its
// token, opened with db.Cipher, for the jobs that act on the provider.
func (db *DB) ProjectGitConnection(ctx context.Context, id int64) (*onramp.GitConnection, string, error) {
	var sealed []byte
	var created int64
	var c onramp.GitConnection
	err := db.db.QueryRowContext(ctx, db.q(`SELECT g.name, g.kind, g.url, g.owner, g.login, g.created_at, g.token
		FROM git_connections g JOIN projects p ON p.git_connection_id = g.id WHERE p.id = ?`), id).
		Scan(&c.Name, &c.Kind, &c.URL, &c.Owner, &c.Login, &created, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", onramp.Errorf(onramp.ENOTFOUND, "project %d has no git connection", id)
	}
	if err != nil {
		return nil, "", fmt.Errorf("git connection of project %d: %w", id, err)
	}
	plain, err := db.Cipher.Open(sealed)
	if err != nil {
		return nil, "", fmt.Errorf("open the token of git connection %s: %w (was ONRAMP_SECRET_KEY changed?)", c.Name, err)
	}
	c.CreatedAt = fromMicros(created)
	return &c, string(plain), nil
}
