package store

import (
	"context"
	"fmt"
	"slices"
)

// The STIX key index (migration stix_keys): the first 64 bits of each STIX
// id an object is written as, mapped to the object, filled per collection
// behind the added log. The caller (service) computes the ids; the store
// keeps them.

// STIXKey maps a STIX id's key to an object.
type STIXKey struct {
	Key      int64
	ObjectID int64
}

// STIXKeysDone returns the stamp (µs) up to which a collection's added log
// is indexed (0: none).
func (s *Store) STIXKeysDone(ctx context.Context, collection int64) (int64, error) {
	var last int64
	err := s.rdb.QueryRowContext(ctx, `SELECT COALESCE(max(last), 0) FROM stix_keys_done WHERE collection_id = $1`, collection).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("store: stix keys of collection %d: %w", collection, err)
	}
	return last, nil
}

// PutSTIXKeys records keys and that a collection's added log is indexed up
// to the stamp last, in one transaction. Keys recorded already stay; the
// mark never moves back (two indexers may race).
func (s *Store) PutSTIXKeys(ctx context.Context, collection int64, keys []STIXKey, last int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: put stix keys: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	rows := newRows("bigint", "bigint")
	for _, k := range keys {
		rows.add(k.Key, k.ObjectID)
	}
	if _, err := s.execRows(ctx, tx, `INSERT INTO stix_keys (stix_key, object_id)`, rows,
		`ON CONFLICT (stix_key, object_id) DO NOTHING`); err != nil {
		return fmt.Errorf("store: put stix keys: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO stix_keys_done (collection_id, last) VALUES ($1, $2)
		ON CONFLICT (collection_id) DO UPDATE SET last = CASE WHEN stix_keys_done.last > excluded.last THEN stix_keys_done.last ELSE excluded.last END`,
		collection, last); err != nil {
		return fmt.Errorf("store: put stix keys: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: put stix keys: %w", err)
	}
	return nil
}

// STIXKeyObjects returns the objects recorded under keys (at most MaxIDs
// keys), in id order.
func (s *Store) STIXKeyObjects(ctx context.Context, keys []int64) ([]int64, error) {
	if len(keys) > MaxIDs {
		return nil, fmt.Errorf("store: %d stix keys in one query; at most %d", len(keys), MaxIDs)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	cond, args := s.in(1, int64Args(keys))
	rows, err := s.rdb.QueryContext(ctx, `SELECT object_id FROM stix_keys WHERE stix_key `+cond, args...)
	if err != nil {
		return nil, fmt.Errorf("store: stix keys: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: stix keys: %w", err)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return slices.Compact(out), rows.Err()
}
