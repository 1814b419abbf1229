package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/stix"
)

// stix_ids maps the id of each STIX object an object is written as (its
// indicator, vulnerability, report ...; its observable) back to the
// object: STIX ids are deterministic UUIDv5 of the object's type and value
// (docs/stix.md), which cannot be reversed, and TAXII asks for objects by
// them. An id once written keeps pointing at its object when the object
// changes and gains another (a file's observable after a new hash).

// stixIDsMigration creates stix_ids and fills it for the objects stored,
// whose ids only Go can compute: a migration written in Go.
func stixIDsMigration(version int64, d Dialect) *goose.Migration {
	ddl := `CREATE TABLE stix_ids (stix_id TEXT PRIMARY KEY, object_id INTEGER NOT NULL) WITHOUT ROWID`
	if d == Postgres {
		ddl = `CREATE TABLE stix_ids (stix_id text PRIMARY KEY, object_id bigint NOT NULL)`
	}
	up := func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return err
		}
		s := &Store{dialect: d}
		var last int64
		for { // a page of objects at a time
			rows, err := tx.QueryContext(ctx, `SELECT `+objectCols+` FROM objects o WHERE o.id > $1 ORDER BY o.id LIMIT 1000`, last)
			if err != nil {
				return err
			}
			var objs []*intel.Object
			for rows.Next() {
				o, err := s.scanObject(rows, 0)
				if err != nil {
					rows.Close()
					return err
				}
				objs = append(objs, o)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(objs) == 0 {
				return nil
			}
			if err := s.insertSTIXIDs(ctx, tx, objs, false); err != nil {
				return err
			}
			last = objs[len(objs)-1].ID
		}
	}
	down := func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DROP TABLE stix_ids`)
		return err
	}
	return goose.NewGoMigration(version, &goose.GoFunc{RunTx: up}, &goose.GoFunc{RunTx: down})
}

// insertSTIXIDs records the STIX ids of objs (an id already recorded keeps
// its object). cached says the statement texts may be kept (not during a
// migration, whose transaction is not the store's).
func (s *Store) insertSTIXIDs(ctx context.Context, tx *sql.Tx, objs []*intel.Object, cached bool) error {
	rows := newRows("text", "bigint")
	for _, o := range objs {
		if o.Type != intel.Vulnerability && o.Type != intel.Report && o.Type != intel.Software && o.Type != intel.Malware &&
			o.Type != intel.ThreatActor && o.Type != intel.AttackPattern && !o.Type.IsIndicator() {
			continue
		}
		for _, id := range stix.IDs(o) {
			rows.add(id, o.ID)
		}
	}
	const head, tail = `INSERT INTO stix_ids (stix_id, object_id)`, `ON CONFLICT (stix_id) DO NOTHING`
	if cached {
		_, err := s.execRows(ctx, tx, head, rows, tail)
		return err
	}
	return s.eachBatch(rows, func(src string, args []any, _, _ int) error {
		_, err := tx.ExecContext(ctx, head+` `+src+` `+tail, args...)
		return err
	})
}

// ObjectOfSTIXID returns the id of the stored object a STIX id names.
func (s *Store) ObjectOfSTIXID(ctx context.Context, stixID string) (int64, error) {
	var id int64
	err := s.rdb.QueryRowContext(ctx, `SELECT object_id FROM stix_ids WHERE stix_id = $1`, stixID).Scan(&id)
	if err == sql.ErrNoRows {
		return 0, intel.Errorf(intel.ENOTFOUND, "no object %s", stixID)
	}
	if err != nil {
		return 0, fmt.Errorf("store: object of %s: %w", stixID, err)
	}
	return id, nil
}
