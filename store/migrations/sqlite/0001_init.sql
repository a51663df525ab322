-- Times are Unix microseconds in both engines so that one query serves both.
CREATE TABLE users (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);

CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash       BLOB NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE projects (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	name          TEXT NOT NULL UNIQUE,
	owner_id      INTEGER NOT NULL REFERENCES users (id),
	template      TEXT NOT NULL,
	params        TEXT NOT NULL,
	phase         TEXT NOT NULL,
	progress      INTEGER NOT NULL DEFAULT 0,
	repo_url      TEXT NOT NULL DEFAULT '',
	repo_branch   TEXT NOT NULL DEFAULT 'main',
	repo_revision TEXT NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);
CREATE INDEX projects_owner ON projects (owner_id, id DESC);

CREATE TABLE environments (
	project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	position   INTEGER NOT NULL,
	name       TEXT NOT NULL,
	type       TEXT NOT NULL,
	namespace  TEXT NOT NULL UNIQUE,
	path       TEXT NOT NULL,
	interval_s INTEGER NOT NULL,
	status     TEXT NOT NULL DEFAULT 'pending',
	PRIMARY KEY (project_id, name)
);

CREATE TABLE steps (
	project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	position    INTEGER NOT NULL,
	job         TEXT NOT NULL,
	name        TEXT NOT NULL,
	weight      INTEGER NOT NULL,
	status      TEXT NOT NULL DEFAULT 'pending',
	started_at  INTEGER,
	finished_at INTEGER,
	error       TEXT NOT NULL DEFAULT '',
	hint        TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (project_id, name)
);

CREATE TABLE log_lines (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	at         INTEGER NOT NULL,
	step       TEXT NOT NULL DEFAULT '',
	level      TEXT NOT NULL,
	message    TEXT NOT NULL
);
CREATE INDEX log_lines_project ON log_lines (project_id, id);

CREATE TABLE resources (
	project_id          INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	kind                TEXT NOT NULL,
	namespace           TEXT NOT NULL,
	name                TEXT NOT NULL,
	environment         TEXT NOT NULL,
	status              TEXT NOT NULL,
	reason              TEXT NOT NULL DEFAULT '',
	message             TEXT NOT NULL DEFAULT '',
	hint                TEXT NOT NULL DEFAULT '',
	revision            TEXT NOT NULL DEFAULT '',
	observed_generation INTEGER NOT NULL DEFAULT 0,
	observed_at         INTEGER NOT NULL,
	PRIMARY KEY (project_id, kind, namespace, name)
);

CREATE TABLE transitions (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	kind        TEXT NOT NULL,
	namespace   TEXT NOT NULL,
	name        TEXT NOT NULL,
	from_status TEXT NOT NULL,
	to_status   TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	message     TEXT NOT NULL DEFAULT '',
	revision    TEXT NOT NULL DEFAULT '',
	at          INTEGER NOT NULL
);
CREATE INDEX transitions_project ON transitions (project_id, id);

CREATE TABLE events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	type       TEXT NOT NULL,
	data       TEXT NOT NULL,
	at         INTEGER NOT NULL
);
CREATE INDEX events_project ON events (project_id, id);

CREATE TABLE credentials (
	project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	ciphertext BLOB NOT NULL,
	PRIMARY KEY (project_id, name)
);
