package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/intel"
)

// Query filters a search. Zero fields do not filter. Vulnerability filters
// restrict the search to vulnerabilities.
type Query struct {
	Types         []intel.Type
	Value         string // exact normalised value
	ValuePrefix   string
	ValueContains string
	Tags          []string // every tag must be present
	Collection    string
	TLPs          []intel.TLP
	MaxTLP        intel.TLP // leave out objects marked above it (an API key's cap); "" : no cap
	ChannelID     int64     // reported by this channel
	Instance      string    // reported by this instance
	Text          string    // full text over names, titles and descriptions
	Deprecated    *bool

	ModifiedAfter, ModifiedBefore     time.Time
	LastSeenAfter, LastSeenBefore     time.Time
	ValidUntilAfter, ValidUntilBefore time.Time

	// Vulnerabilities.
	Product, Vendor        string // partial, case-insensitive
	CVSSv2, CVSSv3, CVSSv4 Range
	EPSS                   Range
	Severities             []string // critical, high, medium, low, informational, none
	ExploitMaturities      []string
	FlashpointID           int64
	HasCVE                 *bool // valued by a CVE id (true) or by a title (false)

	// Sort orders vulnerabilities: "" (by id), "-cvss3", "-cvss2", "-cvss4",
	// "-epss" (highest first, unscored last), "cvss3", "cvss2", "cvss4",
	// "epss" (lowest first, unscored first), "published" or "-published".
	Sort string

	Limit int    // default 100, at most 1000
	After string // the Next of the previous result
}

// checkText refuses text no database takes (invalid UTF-8, control
// characters such as NUL) in any of the query's strings, naming the field.
func (q *Query) checkText() error {
	var bad []intel.FieldError
	check := func(field, v string) {
		if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
			bad = append(bad, intel.FieldError{Field: field, Message: fmt.Sprintf("%s holds invalid UTF-8 or a control character (such as NUL)", field)})
		}
	}
	for field, v := range map[string]string{"value": q.Value, "value_prefix": q.ValuePrefix, "value_contains": q.ValueContains,
		"q": q.Text, "collection": q.Collection, "instance": q.Instance, "product": q.Product, "vendor": q.Vendor} {
		check(field, v)
	}
	for _, t := range q.Tags {
		check("tag", t)
	}
	slices.SortFunc(bad, func(a, b intel.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return intel.Invalid(bad)
}

// vulnSorts maps each Query.Sort to its column and direction.
var vulnSorts = map[string]struct {
	col  string
	desc bool
}{
	"-cvss2": {"v.cvss_v2", true}, "-cvss3": {"v.cvss_v3", true}, "-cvss4": {"v.cvss_v4", true}, "-epss": {"v.epss", true},
	"cvss2": {"v.cvss_v2", false}, "cvss3": {"v.cvss_v3", false}, "cvss4": {"v.cvss_v4", false}, "epss": {"v.epss", false},
	"published": {"v.published_at", false}, "-published": {"v.published_at", true},
}

// SortNames lists the accepted values of Query.Sort.
func SortNames() []string {
	return []string{"id", "-cvss3", "cvss3", "-cvss2", "cvss2", "-cvss4", "cvss4", "-epss", "epss", "published", "-published"}
}

// sortKey is the expression a sorted search orders by (NULLs as -1: last
// when descending, first when ascending).
func sortKey(col string) string { return `COALESCE(` + col + `, -1)` }

// Range is an inclusive numeric range; nil ends are open.
type Range struct{ Min, Max *float64 }

// Set reports whether the range limits anything.
func (r Range) Set() bool { return r.Min != nil || r.Max != nil }

// Result is one page of a search.
type Result struct {
	Objects []intel.Object `json:"objects"`
	Next    string         `json:"next,omitempty"` // pass as Query.After for the next page; empty at the end
}

// Search returns the objects matching q in id order, one page at a time
// (keyset pagination: pages stay stable while new objects arrive).
func (s *Store) Search(ctx context.Context, q Query) (Result, error) {
	w, err := s.where(ctx, q)
	if err != nil {
		return Result{}, err
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return Result{}, intel.Errorf(intel.EINVALID, "limit %d is out of range 1–1000", limit)
	}
	from := `objects o`
	if w.vuln {
		from += ` JOIN vulnerabilities v ON v.object_id = o.id`
	}
	order, cols := `o.id`, objectCols
	if w.vuln { // walk the vulnerabilities in id order: a LIMIT stops the scan early
		order = `v.object_id`
	}
	sorted, isSorted := vulnSorts[q.Sort]
	if isSorted {
		dir := ` ASC`
		if sorted.desc {
			dir = ` DESC`
		}
		order = sortKey(sorted.col) + dir + `, v.object_id`
		cols = sortKey(sorted.col) + `, ` + objectCols
	}
	query := `SELECT ` + cols + ` FROM ` + from + w.sql() + ` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.rdb.QueryContext(ctx, query, w.args...)
	if err != nil {
		return Result{}, fmt.Errorf("store: search: %w", err)
	}
	defer rows.Close()
	nowUS := s.now().UnixMicro()
	var res Result
	var keys []float64
	for rows.Next() {
		var o *intel.Object
		if isSorted {
			var k float64
			o, err = s.scanObject(prefixed{rows, &k}, nowUS)
			keys = append(keys, k)
		} else {
			o, err = s.scanObject(rows, nowUS)
		}
		if err != nil {
			return Result{}, fmt.Errorf("store: search: %w", err)
		}
		res.Objects = append(res.Objects, *o)
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("store: search: %w", err)
	}
	if len(res.Objects) > limit {
		res.Objects = res.Objects[:limit]
		last := strconv.FormatInt(res.Objects[limit-1].ID, 36)
		if isSorted {
			res.Next = "s" + last + "_" + strconv.FormatFloat(keys[limit-1], 'g', -1, 64)
		} else {
			res.Next = "o" + last
		}
	}
	if err := s.fill(ctx, res.Objects); err != nil {
		return Result{}, err
	}
	return res, nil
}

// Count returns how many objects match q (its Limit and After are ignored).
func (s *Store) Count(ctx context.Context, q Query) (int64, error) {
	q.After = ""
	w, err := s.where(ctx, q)
	if err != nil {
		return 0, err
	}
	from := `objects o`
	if w.vuln {
		from += ` JOIN vulnerabilities v ON v.object_id = o.id`
	}
	var n int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM `+from+w.sql(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return n, nil
}

type whereBuilder struct {
	conds []string
	args  []any
	vuln  bool
}

func (w *whereBuilder) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *whereBuilder) add(format string, args ...any) {
	refs := make([]any, len(args))
	for i, a := range args {
		refs[i] = w.arg(a)
	}
	w.conds = append(w.conds, fmt.Sprintf(format, refs...))
}

func (w *whereBuilder) in(col string, vals []string) {
	refs := make([]string, len(vals))
	for i, v := range vals {
		refs[i] = w.arg(v)
	}
	w.conds = append(w.conds, col+` IN (`+strings.Join(refs, ",")+`)`)
}

func (w *whereBuilder) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(w.conds, ` AND `)
}

