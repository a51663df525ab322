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
	"time"

	"github.com/onramp/onramp"
)

// Tokens look like "onr_<id>_<secret>": the id finds the row, the secret is
// compared against its SHA-256 hash in constant time. Only the hash is kept.
const tokenPrefix = "onr_"

// MaxTokensPerUser bounds the tokens one user may hold, so that a token
// cannot fill the database with more of them.
const MaxTokensPerUser = 100

// lastUsedEvery is how stale a token's last_used_at may get: a check
// writes it only when it is older, so most checks stay reads.
const lastUsedEvery = time.Minute

var _ onramp.AuthService = (*DB)(nil)

// CreateToken issues a token without a name or an expiry and returns its
// secret: what `onramp dev` and the tests need.
func (db *DB) CreateToken(ctx context.Context, user string) (string, error) {
	t, err := db.IssueToken(ctx, user, onramp.TokenCreate{})
	if err != nil {
		return "", err
	}
	return t.Secret, nil
}

// IssueToken creates the user if needed and returns a new API token.
func (db *DB) IssueToken(ctx context.Context, user string, c onramp.TokenCreate) (*onramp.NewToken, error) {
	if err := onramp.ValidateName(user); err != nil {
		return nil, onramp.FieldErrorf("user", "user name %q must be a lowercase DNS label (letters, digits, '-')", user)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	now := db.Now().UTC().Truncate(time.Microsecond)
	t := &onramp.NewToken{Token: onramp.Token{ID: randomString(9), Name: c.Name, CreatedAt: now}}
	var expires *int64
	if c.ExpiresIn > 0 {
		at := now.Add(c.ExpiresIn.Std())
		t.ExpiresAt, expires = &at, ptr(at.UnixMicro())
	}
	secret := randomString(24)
	sum := sha256.Sum256([]byte(secret))
	err := db.withTx(ctx, func(tx *txn) error {
		userID, err := db.ensureUser(ctx, tx, user)
		if err != nil {
			return err
		}
		if err := db.checkTokenCount(ctx, tx, userID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO tokens (id, user_id, hash, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
			t.ID, userID, sum[:], t.Name, now.UnixMicro(), expires)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create token for %s: %w", user, err)
	}
	t.Secret = tokenPrefix + t.ID + "_" + secret
	return t, nil
}

// checkTokenCount refuses a new token to a user who holds the most.
func (db *DB) checkTokenCount(ctx context.Context, tx *txn, userID int64) error {
	var n int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT count(*) FROM tokens WHERE user_id = ?`), userID).Scan(&n); err != nil {
		return err
	}
	if n >= MaxTokensPerUser {
		return onramp.Errorf(onramp.ECONFLICT, "you hold %d API tokens, the most a user may: revoke one with `onramp token revoke ID` (`onramp token list` shows them)", n)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

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

// ListTokens returns the user's tokens, oldest first, expired ones too
// (so that they can be seen and revoked).
func (db *DB) ListTokens(ctx context.Context, user string) ([]*onramp.Token, error) {
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT t.id, t.name, t.created_at, t.expires_at, t.last_used_at
		FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = ? ORDER BY t.created_at, t.id`), user)
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", user, err)
	}
	defer rows.Close()
	tokens := []*onramp.Token{}
	for rows.Next() {
		var t onramp.Token
		var created int64
		var expires, used sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &created, &expires, &used); err != nil {
			return nil, fmt.Errorf("list tokens of %s: %w", user, err)
		}
		t.CreatedAt, t.ExpiresAt, t.LastUsedAt = fromMicros(created), nullTime(expires), nullTime(used)
		tokens = append(tokens, &t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", user, err)
	}
	return tokens, nil
}

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	return ptr(fromMicros(v.Int64))
}

// RevokeToken deletes one of the user's tokens; the sessions started with
// it go with it (the foreign key's cascade). From the commit on, every
// check of the token or of those sessions fails.
func (db *DB) RevokeToken(ctx context.Context, user, id string) error {
	missing := onramp.Errorf(onramp.ENOTFOUND, "you have no API token %q: `onramp token list` shows yours", id)
	if !alphanumeric(id) || len(id) > 64 {
		return missing
	}
	res, err := db.exec(ctx, `DELETE FROM tokens WHERE id = ? AND user_id = (SELECT id FROM users WHERE name = ?)`, id, user)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	} else if n == 0 {
		return missing
	}
	return nil
}

// Authenticate returns the user a token belongs to.
func (db *DB) Authenticate(ctx context.Context, token string) (*onramp.User, error) {
	u, _, err := db.checkToken(ctx, token)
	return u, err
}

// tokenRow is what a check of a token learns besides its user.
type tokenRow struct {
	id        string
	expiresAt sql.NullInt64
}

// checkToken returns the token's user and row, or EUNAUTHORIZED if the
// token is unknown, revoked or expired, and records its use.
func (db *DB) checkToken(ctx context.Context, token string) (*onramp.User, tokenRow, error) {
	unauthorized := onramp.Errorf(onramp.EUNAUTHORIZED, "invalid API token (unknown, revoked or expired): create one with `onramp token create --user NAME`")
	id, secret, ok := splitSecret(tokenPrefix, token)
	if !ok {
		return nil, tokenRow{}, unauthorized
	}
	var u onramp.User
	var hash []byte
	var created int64
	var used sql.NullInt64
	row := tokenRow{id: id}
	err := db.db.QueryRowContext(ctx, db.q(`SELECT u.id, u.name, u.created_at, t.hash, t.expires_at, t.last_used_at
		FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`), id).
		Scan(&u.ID, &u.Name, &created, &hash, &row.expiresAt, &used)
	sum := sha256.Sum256([]byte(secret))
	now := db.now()
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, row, unauthorized
	case err != nil:
		return nil, row, fmt.Errorf("authenticate: %w", err)
	case subtle.ConstantTimeCompare(hash, sum[:]) != 1:
		return nil, row, unauthorized
	case row.expiresAt.Valid && row.expiresAt.Int64 <= now:
		return nil, row, unauthorized
	}
	if !used.Valid || now-used.Int64 >= lastUsedEvery.Microseconds() {
		if _, err := db.exec(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, now, id); err != nil {
			return nil, row, fmt.Errorf("record the use of token %s: %w", id, err)
		}
	}
	u.CreatedAt = fromMicros(created)
	return &u, row, nil
}

// splitSecret returns the id and secret of a token or session ID that
// starts with prefix. One that is not made of the letters and digits
// onramp writes is refused here, before it reaches the database:
// PostgreSQL refuses a NUL byte or invalid UTF-8 in a query parameter with
// an error, which is no reason to answer 500.
func splitSecret(prefix, s string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(s, prefix)
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
