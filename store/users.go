package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/onramp/onramp"
)

// Tokens look like "onr_<id>_<secret>": the id finds the row, the secret is
// compared against its SHA-256 hash in constant time. Only the hash is kept.
const tokenPrefix = "onr_"

var _ onramp.AuthService = (*DB)(nil)

// CreateToken creates the user if needed and returns a new API token.
func (db *DB) CreateToken(ctx context.Context, user string) (string, error) {
	if err := onramp.ValidateName(user); err != nil {
		return "", onramp.FieldErrorf("user", "user name %q must be a lowercase DNS label (letters, digits, '-')", user)
	}
	id, secret := randomString(9), randomString(24)
	sum := sha256.Sum256([]byte(secret))
	err := db.withTx(ctx, func(tx *txn) error {
		userID, err := db.ensureUser(ctx, tx, user)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO tokens (id, user_id, hash, created_at) VALUES (?, ?, ?, ?)`),
			id, userID, sum[:], db.now())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create token for %s: %w", user, err)
	}
	return tokenPrefix + id + "_" + secret, nil
}

// ensureUser returns the user's ID, recording the user first if new: one
// statement for a known user.
func (db *DB) ensureUser(ctx context.Context, tx *txn, name string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT id FROM users WHERE name = ?`), name).Scan(&id)
	if !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	// Another transaction may record the same user meanwhile.
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO users (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), name, db.now())
	if err != nil {
		return 0, err
	}
	err = tx.QueryRowContext(ctx, db.q(`SELECT id FROM users WHERE name = ?`), name).Scan(&id)
	return id, err
}

// Authenticate returns the user a token belongs to.
func (db *DB) Authenticate(ctx context.Context, token string) (*onramp.User, error) {
	unauthorized := onramp.Errorf(onramp.EUNAUTHORIZED, "invalid API token: create one with `onramp token create --user NAME`")
	id, secret, ok := splitToken(token)
	if !ok {
		return nil, unauthorized
	}
	var u onramp.User
	var hash []byte
	var created int64
	err := db.db.QueryRowContext(ctx, db.q(`SELECT u.id, u.name, u.created_at, t.hash FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`), id).
		Scan(&u.ID, &u.Name, &created, &hash)
	sum := sha256.Sum256([]byte(secret))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, unauthorized
	case err != nil:
		return nil, fmt.Errorf("authenticate: %w", err)
	case subtle.ConstantTimeCompare(hash, sum[:]) != 1:
		return nil, unauthorized
	}
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

// splitToken returns a token's id and secret. A token that is not made of
// the letters and digits onramp writes is refused here, before it reaches
// the database: PostgreSQL refuses a NUL byte or invalid UTF-8 in a query
// parameter with an error, which is no reason to answer 500.
func splitToken(token string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || !alphanumeric(id) || !alphanumeric(secret) || len(id) > 64 || len(secret) > 64 {
		return "", "", false
	}
	return id, secret, true
}

// alphanumeric reports whether s is non-empty and only ASCII letters and
// digits, which is all randomString writes.
func alphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.NewReplacer("-", "a", "_", "b").Replace(base64.RawURLEncoding.EncodeToString(b))
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}
