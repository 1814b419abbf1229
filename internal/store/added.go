package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

// The added log records, for each collection, each version of an object
// it received, with a stamp (µs) unique in the collection. The stamps of a
// page transaction are taken at its commit, under the row lock of
// added_clock, which the transaction holds until it has committed: stamps
// increase in the order transactions become visible, so a reader that
// resumes after the last stamp it saw misses nothing, even when two
// writers commit in another order than they began (TAXII's date_added and
// added_after).

// addedEntry is an object version a collection received.
type addedEntry struct {
	coll, object int64
	modified     int64 // µs: the version
}

func (w *PageTx) noteAdded(coll, object, modified int64) {
	e := addedEntry{coll, object, modified}
	if w.addedSeen == nil {
		w.addedSeen = map[addedEntry]bool{}
	}
	if !w.addedSeen[e] {
		w.addedSeen[e] = true
		w.added = append(w.added, e)
	}
}

// noteOtherCollections notes the new versions of changed objects for the
// collections besides coll that hold them.
func (w *PageTx) noteOtherCollections(ctx context.Context, changed []int64, coll, modified int64) error {
	return w.s.eachMembership(ctx, w.tx, changed, func(object, c int64, _ string) {
		if c != coll {
			w.noteAdded(c, object, modified)
		}
	})
}

// logAdded stamps entries in the added log, in tx, as the last thing
// before its commit.
func (s *Store) logAdded(ctx context.Context, tx *sql.Tx, entries []addedEntry) error {
	if len(entries) == 0 {
		return nil
	}
	n := int64(len(entries))
	now := s.now().UTC().UnixMicro()
	var last int64
	// The row lock taken here is held until the commit: the next writer's
	// stamps come after these, and it takes them only once these are
	// visible.
	if err := tx.QueryRowContext(ctx, `UPDATE added_clock SET last = CASE WHEN last >= $1 THEN last + $2 ELSE $1 + $2 - 1 END
		WHERE id = 1 RETURNING last`, now, n).Scan(&last); err != nil {
		return fmt.Errorf("store: stamp the added log: %w", err)
	}
	first := last - n + 1
	rows := newRows("bigint", "bigint", "bigint", "bigint")
	for i, e := range entries {
		rows.add(e.coll, first+int64(i), e.object, e.modified)
	}
	if _, err := s.execRows(ctx, tx, `INSERT INTO added_log (collection_id, added_at, object_id, modified_at)`, rows, ``); err != nil {
		return fmt.Errorf("store: write the added log: %w", err)
	}
	return nil
}

// Added is an object's latest version in a collection's added log.
type Added struct {
	ObjectID int64
	At       time.Time // when the collection received it (unique in the collection)
	Modified time.Time // the version
}

// MaxAdded is the most entries Added returns at once.
const MaxAdded = 10000

// AddedQuery asks a collection's added log for what came after a stamp.
type AddedQuery struct {
	Collection int64
	After      time.Time    // exclusive; zero: from the start
	MaxTLP     intel.TLP    // leave out objects marked above it; "" : no cap
	Types      []intel.Type // only objects of these types (none: all)
	Objects    []int64      // only these objects (nil: all; at most MaxIDs)
	Limit      int          // 1–MaxAdded
}

// Added returns, in stamp order, the objects a collection received after
// q.After, each at its latest version only (an object received again later
// is listed then), leaving out objects marked above q.MaxTLP. A reader
// resuming after the last stamp it received misses nothing.
func (s *Store) Added(ctx context.Context, q AddedQuery) ([]Added, error) {
	if q.Limit < 1 || q.Limit > MaxAdded {
		return nil, intel.Errorf(intel.EINVALID, "limit %d is out of range 1–%d", q.Limit, MaxAdded)
	}
	if len(q.Objects) > MaxIDs {
		return nil, intel.Errorf(intel.EINVALID, "%d object ids in one query; at most %d", len(q.Objects), MaxIDs)
	}
	w := &whereBuilder{s: s}
	w.add(`l.collection_id = %s`, q.Collection)
	w.add(`l.added_at > %s`, q.After.UnixMicro())
	w.tlps(nil, q.MaxTLP)
	w.types(q.Types, false)
	w.ids(q.Objects)
	w.conds = append(w.conds, `NOT EXISTS (SELECT 1 FROM added_log n WHERE n.object_id = l.object_id AND n.collection_id = l.collection_id
		AND n.added_at > l.added_at)`)
	rows, err := s.rdb.QueryContext(ctx, `SELECT l.object_id, l.added_at, l.modified_at FROM added_log l JOIN objects o ON o.id = l.object_id`+
		w.sql()+` ORDER BY l.added_at LIMIT `+fmt.Sprint(q.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: added log: %w", err)
	}
	return scanAdded(rows)
}

func scanAdded(rows *sql.Rows) ([]Added, error) {
	defer rows.Close()
	var out []Added
	for rows.Next() {
		var a Added
		var at, mod int64
		if err := rows.Scan(&a.ObjectID, &at, &mod); err != nil {
			return nil, fmt.Errorf("store: added log: %w", err)
		}
		a.At, a.Modified = time.UnixMicro(at).UTC(), time.UnixMicro(mod).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// AddedHistory returns every entry of the added log of a collection for
// each of objects (at most MaxIDs), oldest first: the versions the
// collection received.
func (s *Store) AddedHistory(ctx context.Context, collection int64, objects []int64) (map[int64][]Added, error) {
	if len(objects) > MaxIDs {
		return nil, intel.Errorf(intel.EINVALID, "%d object ids in one query; at most %d", len(objects), MaxIDs)
	}
	out := map[int64][]Added{}
	if len(objects) == 0 {
		return out, nil
	}
	cond, args := s.in(2, int64Args(objects))
	rows, err := s.rdb.QueryContext(ctx, `SELECT object_id, added_at, modified_at FROM added_log
		WHERE collection_id = `+s.param(1)+` AND object_id `+cond+` ORDER BY object_id, added_at`, append([]any{collection}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: added history: %w", err)
	}
	list, err := scanAdded(rows)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		out[a.ObjectID] = append(out[a.ObjectID], a)
	}
	return out, nil
}

// FirstAdded returns the stamp of the first entry of a collection's added
// log (zero: none).
func (s *Store) FirstAdded(ctx context.Context, collection int64) (time.Time, error) {
	var at sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, `SELECT min(added_at) FROM added_log WHERE collection_id = $1`, collection).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("store: first added of collection %d: %w", collection, err)
	}
	if !at.Valid {
		return time.Time{}, nil
	}
	return time.UnixMicro(at.Int64).UTC(), nil
}