func (w *whereBuilder) rng(col string, r Range, name string) error {
	if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
		return intel.Errorf(intel.EINVALID, "%s range %g–%g is empty: the minimum is above the maximum", name, *r.Min, *r.Max)
	}
	if r.Min != nil {
		w.add(col+` >= %s`, *r.Min)
	}
	if r.Max != nil {
		w.add(col+` <= %s`, *r.Max)
	}
	return nil
}

func (w *whereBuilder) times(col string, after, before time.Time) {
	if !after.IsZero() {
		w.add(col+` >= %s`, after.UnixMicro())
	}
	if !before.IsZero() {
		w.add(col+` < %s`, before.UnixMicro())
	}
}

// contains is the dialect's case-sensitive substring test.
func (s *Store) contains(hay, needleRef string) string {
	if s.dialect == Postgres {
		return `strpos(` + hay + `, ` + needleRef + `) > 0`
	}
	return `instr(` + hay + `, ` + needleRef + `) > 0`
}

func (s *Store) where(ctx context.Context, q Query) (*whereBuilder, error) {
	if err := q.checkText(); err != nil {
		return nil, err
	}
	w := &whereBuilder{}
	types := q.Types
	if q.Product != "" || q.Vendor != "" || q.CVSSv2.Set() || q.CVSSv3.Set() || q.CVSSv4.Set() || q.EPSS.Set() ||
		len(q.Severities) > 0 || len(q.ExploitMaturities) > 0 || q.FlashpointID != 0 || q.HasCVE != nil || (q.Sort != "" && q.Sort != "id") {
		w.vuln = true // the join with vulnerabilities restricts the type
		types = nil
	}
	if len(types) > 0 {
		names := make([]string, len(types))
		for i, t := range types {
			if !t.Valid() {
				_, err := intel.ParseType(string(t))
				return nil, err
			}
			names[i] = string(t)
		}
		w.in(`o.type`, names)
	}
	sorted, sortOK := vulnSorts[q.Sort]
	if q.Sort != "" && q.Sort != "id" && !sortOK {
		return nil, intel.Errorf(intel.EINVALID, "sort %q is not known; allowed: %s", q.Sort, strings.Join(SortNames(), ", "))
	}
	if q.After != "" {
		bad := intel.Errorf(intel.EINVALID, "page cursor %q is not one this server issued for this sort", q.After)
		switch {
		case sortOK:
			idPart, valPart, ok := strings.Cut(strings.TrimPrefix(q.After, "s"), "_")
			id, err1 := strconv.ParseInt(idPart, 36, 64)
			val, err2 := strconv.ParseFloat(valPart, 64)
			if !ok || err1 != nil || err2 != nil || !strings.HasPrefix(q.After, "s") {
				return nil, bad
			}
			cmp := ">"
			if sorted.desc {
				cmp = "<"
			}
			k := sortKey(sorted.col)
			w.add(`(`+k+` `+cmp+` %s OR (`+k+` = %s AND v.object_id > %s))`, val, val, id)
		default:
			id, err := strconv.ParseInt(strings.TrimPrefix(q.After, "o"), 36, 64)
			if err != nil || !strings.HasPrefix(q.After, "o") {
				return nil, bad
			}
			if w.vuln {
				w.add(`v.object_id > %s`, id)
			} else {
				w.add(`o.id > %s`, id)
			}
		}
	}
	if (q.Value != "" || q.ValuePrefix != "") && len(types) == 0 {
		w.in(`o.type`, typeNames(intel.Types())) // lets the (type, vkey) index serve value conditions
	}
	if q.Value != "" {
		w.add(`o.vkey = %s`, Vkey(q.Value))
	}
	if q.ValuePrefix != "" {
		w.add(`o.vkey >= %s AND o.vkey < %s`, q.ValuePrefix, q.ValuePrefix+"\U0010FFFF")
	}
	if q.ValueContains != "" {
		w.conds = append(w.conds, s.contains(`COALESCE(o.value, o.vkey)`, w.arg(q.ValueContains)))
	}
	for _, t := range q.Tags {
		if s.dialect == Postgres {
			w.add(`jsonb_exists(o.tags::jsonb, %s)`, t)
		} else {
			w.add(`EXISTS (SELECT 1 FROM json_each(o.tags) WHERE json_each.value = %s)`, t)
		}
	}
	if q.Collection != "" {
		w.add(`o.id IN (SELECT m.object_id FROM collection_objects m JOIN collections c ON c.id = m.collection_id WHERE c.name_key = %s)`,
			strings.ToLower(strings.TrimSpace(q.Collection)))
	}
	if len(q.TLPs) > 0 {
		names := make([]string, len(q.TLPs))
		for i, t := range q.TLPs {
			if !t.Valid() {
				_, err := intel.ParseTLP(string(t))
				return nil, err
			}
			names[i] = string(t)
		}
		w.in(`o.tlp`, names)
	}
	if q.MaxTLP != "" {
		if !q.MaxTLP.Valid() {
			_, err := intel.ParseTLP(string(q.MaxTLP))
			return nil, err
		}
		w.in(`o.tlp`, typeNames(intel.TLPsUpTo(q.MaxTLP)))
	}
	if q.HasCVE != nil {
		if *q.HasCVE {
			w.add(`o.vkey >= %s AND o.vkey < %s`, "CVE-", "CVE.")
		} else {
			w.add(`(o.vkey < %s OR o.vkey >= %s)`, "CVE-", "CVE.")
		}
	}
	if q.ChannelID != 0 {
		w.add(`o.id IN (SELECT object_id FROM provenance WHERE channel_id = %s)`, q.ChannelID)
	}
	if q.Instance != "" {
		w.add(`o.id IN (SELECT object_id FROM provenance WHERE instance = %s)`, q.Instance)
	}
	if q.Text != "" {
		if s.dialect == Postgres {
			w.add(`o.fts @@ plainto_tsquery('english', %s)`, q.Text)
		} else {
			w.add(`o.id IN (SELECT rowid FROM objects_fts WHERE objects_fts MATCH %s)`, ftsQuery(q.Text))
		}
	}
	if q.Deprecated != nil {
		now := s.now().UnixMicro()
		if *q.Deprecated {
			w.add(`o.valid_until < %s`, now)
		} else {
			w.add(`(o.valid_until IS NULL OR o.valid_until >= %s)`, now)
		}
	}
	w.times(`o.modified_at`, q.ModifiedAfter, q.ModifiedBefore)
	w.times(`o.last_seen`, q.LastSeenAfter, q.LastSeenBefore)
	w.times(`o.valid_until`, q.ValidUntilAfter, q.ValidUntilBefore)
	for _, m := range []struct{ col, needle string }{{`product_lc`, q.Product}, {`vendor_lc`, q.Vendor}} {
		if m.needle == "" {
			continue
		}
		cond, err := s.affects(ctx, m.col, strings.ToLower(m.needle))
		if err != nil {
			return nil, err
		}
		w.conds = append(w.conds, cond)
	}
	for _, r := range []struct {
		col  string
		r    Range
		name string
	}{{`cvss_v2`, q.CVSSv2, "CVSS v2"}, {`cvss_v3`, q.CVSSv3, "CVSS v3"}, {`cvss_v4`, q.CVSSv4, "CVSS v4"}, {`epss`, q.EPSS, "EPSS"}} {
		if !r.r.Set() {
			continue
		}
		col := `v.` + r.col
		wide, err := s.wideRange(ctx, r.col, r.r)
		if err != nil {
			return nil, err
		}
		if wide {
			col = `+` + col // not by its index: walking in id order finds a page of matches sooner than sorting them all
		}
		if err := w.rng(col, r.r, r.name); err != nil {
			return nil, err
		}
	}
	if len(q.Severities) > 0 {
		w.in(`v.severity`, lower(q.Severities))
	}
	if len(q.ExploitMaturities) > 0 {
		w.in(`v.exploit_maturity`, lower(q.ExploitMaturities))
	}
	if q.FlashpointID != 0 {
		w.add(`v.flashpoint_id = %s`, q.FlashpointID)
	}
	return w, nil
}

