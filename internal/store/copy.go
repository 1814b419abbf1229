package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/flintcti/flint/internal/intel"
)

// TableCount is how many rows a copy moved into a table.
type TableCount struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// copyCore are the tables a copy's destination must not hold rows in: a
// store that has its own intelligence, feed sources, keys or users is not
// overwritten.
var copyCore = []string{"objects", "instances", "channels", "api_keys", "users", "audit", "polls", "edl_lists"}

// CopyTo copies every row of this SQLite store into dst, an empty
// PostgreSQL store of the same schema: objects and their provenance,
// relationships, collections, instances (sealed tokens copied sealed),
// channels with their cursors and health, poll records, keys, users,
// sessions, the audit trail, blocklists and the allow-list, the TAXII
// logs — every table both have, every column. The source is read in one
// snapshot; the destination is written in one transaction, so that it
// holds the whole copy or nothing. Sequences are set past every id the
// source ever gave (ids of removed instances and channels are not
// reused). progress, when set, is told of each table copied.
func (s *Store) CopyTo(ctx context.Context, dst *Store, progress func(TableCount)) ([]TableCount, error) {
	if s.dialect != SQLite || dst.dialect != Postgres {
		return nil, intel.Errorf(intel.EINVALID, "a store is copied from SQLite to PostgreSQL (this is %s to %s)", s.dialect, dst.dialect)
	}
	for _, t := range copyCore {
		var some bool
		if err := dst.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+t+`)`).Scan(&some); err != nil {
			return nil, fmt.Errorf("store: copy: read the destination's %s: %w", t, err)
		}
		if some {
			return nil, intel.Errorf(intel.ECONFLICT, "the destination is not empty (its table %s has rows): copy into a new database", t)
		}
	}
	plan, err := copyPlan(ctx, s, dst)
	if err != nil {
		return nil, err
	}
	src, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: copy: %w", err)
	}
	defer src.Rollback() //nolint:errcheck // read only
	conn, err := dst.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: copy: %w", err)
	}
	defer conn.Close()
	var out []TableCount
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit, a no-op
		// Rows the destination's migrations seeded (default allow-list
		// entries, clocks) give way to the source's.
		for _, t := range slices.Backward(plan.order) {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t.name); err != nil {
				return fmt.Errorf("clear %s: %w", t.name, err)
			}
		}
		for _, t := range plan.order {
			n, err := copyTable(ctx, src, tx, t)
			if err != nil {
				return fmt.Errorf("table %s: %w", t.name, err)
			}
			c := TableCount{t.name, n}
			out = append(out, c)
			if progress != nil {
				progress(c)
			}
		}
		last, err := idSequences(ctx, src)
		if err != nil {
			return err
		}
		for _, sq := range plan.serials {
			var top sql.NullInt64
			if err := tx.QueryRow(ctx, `SELECT max(`+sq.column+`) FROM `+sq.table).Scan(&top); err != nil {
				return err
			}
			next := top.Int64
			if l := last[sq.table]; l > next {
				next = l
			}
			if next < 1 {
				_, err = tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), 1, false)`, sq.table, sq.column)
			} else {
				_, err = tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), $3, true)`, sq.table, sq.column, next)
			}
			if err != nil {
				return fmt.Errorf("sequence of %s.%s: %w", sq.table, sq.column, err)
			}
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("store: copy to PostgreSQL (nothing was written): %w", err)
	}
	if err := dst.Optimize(ctx); err != nil {
		return out, fmt.Errorf("store: copy: refresh the destination's statistics: %w", err)
	}
	return out, nil
}

// copyTable is one table of a copy.
type tableCopy struct {
	name    string
	columns []string
	types   []string // PostgreSQL data types of columns
}

type serial struct{ table, column string }

type plan struct {
	order   []tableCopy // parents before children
	serials []serial
}

