package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/onramp/onramp"
)

// memberOf is the condition that the user named by its one argument owns
// or is a member of the project p whose owner is u.
const memberOf = `(u.name = ? OR EXISTS (SELECT 1 FROM members m JOIN users mu ON mu.id = m.user_id WHERE m.project_id = p.id AND mu.name = ?))`

// access returns the ID of the project called name and the user's role in
// it: admin for its owner, a member's own role otherwise. A user who is
// neither gets ENOTFOUND, as if the project did not exist; a member whose
// role is below need gets EFORBIDDEN naming the role that action needs.
func (db *DB) access(ctx context.Context, user, name string, need onramp.Role, action string) (int64, onramp.Role, error) {
	var id int64
	var owner string
	var role sql.NullString
	err := db.db.QueryRowContext(ctx, db.q(`SELECT p.id, u.name, (SELECT m.role FROM members m JOIN users mu ON mu.id = m.user_id WHERE m.project_id = p.id AND mu.name = ?)
		FROM projects p JOIN users u ON u.id = p.owner_id WHERE p.name = ?`), user, name).Scan(&id, &owner, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", notFound(name)
	}
	if err != nil {
		return 0, "", fmt.Errorf("find project %s: %w", name, err)
	}
	have := onramp.Role(role.String)
	if owner == user {
		have = onramp.RoleAdmin
	}
	if !have.Valid() {
		return 0, "", notFound(name)
	}
	if !have.Allows(need) {
		return 0, have, onramp.ForbiddenError(name, action, have, need)
	}
	return id, have, nil
}

// Members lists who may see the project: its owner first, then its
// members by name.
func (db *DB) Members(ctx context.Context, user, project string) ([]onramp.Member, error) {
	id, _, err := db.access(ctx, user, project, onramp.RoleViewer, "")
	if err != nil {
		return nil, err
	}
	var out []onramp.Member
	var owner onramp.Member
	var created int64
	err = db.db.QueryRowContext(ctx, db.q(`SELECT u.name, p.created_at FROM projects p JOIN users u ON u.id = p.owner_id WHERE p.id = ?`), id).Scan(&owner.User, &created)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", project, err)
	}
	owner.Role, owner.Owner, owner.AddedAt = onramp.RoleAdmin, true, fromMicros(created)
	out = append(out, owner)
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT u.name, m.role, m.added_by, m.added_at FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.project_id = ? ORDER BY u.name`), id)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", project, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m onramp.Member
		var at int64
		if err := rows.Scan(&m.User, &m.Role, &m.AddedBy, &at); err != nil {
			return nil, err
		}
		m.AddedAt = fromMicros(at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetMember adds a member to the project, or changes a member's role; it
// takes an admin. The user must exist: users exist once they have a token.
func (db *DB) SetMember(ctx context.Context, user, project string, c onramp.MemberChange) (*onramp.Member, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	id, _, err := db.access(ctx, user, project, onramp.RoleAdmin, "managing members")
	if err != nil {
		return nil, err
	}
	m := &onramp.Member{User: c.User, Role: c.Role, AddedBy: user, AddedAt: fromMicros(db.now())}
	err = db.projectTx(ctx, id, func(tx *txn) error {
		var uid int64
		var owner bool
		err := tx.QueryRowContext(ctx, db.q(`SELECT u.id, u.id = p.owner_id FROM users u, projects p WHERE u.name = ? AND p.id = ?`), c.User, id).Scan(&uid, &owner)
		if errors.Is(err, sql.ErrNoRows) {
			return onramp.FieldErrorf("user", "there is no user %q: a user exists once they have an API token (`onramp token create --user %s`)", c.User, c.User)
		}
		if err != nil {
			return err
		}
		if owner {
			return onramp.FieldErrorf("user", "%s owns %s and is always its admin", c.User, project)
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO members (project_id, user_id, role, added_by, added_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role`), id, uid, c.Role, user, db.now())
		if err != nil {
			return fmt.Errorf("add member: %w", err)
		}
		return db.appendEvent(tx, id, onramp.EventMember, m)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// RemoveMember takes a member's access to the project away; it takes an
// admin. The owner cannot be removed.
func (db *DB) RemoveMember(ctx context.Context, user, project, member string) error {
	id, _, err := db.access(ctx, user, project, onramp.RoleAdmin, "managing members")
	if err != nil {
		return err
	}
	return db.projectTx(ctx, id, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM members WHERE project_id = ? AND user_id = (SELECT id FROM users WHERE name = ?)`), id, member)
		if err != nil {
			return fmt.Errorf("remove member: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var owner string
			if err := tx.QueryRowContext(ctx, db.q(`SELECT u.name FROM projects p JOIN users u ON u.id = p.owner_id WHERE p.id = ?`), id).Scan(&owner); err == nil && owner == member {
				return onramp.Errorf(onramp.ECONFLICT, "%s owns %s and cannot be removed", member, project)
			}
			return onramp.Errorf(onramp.ENOTFOUND, "%s is not a member of %s", member, project)
		}
		return db.appendEvent(tx, id, onramp.EventMember, onramp.Member{User: member})
	})
}
