-- A user's connection to an external Git provider. The token is sealed
-- with the secret key (AES-256-GCM), never stored in clear.
CREATE TABLE git_connections (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	url        TEXT NOT NULL,
	owner      TEXT NOT NULL,
	login      TEXT NOT NULL,
	token      BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (user_id, name)
);

-- The connection a project's repository lives on; NULL for the built-in
-- Git server. A connection in use cannot be removed.
ALTER TABLE projects ADD COLUMN git_connection_id INTEGER REFERENCES git_connections (id);
CREATE INDEX projects_git_connection ON projects (git_connection_id);
