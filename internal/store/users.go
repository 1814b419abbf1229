package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
)

// Console users and sessions (migration users).

const userCols = `id, name, role, max_tlp, created_at, created_by, password_at`

func scanUser(r scanner, extra ...any) (auth.User, error) {
	var u auth.User
	var created, pwAt int64
	if err := r.Scan(append([]any{&u.ID, &u.Name, &u.Role, &u.MaxTLP, &created, &u.CreatedBy, &pwAt}, extra...)...); err != nil {
		return u, err
	}
	u.Created, u.PasswordAt = time.UnixMicro(created).UTC(), time.UnixMicro(pwAt).UTC()
	return u, nil
}

func userKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// CreateUser stores a new user with the hash of its password. The name
// must be unique (case-insensitively): ECONFLICT otherwise.
func (s *Store) CreateUser(ctx context.Context, u auth.User, hash string) (auth.User, error) {
	if err := u.Validate(); err != nil {
		return u, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	u.Created, u.PasswordAt = now, now
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (name, name_key, role, max_tlp, password, created_at, created_by, password_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name_key) DO NOTHING`,
		u.Name, userKey(u.Name), string(u.Role), string(u.MaxTLP), hash, now.UnixMicro(), u.CreatedBy, now.UnixMicro())
	if err != nil {
		return u, fmt.Errorf("store: create user %q: %w", u.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return u, intel.Errorf(intel.ECONFLICT, "a user named %q exists already", u.Name)
	}
	got, _, err := s.UserByName(ctx, u.Name)
	return got, err
}

// Users lists the users by name.
func (s *Store) Users(ctx context.Context) ([]auth.User, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name_key`)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	var out []auth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SignInState is what a sign-in needs of a user: its password's hash and
// its failed attempts since the last success.
type SignInState struct {
	Hash     string
	Failures int
	FailedAt time.Time
}

// UserByName returns a user and its sign-in state; ENOTFOUND when there is
// none.
func (s *Store) UserByName(ctx context.Context, name string) (auth.User, SignInState, error) {
	var st SignInState
	var failedAt sql.NullInt64
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+`, password, failures, failed_at FROM users WHERE name_key = $1`, userKey(name)),
		&st.Hash, &st.Failures, &failedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return u, st, intel.Errorf(intel.ENOTFOUND, "no user %q", name)
	}
	if err != nil {
		return u, st, fmt.Errorf("store: find user %q: %w", name, err)
	}
	if failedAt.Valid {
		st.FailedAt = time.UnixMicro(failedAt.Int64).UTC()
	}
	return u, st, nil
}

// RecordSignIn counts a failed sign-in, or clears the count after a
// successful one.
func (s *Store) RecordSignIn(ctx context.Context, userID int64, ok bool) error {
	q, args := `UPDATE users SET failures = failures + 1, failed_at = $1 WHERE id = $2`, []any{s.now().UTC().UnixMicro(), userID}
	if ok {
		q, args = `UPDATE users SET failures = 0, failed_at = NULL WHERE id = $1`, []any{userID}
	}
	if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("store: record sign-in of user %d: %w", userID, err)
	}
	return nil
}

// SetPassword replaces a user's password and ends its sessions.
func (s *Store) SetPassword(ctx context.Context, name, hash string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `UPDATE users SET password = $1, password_at = $2, failures = 0, failed_at = NULL
			WHERE name_key = $3 RETURNING id`, hash, s.now().UTC().UnixMicro(), userKey(name)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return intel.Errorf(intel.ENOTFOUND, "no user %q", name)
		}
		if err != nil {
			return fmt.Errorf("store: set password of %q: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
			return fmt.Errorf("store: end sessions of %q: %w", name, err)
		}
		return nil
	})
}

// RemoveUser removes a user and its sessions.
func (s *Store) RemoveUser(ctx context.Context, name string) (auth.User, error) {
	var u auth.User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name_key = $1`, userKey(name)))
		if errors.Is(err, sql.ErrNoRows) {
			return intel.Errorf(intel.ENOTFOUND, "no user %q", name)
		}
		if err != nil {
			return fmt.Errorf("store: remove user %q: %w", name, err)
		}
		for _, q := range []string{`DELETE FROM sessions WHERE user_id = $1`, `DELETE FROM users WHERE id = $1`} {
			if _, err := tx.ExecContext(ctx, q, u.ID); err != nil {
				return fmt.Errorf("store: remove user %q: %w", name, err)
			}
		}
		return nil
	})
	return u, err
}

// Session is a signed-in user's session.
type Session struct {
	User    auth.User
	CSRF    string
	Created time.Time
	Seen    time.Time
}

// CreateSession stores a session under the hash of its cookie.
func (s *Store) CreateSession(ctx context.Context, hash string, userID int64, csrf string) error {
	now := s.now().UTC().UnixMicro()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, csrf, created_at, seen_at) VALUES ($1, $2, $3, $4, $5)`,
		hash, userID, csrf, now, now); err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// SessionByHash returns the session stored under hash with its user;
// EUNAUTHORIZED when there is none.
func (s *Store) SessionByHash(ctx context.Context, hash string) (Session, error) {
	var ss Session
	var created, seen int64
	u, err := scanUser(s.rdb.QueryRowContext(ctx, `SELECT u.id, u.name, u.role, u.max_tlp, u.created_at, u.created_by, u.password_at,
		x.csrf, x.created_at, x.seen_at FROM sessions x JOIN users u ON u.id = x.user_id WHERE x.hash = $1`, hash),
		&ss.CSRF, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, intel.Errorf(intel.EUNAUTHORIZED, "no such session: sign in")
	}
	if err != nil {
		return ss, fmt.Errorf("store: find session: %w", err)
	}
	ss.User, ss.Created, ss.Seen = u, time.UnixMicro(created).UTC(), time.UnixMicro(seen).UTC()
	return ss, nil
}

// TouchSession records that a session was used now.
func (s *Store) TouchSession(ctx context.Context, hash string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET seen_at = $1 WHERE hash = $2`, s.now().UTC().UnixMicro(), hash); err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions idle since before idle or created
// before absolute.
func (s *Store) DeleteExpiredSessions(ctx context.Context, idle, absolute time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE seen_at < $1 OR created_at < $2`, idle.UnixMicro(), absolute.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}

// inTx runs f in a write transaction, committed when f returns nil.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}
