-- A project's teammates: every user but the owner who may see it, and
-- what else they may do (viewer, deployer, admin).
CREATE TABLE members (
	project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       TEXT NOT NULL,
	added_by   TEXT NOT NULL,
	added_at   INTEGER NOT NULL,
	PRIMARY KEY (project_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

-- Each environment runs a revision of its own. Projects made before
-- promotions existed keep following the branch in every environment.
ALTER TABLE environments ADD COLUMN policy TEXT NOT NULL DEFAULT 'auto';
ALTER TABLE environments ADD COLUMN approvals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE environments ADD COLUMN rollback_skips_approvals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE environments ADD COLUMN revision TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN message TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN deployed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN deployed_at INTEGER;

-- Every promotion and rollback of an environment: its audit trail.
CREATE TABLE promotions (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	environment   TEXT NOT NULL,
	kind          TEXT NOT NULL,
	revision      TEXT NOT NULL,
	message       TEXT NOT NULL DEFAULT '',
	from_revision TEXT NOT NULL DEFAULT '',
	requested_by  TEXT NOT NULL,
	forced        INTEGER NOT NULL DEFAULT 0,
	needed        INTEGER NOT NULL,
	status        TEXT NOT NULL,
	error         TEXT NOT NULL DEFAULT '',
	hint          TEXT NOT NULL DEFAULT '',
	superseded_by INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	ready_at      INTEGER
);
CREATE INDEX promotions_environment ON promotions (project_id, environment, id);

CREATE TABLE approvals (
	promotion_id INTEGER NOT NULL REFERENCES promotions (id) ON DELETE CASCADE,
	user_name    TEXT NOT NULL,
	at           INTEGER NOT NULL,
	PRIMARY KEY (promotion_id, user_name)
);
