package store

import (
	"context"
	"fmt"
	"time"
)

// Expired lists up to limit ids of objects whose validity ended before
// cutoff, above the id after, in id order: one pass of a purge walks the
// objects once, off the writer (a read), whatever the number of batches.
func (s *Store) Expired(ctx context.Context, cutoff time.Time, after int64, limit int) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id FROM objects WHERE id > $1 AND valid_until < $2 ORDER BY id LIMIT $3`,
		after, cutoff.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: list expired objects: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Purge deletes those of ids whose validity still ended before cutoff (an
// object reported again since it was listed is kept), with everything
// that names them: provenance, hashes, collection membership and the
// TAXII added log, relationships either way, vulnerability and software
// rows, the full-text index (all by the schema's cascades and triggers)
// and the STIX id index. It is one short transaction: on SQLite it takes
// its turn at the page gate like a poll's page, so a poll waits at most
// one batch. It returns the ids deleted.
func (s *Store) Purge(ctx context.Context, cutoff time.Time, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxIDs {
		return nil, fmt.Errorf("store: purge of %d objects in one batch; at most %d", len(ids), MaxIDs)
	}
	if s.dialect == SQLite {
		select {
		case s.pageGate <- struct{}{}:
			defer func() { <-s.pageGate }()
		case <-ctx.Done():
			return nil, fmt.Errorf("store: purge: %w", ctx.Err())
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: purge: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	cond, args := s.in(2, int64Args(ids))
	rows, err := tx.QueryContext(ctx, `DELETE FROM objects WHERE valid_until < $1 AND id `+cond+` RETURNING id`,
		append([]any{cutoff.UnixMicro()}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: purge: %w", err)
	}
	var gone []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		gone = append(gone, id)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("store: purge: %w", err)
	}
	if len(gone) > 0 {
		cond, args := s.in(1, int64Args(gone))
		if _, err := tx.ExecContext(ctx, `DELETE FROM stix_keys WHERE object_id `+cond, args...); err != nil {
			return nil, fmt.Errorf("store: purge STIX ids: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: purge: %w", err)
	}
	return gone, nil
}
