-- Tokens get a name, an optional expiry and the time they were last used
-- (NULL: never expires, never used).
ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
CREATE INDEX tokens_user ON tokens (user_id, created_at);

-- A web session is started by signing in with a token and ends at sign-out,
-- at its expiry, or when that token is revoked (the cascade). Its cookie
-- holds "ons_<id>_<secret>"; only the secret's SHA-256 is kept.
CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_id   TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
	hash       BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);
CREATE INDEX sessions_token ON sessions (token_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