// narrowProducts is the most matching products for which a vulnerability
// search first collects the vulnerabilities of each; above it, it walks the
// vulnerabilities in id order and tests each, which a LIMIT ends early.
const narrowProducts = 64

// affects returns the condition "the vulnerability affects a product whose
// name (or vendor) contains needle". The products are found first (a few
// thousand rows); their ids are inlined, being integers read from the database.
func (s *Store) affects(ctx context.Context, col, needle string) (string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT object_id FROM software WHERE `+s.contains(col, s.param(1)), needle)
	if err != nil {
		return "", fmt.Errorf("store: match products: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return "", fmt.Errorf("store: match products: %w", err)
		}
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("store: match products: %w", err)
	}
	switch {
	case len(ids) == 0:
		return `1 = 0`, nil
	case len(ids) <= narrowProducts:
		return `v.object_id IN (SELECT r.source_id FROM relationships r WHERE r.type = 'has' AND r.target_id IN (` +
			strings.Join(ids, ",") + `))`, nil
	}
	// "+": test the list per relationship; probing the index once per listed
	// product for every vulnerability walked costs far more.
	return `EXISTS (SELECT 1 FROM relationships r WHERE r.source_id = v.object_id AND r.type = 'has' AND +r.target_id IN (` +
		strings.Join(ids, ",") + `))`, nil
}

// wideAt is the number of matches from which a range filter is applied while
// walking vulnerabilities in id order rather than through its index.
const wideAt = 2000

// wideRange tells whether a score range matches at least wideAt
// vulnerabilities, counting at most that many index entries. SQLite's
// planner cannot tell a wide range from a narrow one; PostgreSQL's can.
func (s *Store) wideRange(ctx context.Context, col string, r Range) (bool, error) {
	if s.dialect != SQLite || (r.Min != nil && r.Max != nil && *r.Min > *r.Max) {
		return false, nil
	}
	lo, hi := -1.0, 1e9
	if r.Min != nil {
		lo = *r.Min
	}
	if r.Max != nil {
		hi = *r.Max
	}
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM vulnerabilities WHERE `+col+` >= ? AND `+col+` <= ? LIMIT `+
		strconv.Itoa(wideAt)+`)`, lo, hi).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: size %s range: %w", col, err)
	}
	return n >= wideAt, nil
}

func typeNames[T ~string](ts []T) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

func lower(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(strings.TrimSpace(v))
	}
	return out
}

// ftsQuery turns free text into an FTS5 query that matches every word,
// quoting each so that FTS5 operators in the input stay plain words.
func ftsQuery(text string) string {
	words := strings.Fields(text)
	for i, w := range words {
		words[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return strings.Join(words, " ")
}
