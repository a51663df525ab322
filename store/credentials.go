package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/onramp/onramp"
)

// EnsureCredential returns the project's named secret, creating it with
// generate on first use. It is stored sealed by db.Cipher, never in clear.
func (db *DB) EnsureCredential(ctx context.Context, projectID int64, name string, generate func() string) (string, error) {
	if v, err := db.Credential(ctx, projectID, name); err == nil || !errors.Is(err, sql.ErrNoRows) {
		return v, err
	}
	sealed, err := db.Cipher.Seal([]byte(generate()))
	if err != nil {
		return "", fmt.Errorf("seal credential %s: %w", name, err)
	}
	_, err = db.exec(ctx, `INSERT INTO credentials (project_id, name, ciphertext) VALUES (?, ?, ?) ON CONFLICT (project_id, name) DO NOTHING`,
		projectID, name, sealed)
	if err != nil {
		return "", fmt.Errorf("store credential %s: %w", name, err)
	}
	return db.Credential(ctx, projectID, name) // whoever inserted first wins
}

// SetCredential stores the project's named secret, sealed, replacing the
// one stored before.
func (db *DB) SetCredential(ctx context.Context, projectID int64, name, value string) error {
	sealed, err := db.Cipher.Seal([]byte(value))
	if err != nil {
		return fmt.Errorf("seal credential %s: %w", name, err)
	}
	_, err = db.exec(ctx, `INSERT INTO credentials (project_id, name, ciphertext) VALUES (?, ?, ?)
		ON CONFLICT (project_id, name) DO UPDATE SET ciphertext = excluded.ciphertext`, projectID, name, sealed)
	if err != nil {
		return fmt.Errorf("store credential %s: %w", name, err)
	}
	return nil
}

// Credential returns the project's named secret; sql.ErrNoRows if absent.
func (db *DB) Credential(ctx context.Context, projectID int64, name string) (string, error) {
	var sealed []byte
	err := db.db.QueryRowContext(ctx, db.q(`SELECT ciphertext FROM credentials WHERE project_id = ? AND name = ?`), projectID, name).Scan(&sealed)
	if err != nil {
		return "", fmt.Errorf("credential %s: %w", name, err)
	}
	plain, err := db.Cipher.Open(sealed)
	if err != nil {
		return "", fmt.Errorf("open credential %s: %w (was ONRAMP_SECRET_KEY changed?)", name, err)
	}
	return string(plain), nil
}

// CheckKey makes sure that db.Cipher holds the key this database's
// credentials are sealed with. The first process records a marker sealed
// with its key; a process whose key cannot open it is refused, before it
// seals anything the others could not read.
func (db *DB) CheckKey(ctx context.Context) error {
	sealed, err := db.Cipher.Seal([]byte("onramp key check"))
	if err != nil {
		return fmt.Errorf("seal key check: %w", err)
	}
	if _, err := db.exec(ctx, `INSERT INTO key_check (id, ciphertext) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, sealed); err != nil {
		return fmt.Errorf("record key check: %w", err)
	}
	if err := db.db.QueryRowContext(ctx, `SELECT ciphertext FROM key_check WHERE id = 1`).Scan(&sealed); err != nil {
		return fmt.Errorf("read key check: %w", err)
	}
	if _, err := db.Cipher.Open(sealed); err != nil {
		return onramp.Errorf(onramp.EINVALID, "this process's secret key is not the one the database's credentials are sealed with: "+
			"give every onramp process that shares the database the same ONRAMP_SECRET_KEY (the first one's is in its DATA_DIR/secret.key)")
	}
	return nil
}
