package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/outlet"
)

const listCols = `id, name, types, collection, min_confidence, min_score, max_tlp, exclude_deprecated, max_entries, format,
	created_at, updated_at, created_by`

func scanList(r scanner) (outlet.List, error) {
	var l outlet.List
	var types string
	var exclude int
	var created, updated int64
	if err := r.Scan(&l.ID, &l.Name, &types, &l.Collection, &l.MinConfidence, &l.MinScore, &l.MaxTLP, &exclude, &l.Limit, &l.Format,
		&created, &updated, &l.CreatedBy); err != nil {
		return l, err
	}
	if err := json.Unmarshal([]byte(types), &l.Types); err != nil {
		return l, fmt.Errorf("list %q: types: %w", l.Name, err)
	}
	l.ExcludeDeprecated = exclude != 0
	l.Created, l.Updated = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return l, nil
}

// SaveList creates a list, or replaces the definition of the one of its
// name (keeping its id and creation).
func (s *Store) SaveList(ctx context.Context, l outlet.List) (outlet.List, error) {
	if err := l.Validate(); err != nil {
		return l, err
	}
	types, _ := json.Marshal(l.Types)
	now := s.now().UTC().Truncate(time.Microsecond)
	row := s.db.QueryRowContext(ctx, `INSERT INTO edl_lists (name, types, collection, min_confidence, min_score, max_tlp,
		exclude_deprecated, max_entries, format, created_at, updated_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (name) DO UPDATE SET types = excluded.types, collection = excluded.collection,
		min_confidence = excluded.min_confidence, min_score = excluded.min_score, max_tlp = excluded.max_tlp,
		exclude_deprecated = excluded.exclude_deprecated, max_entries = excluded.max_entries, format = excluded.format,
		updated_at = excluded.updated_at RETURNING `+listCols,
		l.Name, string(types), l.Collection, l.MinConfidence, string(l.MinScore), string(l.MaxTLP), boolInt(l.ExcludeDeprecated), l.Limit,
		string(l.Format), now.UnixMicro(), now.UnixMicro(), l.CreatedBy)
	saved, err := scanList(row)
	if err != nil {
		return l, fmt.Errorf("store: save list %q: %w", l.Name, err)
	}
	return saved, nil
}

// List returns a list by its name.
func (s *Store) List(ctx context.Context, name string) (outlet.List, error) {
	l, err := scanList(s.rdb.QueryRowContext(ctx, `SELECT `+listCols+` FROM edl_lists WHERE name = $1`, strings.ToLower(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return l, intel.Errorf(intel.ENOTFOUND, "no list named %q", name)
	}
	if err != nil {
		return l, fmt.Errorf("store: read list %q: %w", name, err)
	}
	return l, nil
}

// Lists returns every list by name.
func (s *Store) Lists(ctx context.Context) ([]outlet.List, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+listCols+` FROM edl_lists ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: lists: %w", err)
	}
	defer rows.Close()
	var out []outlet.List
	for rows.Next() {
		l, err := scanList(rows)
		if err != nil {
			return nil, fmt.Errorf("store: lists: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// DeleteList removes a list and revokes the keys bound to it.
func (s *Store) DeleteList(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete list %q: %w", name, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM edl_lists WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("store: delete list %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return intel.Errorf(intel.ENOTFOUND, "no list named %q", name)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE edl_list = $2 AND revoked_at IS NULL`,
		s.now().UTC().UnixMicro(), name); err != nil {
		return fmt.Errorf("store: revoke the keys of list %q: %w", name, err)
	}
	return tx.Commit()
}

const allowCols = `id, kind, value, note, is_default, created_at, created_by`

// Allows returns the allow-list.
func (s *Store) Allows(ctx context.Context) ([]outlet.Allow, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+allowCols+` FROM allow_entries ORDER BY kind, value`)
	if err != nil {
		return nil, fmt.Errorf("store: allow-list: %w", err)
	}
	defer rows.Close()
	var out []outlet.Allow
	for rows.Next() {
		var a outlet.Allow
		var def int
		var created int64
		if err := rows.Scan(&a.ID, &a.Kind, &a.Value, &a.Note, &def, &created, &a.CreatedBy); err != nil {
			return nil, fmt.Errorf("store: allow-list: %w", err)
		}
		a.Default, a.Created = def != 0, time.UnixMicro(created).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// AddAllow adds an entry to the allow-list (an entry already there is
// answered as it is).
func (s *Store) AddAllow(ctx context.Context, a outlet.Allow) (outlet.Allow, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return a, fmt.Errorf("store: allow %s: %w", a.Value, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO allow_entries (kind, value, note, is_default, created_at, created_by)
		VALUES ($1, $2, $3, 0, $4, $5) ON CONFLICT (kind, value) DO NOTHING`, string(a.Kind), a.Value, a.Note, now.UnixMicro(), a.CreatedBy); err != nil {
		return a, fmt.Errorf("store: allow %s: %w", a.Value, err)
	}
	var def int
	var created int64
	if err := tx.QueryRowContext(ctx, `SELECT `+allowCols+` FROM allow_entries WHERE kind = $1 AND value = $2`, string(a.Kind), a.Value).
		Scan(&a.ID, &a.Kind, &a.Value, &a.Note, &def, &created, &a.CreatedBy); err != nil {
		return a, fmt.Errorf("store: allow %s: %w", a.Value, err)
	}
	a.Default, a.Created = def != 0, time.UnixMicro(created).UTC()
	if err := s.allowChanged(ctx, tx, now); err != nil {
		return a, err
	}
	return a, tx.Commit()
}

// RemoveAllow removes an entry of the allow-list (a default one too).
func (s *Store) RemoveAllow(ctx context.Context, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: remove allow-list entry %d: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM allow_entries WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: remove allow-list entry %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return intel.Errorf(intel.ENOTFOUND, "no allow-list entry %d", id)
	}
	if err := s.allowChanged(ctx, tx, s.now().UTC()); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) allowChanged(ctx context.Context, tx *sql.Tx, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE outlet_state SET allow_changed_at = $1 WHERE id = 1`, now.UnixMicro()); err != nil {
		return fmt.Errorf("store: note the allow-list change: %w", err)
	}
	return nil
}

// OutletVersion is what a blocklist's content depends on besides its
// definition and the time: when an object was last written, and when the
// allow-list last changed. Both are read through an index.
func (s *Store) OutletVersion(ctx context.Context) (objectsChanged, allowChanged time.Time, err error) {
	var mod sql.NullInt64
	var allow int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT (SELECT max(modified_at) FROM objects), allow_changed_at FROM outlet_state WHERE id = 1`).
		Scan(&mod, &allow); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("store: outlet version: %w", err)
	}
	return fromMicros(mod), time.UnixMicro(allow).UTC(), nil
}
