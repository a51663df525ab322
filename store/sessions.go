package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onramp/onramp"
)

// Session IDs look like tokens, "ons_<id>_<secret>", and are kept the same
// way: the id finds the row, only the secret's hash is stored.
const sessionPrefix = "ons_"

// SessionLifetime is how long a web session lasts from sign-in. It is
// fixed, not sliding: a session ends at the latest this long after the
// token was last typed in, however busy the page, and no request needs a
// write to keep it alive. A session never outlives its token's expiry.
const SessionLifetime = 12 * time.Hour

// MaxSessionsPerUser bounds one user's live sessions: a sign-in past it
// ends the user's oldest.
const MaxSessionsPerUser = 100

// StartSession checks token and starts a session of its user.
func (db *DB) StartSession(ctx context.Context, token string) (string, *onramp.User, error) {
	u, t, err := db.checkToken(ctx, token)
	if err != nil {
		return "", nil, err
	}
	now := db.now()
	expires := now + SessionLifetime.Microseconds()
	if t.expiresAt.Valid {
		expires = min(expires, t.expiresAt.Int64)
	}
	id, secret := randomString(9), randomString(24)
	sum := sha256.Sum256([]byte(secret))
	err = db.withTx(ctx, func(tx *txn) error {
		// Expired sessions of anyone are removed here, where the table grows.
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE expires_at <= ?`), now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO sessions (id, user_id, token_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
			id, u.ID, t.id, sum[:], now, expires); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE user_id = ? AND id NOT IN
			(SELECT id FROM sessions WHERE user_id = ? ORDER BY created_at DESC, id LIMIT ?)`), u.ID, u.ID, MaxSessionsPerUser)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("start session of %s: %w", u.Name, err)
	}
	return sessionPrefix + id + "_" + secret, u, nil
}

// AuthenticateSession returns the user of a live session.
func (db *DB) AuthenticateSession(ctx context.Context, session string) (*onramp.User, error) {
	unauthorized := onramp.Errorf(onramp.EUNAUTHORIZED, "your session has ended (signed out, expired, or its token revoked): sign in again")
	id, secret, ok := splitSecret(sessionPrefix, session)
	if !ok {
		return nil, unauthorized
	}
	var u onramp.User
	var hash []byte
	var created, expires int64
	err := db.db.QueryRowContext(ctx, db.q(`SELECT u.id, u.name, u.created_at, s.hash, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`), id).
		Scan(&u.ID, &u.Name, &created, &hash, &expires)
	sum := sha256.Sum256([]byte(secret))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, unauthorized
	case err != nil:
		return nil, fmt.Errorf("authenticate session: %w", err)
	case subtle.ConstantTimeCompare(hash, sum[:]) != 1, expires <= db.now():
		return nil, unauthorized
	}
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

// EndSession deletes a session; one that is unknown or not well formed is
// already ended. Only the holder of its secret can end it.
func (db *DB) EndSession(ctx context.Context, session string) error {
	id, secret, ok := splitSecret(sessionPrefix, session)
	if !ok {
		return nil
	}
	sum := sha256.Sum256([]byte(secret))
	if _, err := db.exec(ctx, `DELETE FROM sessions WHERE id = ? AND hash = ?`, id, sum[:]); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}