// copyPlan lists the tables both stores have, in an order that inserts
// each table after those its foreign keys name, with the columns to copy:
// the destination's, less generated ones; each must exist in the source,
// and each source column in the destination, or the schemas differ and
// nothing is copied.
func copyPlan(ctx context.Context, s, dst *Store) (plan, error) {
	var p plan
	cols := map[string][]string{}
	types := map[string][]string{}
	rows, err := dst.db.QueryContext(ctx, `SELECT c.table_name, c.column_name, c.data_type, COALESCE(c.column_default, '')
		FROM information_schema.columns c JOIN information_schema.tables t
		  ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
		WHERE c.table_schema = current_schema() AND c.is_generated = 'NEVER' AND c.table_name <> 'goose_db_version'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return p, fmt.Errorf("store: copy: read the destination's schema: %w", err)
	}
	for rows.Next() {
		var t, c, typ, def string
		if err := rows.Scan(&t, &c, &typ, &def); err != nil {
			rows.Close()
			return p, err
		}
		cols[t] = append(cols[t], c)
		types[t] = append(types[t], typ)
		if strings.HasPrefix(def, "nextval(") {
			p.serials = append(p.serials, serial{t, c})
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return p, err
	}
	deps := map[string][]string{}
	rows, err = dst.db.QueryContext(ctx, `SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
		WHERE contype = 'f' AND connamespace = current_schema()::regnamespace`)
	if err != nil {
		return p, fmt.Errorf("store: copy: read the destination's foreign keys: %w", err)
	}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			rows.Close()
			return p, err
		}
		if child != parent {
			deps[child] = append(deps[child], parent)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return p, err
	}
	// The source's tables and columns.
	srcCols := map[string][]string{}
	rows, err = s.db.QueryContext(ctx, `SELECT m.name, c.name FROM sqlite_schema m, pragma_table_xinfo(m.name) c
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND c.hidden = 0`)
	if err != nil {
		return p, fmt.Errorf("store: copy: read the source's schema: %w", err)
	}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			rows.Close()
			return p, err
		}
		srcCols[t] = append(srcCols[t], c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return p, err
	}
	names := make([]string, 0, len(cols))
	for t := range cols {
		names = append(names, t)
	}
	slices.Sort(names)
	done := map[string]bool{}
	var visit func(t string, path []string) error
	visit = func(t string, path []string) error {
		if done[t] {
			return nil
		}
		if slices.Contains(path, t) {
			return fmt.Errorf("store: copy: foreign keys form a cycle through %s", strings.Join(append(path, t), " → "))
		}
		for _, d := range deps[t] {
			if err := visit(d, append(path, t)); err != nil {
				return err
			}
		}
		done[t] = true
		sc, ok := srcCols[t]
		if !ok {
			return fmt.Errorf("store: copy: the source has no table %s: are both stores at this version of Flint?", t)
		}
		for _, c := range cols[t] {
			if !slices.Contains(sc, c) {
				return fmt.Errorf("store: copy: the source's table %s has no column %s: are both stores at this version of Flint?", t, c)
			}
		}
		for _, c := range sc {
			if !slices.Contains(cols[t], c) {
				return fmt.Errorf("store: copy: the destination's table %s has no column %s: are both stores at this version of Flint?", t, c)
			}
		}
		p.order = append(p.order, tableCopy{name: t, columns: cols[t], types: types[t]})
		return nil
	}
	for _, t := range names {
		if err := visit(t, nil); err != nil {
			return p, err
		}
	}
	// Source tables the destination lacks must be ones PostgreSQL does
	// another way: SQLite's full-text index (a generated column there) and
	// its id sequences (sequences there).
	for t := range srcCols {
		if _, ok := cols[t]; !ok && t != "goose_db_version" && t != "id_sequences" && !strings.HasPrefix(t, "objects_fts") {
			return p, fmt.Errorf("store: copy: the destination has no table %s: are both stores at this version of Flint?", t)
		}
	}
	return p, nil
}

// copyTable streams a table from the source snapshot into the destination
// with COPY.
func copyTable(ctx context.Context, src *sql.Tx, tx pgx.Tx, t tableCopy) (int64, error) {
	rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(t.columns, ", ")+` FROM `+t.name)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, &rowSource{rows: rows, types: t.types})
	if err != nil {
		return n, err
	}
	return n, rows.Err()
}

// rowSource feeds COPY from SQLite rows, each value converted to the
// destination column's type.
type rowSource struct {
	rows  *sql.Rows
	types []string
	vals  []any
	err   error
}

func (r *rowSource) Next() bool { return r.err == nil && r.rows.Next() }

func (r *rowSource) Values() ([]any, error) {
	if r.vals == nil {
		r.vals = make([]any, len(r.types))
	}
	ptrs := make([]any, len(r.vals))
	for i := range r.vals {
		ptrs[i] = &r.vals[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		r.err = err
		return nil, err
	}
	out := make([]any, len(r.vals))
	for i, v := range r.vals {
		c, err := convert(v, r.types[i])
		if err != nil {
			r.err = err
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func (r *rowSource) Err() error { return r.err }

// convert turns a SQLite value into what a PostgreSQL column of type typ
// takes.
func convert(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "bytea":
		switch x := v.(type) {
		case string:
			return []byte(x), nil
		case []byte:
			return slices.Clone(x), nil
		}
	case "text", "character varying":
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case int64, float64:
			return fmt.Sprint(x), nil
		}
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) {
				return int64(x), nil
			}
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case "double precision", "real", "numeric":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("a %T value (%.40v) cannot go into a %s column", v, v, typ)
}

// idSequences reads the SQLite store's id sequences: the last id given in
// each table, removed rows included.
func idSequences(ctx context.Context, src *sql.Tx) (map[string]int64, error) {
	rows, err := src.QueryContext(ctx, `SELECT name, last FROM id_sequences`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var last int64
		if err := rows.Scan(&name, &last); err != nil {
			return nil, err
		}
		out[name] = last
	}
	return out, rows.Err()
}
