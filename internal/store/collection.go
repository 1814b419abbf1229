package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

// collectionID returns the id of the named collection, creating it on first use.
func (s *Store) collectionID(ctx context.Context, tx *sql.Tx, name string, nowUS int64) (int64, error) {
	name = strings.TrimSpace(name)
	key := strings.ToLower(name)
	if _, err := tx.ExecContext(ctx, `INSERT INTO collections (name, name_key, created_at) VALUES ($1, $2, $3) ON CONFLICT (name_key) DO NOTHING`,
		name, key, nowUS); err != nil {
		return 0, fmt.Errorf("store: create collection %q: %w", name, err)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM collections WHERE name_key = $1`, key).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: find collection %q: %w", name, err)
	}
	return id, nil
}

// addMembers puts objects into a collection (those in it already stay).
func (s *Store) addMembers(ctx context.Context, tx *sql.Tx, collID int64, ids []int64, nowUS int64) error {
	rows := newRows("bigint", "bigint", "bigint")
	for _, id := range ids {
		rows.add(collID, id, nowUS)
	}
	if _, err := s.execRows(ctx, tx, `INSERT INTO collection_objects (collection_id, object_id, added_at)`, rows,
		`ON CONFLICT (collection_id, object_id) DO NOTHING`); err != nil {
		return fmt.Errorf("store: add to collection %d: %w", collID, err)
	}
	return nil
}

// Collections lists the collections with how many objects each holds.
func (s *Store) Collections(ctx context.Context) ([]intel.Collection, error) {
	return s.CollectionsUpTo(ctx, "")
}

// tlpCap returns the condition " AND o.tlp IN (...)" that leaves out objects
// marked above maxTLP, or "" for no cap. The names are the fixed TLP names,
// never input, so they are written into the SQL text.
func tlpCap(maxTLP intel.TLP) (string, error) {
	if maxTLP == "" {
		return "", nil
	}
	if !maxTLP.Valid() {
		_, err := intel.ParseTLP(string(maxTLP))
		return "", err
	}
	return ` AND o.tlp IN ('` + strings.Join(typeNames(intel.TLPsUpTo(maxTLP)), `','`) + `')`, nil
}

// CollectionsUpTo lists the collections, counting only the objects marked
// at most maxTLP ("" : all), as a key capped at it sees them.
func (s *Store) CollectionsUpTo(ctx context.Context, maxTLP intel.TLP) ([]intel.Collection, error) {
	return s.collections(ctx, maxTLP, true)
}

// CollectionList lists the collections without counting their objects
// (Objects is 0), which costs a read of every membership.
func (s *Store) CollectionList(ctx context.Context) ([]intel.Collection, error) {
	return s.collections(ctx, "", false)
}

func (s *Store) collections(ctx context.Context, maxTLP intel.TLP, counted bool) ([]intel.Collection, error) {
	count := `(SELECT count(*) FROM collection_objects m WHERE m.collection_id = c.id)`
	if !counted {
		count = `0`
	}
	capCond, err := tlpCap(maxTLP)
	if err != nil {
		return nil, err
	}
	if capCond != "" && counted {
		count = `(SELECT count(*) FROM collection_objects m JOIN objects o ON o.id = m.object_id WHERE m.collection_id = c.id` +
			capCond + `)`
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT c.id, c.name, c.created_at, `+count+` FROM collections c ORDER BY c.name_key`)
	if err != nil {
		return nil, fmt.Errorf("store: list collections: %w", err)
	}
	defer rows.Close()
	var out []intel.Collection
	for rows.Next() {
		var c intel.Collection
		var created int64
		if err := rows.Scan(&c.ID, &c.Name, &created, &c.Objects); err != nil {
			return nil, fmt.Errorf("store: list collections: %w", err)
		}
		c.Created = time.UnixMicro(created).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}
