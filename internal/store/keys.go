package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
)

// CreateAPIKey stores a new key under its hash (see auth.NewToken) and
// returns it with its id.
func (s *Store) CreateAPIKey(ctx context.Context, k auth.Key, hash string) (auth.Key, error) {
	if err := k.Validate(); err != nil {
		return k, err
	}
	k.Created = s.now().UTC().Truncate(time.Microsecond)
	err := s.db.QueryRowContext(ctx, `INSERT INTO api_keys (name, role, max_tlp, prefix, hash, created_at, created_by, edl_list)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		k.Name, string(k.Role), string(k.MaxTLP), k.Prefix, hash, k.Created.UnixMicro(), k.CreatedBy, k.List).Scan(&k.ID)
	if err != nil {
		return k, fmt.Errorf("store: create API key %q: %w", k.Name, err)
	}
	return k, nil
}

const keyCols = `id, name, role, max_tlp, prefix, created_at, created_by, last_used_at, revoked_at, edl_list`

func scanKey(r scanner) (auth.Key, error) {
	var (
		k             auth.Key
		created       int64
		used, revoked sql.NullInt64
	)
	if err := r.Scan(&k.ID, &k.Name, &k.Role, &k.MaxTLP, &k.Prefix, &created, &k.CreatedBy, &used, &revoked, &k.List); err != nil {
		return k, err
	}
	k.Created = time.UnixMicro(created).UTC()
	if used.Valid {
		t := time.UnixMicro(used.Int64).UTC()
		k.LastUsed = &t
	}
	if revoked.Valid {
		t := time.UnixMicro(revoked.Int64).UTC()
		k.Revoked = &t
	}
	return k, nil
}

// APIKeyByHash returns the key with the given hash if it exists and is not
// revoked; else EUNAUTHORIZED, which says nothing of why.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (auth.Key, error) {
	k, err := scanKey(s.rdb.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return k, intel.Errorf(intel.EUNAUTHORIZED, "the API key is not valid")
	}
	if err != nil {
		return k, fmt.Errorf("store: find API key: %w", err)
	}
	return k, nil
}

// TouchAPIKey records that a key was used at t; at most one write a minute
// per key, so that reads stay reads.
func (s *Store) TouchAPIKey(ctx context.Context, id int64, t time.Time) error {
	us := t.UTC().UnixMicro()
	_, err := s.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)`,
		us, id, us-int64(time.Minute/time.Microsecond))
	if err != nil {
		return fmt.Errorf("store: touch API key %d: %w", id, err)
	}
	return nil
}

// APIKeys lists every key, revoked ones too, oldest first.
func (s *Store) APIKeys(ctx context.Context) ([]auth.Key, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+keyCols+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list API keys: %w", err)
	}
	defer rows.Close()
	var out []auth.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list API keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// APIKey returns one key by id.
func (s *Store) APIKey(ctx context.Context, id int64) (auth.Key, error) {
	k, err := scanKey(s.rdb.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, intel.Errorf(intel.ENOTFOUND, "no API key %d", id)
	}
	if err != nil {
		return k, fmt.Errorf("store: find API key %d: %w", id, err)
	}
	return k, nil
}

// RevokeAPIKey revokes a key. Revoking a revoked key changes nothing, and
// says so: revoked is true only when this call revoked it.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64) (k auth.Key, revoked bool, err error) {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
		s.now().UTC().UnixMicro(), id)
	if err != nil {
		return auth.Key{}, false, fmt.Errorf("store: revoke API key %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	k, err = s.APIKey(ctx, id)
	return k, n == 1 && err == nil, err
}

// AuditRecord is one entry of the audit trail: who changed what, when.
type AuditRecord struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Detail json.RawMessage `json:"detail"`
}

// Audit appends a record; detail is marshalled to JSON and must hold no secret.
func (s *Store) Audit(ctx context.Context, actor, action, target string, detail any) error {
	d := []byte("{}")
	if detail != nil {
		var err error
		if d, err = json.Marshal(detail); err != nil {
			return fmt.Errorf("store: audit %s: %w", action, err)
		}
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		s.now().UTC().UnixMicro(), actor, action, target, string(d)); err != nil {
		return fmt.Errorf("store: audit %s: %w", action, err)
	}
	return nil
}

// AuditTrail returns records newest first, those with an id below before
// when before > 0, at most limit (1–1000).
func (s *Store) AuditTrail(ctx context.Context, before int64, limit int) ([]AuditRecord, error) {
	if limit < 1 || limit > 1000 {
		return nil, intel.Errorf(intel.EINVALID, "limit %d is out of range 1–1000", limit)
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, at, actor, action, target, detail FROM audit WHERE id < $1 ORDER BY id DESC LIMIT $2`,
		before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: read audit trail: %w", err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var r AuditRecord
		var at int64
		var d string
		if err := rows.Scan(&r.ID, &at, &r.Actor, &r.Action, &r.Target, &d); err != nil {
			return nil, fmt.Errorf("store: read audit trail: %w", err)
		}
		r.At, r.Detail = time.UnixMicro(at).UTC(), json.RawMessage(d)
		out = append(out, r)
	}
	return out, rows.Err()
}
