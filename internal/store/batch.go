package store

import (
	"context"
	"database/sql"
	"math/bits"
	"strconv"
	"strings"
)

// batch is the number of rows per multi-row statement.
const batch = 500

func stringArgs(vals []string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}

func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// batchLen is the length of the next batch of a list of n items still to
// write or read: see chunkLen on SQLite; on PostgreSQL, whose batched
// statements take arrays and so have one text whatever their length, a
// full batch or what is left.
func (s *Store) batchLen(n int) int {
	if s.dialect == SQLite {
		return chunkLen(n, batch)
	}
	return min(n, batch)
}

// chunkLen is the length of the next chunk of a list of n: size while n
// allows, then the largest power of two up to n. Batched statements thus come
// in a few lengths, and on SQLite each length is its own SQL text, prepared
// once and kept: without this a cache of them would hold hundreds of
// programs of thousands of parameters (tens of MB).
func chunkLen(n, size int) int {
	if n >= size {
		return size
	}
	return 1 << (bits.Len(uint(n)) - 1)
}

// param returns the placeholder of the n-th parameter. SQLite gets plain
// "?": it resolves "$N" names by a linear search per parameter, which makes
// a statement of thousands of parameters quadratic to prepare and bind.
// Statements built with param, placeholders and list must therefore use
// their parameters once each, in order.
func (s *Store) param(n int) string {
	if s.dialect == SQLite {
		return "?"
	}
	return "$" + strconv.Itoa(n)
}

// placeholders returns "(p,p,…),(…)" for rows×cols parameters starting at
// start. The texts are kept: a page of 500 rows of 18 columns would
// otherwise rebuild a 50 KB string on every write.
func (s *Store) placeholders(rows, cols, start int) string {
	key := [3]int{rows, cols, start}
	if v, ok := s.texts.Load(key); ok {
		return v.(string)
	}
	var b strings.Builder
	n := start
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := 0; c < cols; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteString(s.param(n))
			n++
		}
		b.WriteByte(')')
	}
	s.texts.Store(key, b.String())
	return b.String()
}

// in returns the condition "is one of vals" (to follow a column name) with
// its arguments, numbered from start: "IN (?,…)" on SQLite, "= ANY($n)" with
// one array on PostgreSQL, which then parses and plans one parameter instead
// of hundreds. vals are all strings or all int64s.
func (s *Store) in(start int, vals []any) (string, []any) {
	if s.dialect == SQLite {
		return `IN ` + s.placeholders(1, len(vals), start), vals
	}
	return `= ANY(` + s.param(start) + `)`, []any{column(vals, pgArrayType(vals))}
}

// rowsSource returns what follows "INSERT INTO t (cols)" for rows of
// row-major args: VALUES lists on SQLite; on PostgreSQL a SELECT over
// unnest() of one typed array per column, which keeps a 500-row upsert to
// a handful of parameters.
func (s *Store) rowsSource(args []any, pgTypes []string) (string, []any) {
	cols := len(pgTypes)
	rows := len(args) / cols
	if s.dialect == SQLite {
		return `VALUES ` + s.placeholders(rows, cols, 1), args
	}
	arrays := make([]any, cols)
	refs := make([]string, cols)
	for c := 0; c < cols; c++ {
		vals := make([]any, rows)
		for r := 0; r < rows; r++ {
			vals[r] = args[r*cols+c]
		}
		arrays[c] = column(vals, pgTypes[c])
		refs[c] = s.param(c+1) + "::" + pgTypes[c] + "[]"
	}
	return `SELECT * FROM unnest(` + strings.Join(refs, ", ") + `)`, arrays
}

func pgArrayType(vals []any) string {
	for _, v := range vals {
		if _, ok := v.(string); ok {
			return "text"
		}
	}
	return "bigint"
}

// column converts values to a typed slice with nil pointers for NULLs, as
// pgx encodes arrays.
func column(vals []any, pgType string) any {
	switch pgType {
	case "text":
		out := make([]*string, len(vals))
		for i, v := range vals {
			if x, ok := v.(string); ok {
				out[i] = &x
			}
		}
		return out
	case "double precision":
		out := make([]*float64, len(vals))
		for i, v := range vals {
			if x, ok := v.(float64); ok {
				out[i] = &x
			}
		}
		return out
	}
	out := make([]*int64, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case int64:
			out[i] = &x
		case int:
			y := int64(x)
			out[i] = &y
		}
	}
	return out
}

// rowSet is the values of a multi-row statement, row after row, with the
// PostgreSQL type of each column (which SQLite ignores).
type rowSet struct {
	types []string
	args  []any
}

func newRows(types ...string) *rowSet { return &rowSet{types: types} }

// add appends one row: as many values as the set has columns.
func (r *rowSet) add(vals ...any) { r.args = append(r.args, vals...) }

// len is the number of rows.
func (r *rowSet) len() int { return len(r.args) / len(r.types) }

// eachBatch is the one way to run a multi-row statement: it calls f for
// each batch of r's rows (batchLen rows at a time, so that the statement
// texts come in a few lengths and stay prepared), with the rows' source that
// follows "INSERT INTO t (cols)" (rowsSource), its arguments, and the index
// of the batch's first row and its number of rows.
func (s *Store) eachBatch(r *rowSet, f func(src string, args []any, from, n int) error) error {
	cols, rows := len(r.types), r.len()
	for from := 0; from < rows; {
		n := s.batchLen(rows - from)
		src, args := s.rowsSource(r.args[from*cols:(from+n)*cols], r.types)
		if err := f(src, args, from, n); err != nil {
			return err
		}
		from += n
	}
	return nil
}

// execRows runs head, the rows' source and tail over every batch of r in
// tx, and returns the number of rows affected.
func (s *Store) execRows(ctx context.Context, tx *sql.Tx, head string, r *rowSet, tail string) (int64, error) {
	var total int64
	err := s.eachBatch(r, func(src string, args []any, _, _ int) error {
		res, err := s.txExec(ctx, tx, head+` `+src+` `+tail, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		total += n
		return err
	})
	return total, err
}

// chunks calls f for consecutive slices of at most size elements.
func chunks[T any](s []T, next func(int) int, f func([]T) error) error {
	for len(s) > 0 {
		n := next(len(s))
		if err := f(s[:n]); err != nil {
			return err
		}
		s = s[n:]
	}
	return nil
}
