package store

import (
	"context"
	"encoding/json"
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
	IDs           []int64   // only these objects (at most MaxIDs)
	MinConfidence int       // confidence at least this
	// Bare leaves the results without their sources and collections (a
	// blocklist's values need neither, and reading them costs more than
	// the search).
	Bare bool
	// NotDeprecatedAt, when set, leaves out what was deprecated at that
	// time (Deprecated uses the present).
	NotDeprecatedAt time.Time
	Scores          []intel.Score
	ChannelID       int64  // reported by this channel
	Instance        string // reported by this instance
	Text            string // full text over names, titles and descriptions
	Deprecated      *bool

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
var vulnSorts = map[string]vulnSort{
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

// searchCursor is where the next page of a search starts: after an
// object's id and, in a sorted search, after its sort key. Clients see it
// encoded ("o" and the id in base 36; "s", the id, "_" and the key) and
// give it back as Query.After.
type searchCursor struct {
	id  int64
	key float64 // sorted searches only
}

func (c searchCursor) encode(sorted bool) string {
	id := strconv.FormatInt(c.id, 36)
	if sorted {
		return "s" + id + "_" + strconv.FormatFloat(c.key, 'g', -1, 64)
	}
	return "o" + id
}

// parseCursor decodes a Query.After for a search sorted or not.
func parseCursor(after string, sorted bool) (searchCursor, error) {
	bad := intel.Errorf(intel.EINVALID, "page cursor %q is not one this server issued for this sort", after)
	var c searchCursor
	var err error
	if !sorted {
		if c.id, err = strconv.ParseInt(strings.TrimPrefix(after, "o"), 36, 64); err != nil || !strings.HasPrefix(after, "o") {
			return c, bad
		}
		return c, nil
	}
	idPart, keyPart, ok := strings.Cut(strings.TrimPrefix(after, "s"), "_")
	id, err1 := strconv.ParseInt(idPart, 36, 64)
	key, err2 := strconv.ParseFloat(keyPart, 64)
	if !ok || err1 != nil || err2 != nil || !strings.HasPrefix(after, "s") {
		return c, bad
	}
	return searchCursor{id, key}, nil
}

// vulnSort is a sort of vulnerabilities: its column and direction.
type vulnSort struct {
	col  string
	desc bool
}

// searchPlan is a query checked and ready to build: what it joins and how
// it is ordered, decided once, and what it needs from the database (the
// products a name matches, how wide a score range is) read beforehand, so
// that building its SQL runs no query.
type searchPlan struct {
	q        Query
	types    []intel.Type // the type filter; nil when the vulnerabilities join restricts the type
	vuln     bool         // joins vulnerabilities
	sort     *vulnSort    // nil: in id order
	after    *searchCursor
	products [2][]int64 // the software matching q.Product and q.Vendor, when given
	wide     map[string]bool
	nowUS    int64
	// walk says the query reads every matching row in id order (EachValue):
	// the type filter then must not lead the planner to an index whose
	// rows it would sort before returning the first.
	walk bool
}

// from is the join a search and a count of it share.
func (p *searchPlan) from() string {
	if p.vuln {
		return `objects o JOIN vulnerabilities v ON v.object_id = o.id`
	}
	return `objects o`
}

// plan checks q and reads what building its SQL needs.
func (s *Store) plan(ctx context.Context, q Query) (*searchPlan, error) {
	if err := q.checkText(); err != nil {
		return nil, err
	}
	p := &searchPlan{q: q, types: q.Types, nowUS: s.now().UnixMicro(), wide: map[string]bool{}}
	if q.Product != "" || q.Vendor != "" || q.CVSSv2.Set() || q.CVSSv3.Set() || q.CVSSv4.Set() || q.EPSS.Set() ||
		len(q.Severities) > 0 || len(q.ExploitMaturities) > 0 || q.FlashpointID != 0 || q.HasCVE != nil || (q.Sort != "" && q.Sort != "id") {
		p.vuln, p.types = true, nil // the join with vulnerabilities restricts the type
	}
	for _, t := range p.types {
		if !t.Valid() {
			_, err := intel.ParseType(string(t))
			return nil, err
		}
	}
	for _, t := range append(slices.Clone(q.TLPs), q.MaxTLP) {
		if t != "" && !t.Valid() {
			_, err := intel.ParseTLP(string(t))
			return nil, err
		}
	}
	if len(q.IDs) > MaxIDs {
		return nil, intel.Errorf(intel.EINVALID, "%d object ids in one query; at most %d", len(q.IDs), MaxIDs)
	}
	if q.Sort != "" && q.Sort != "id" {
		vs, ok := vulnSorts[q.Sort]
		if !ok {
			return nil, intel.Errorf(intel.EINVALID, "sort %q is not known; allowed: %s", q.Sort, strings.Join(SortNames(), ", "))
		}
		p.sort = &vs
	}
	if q.After != "" {
		c, err := parseCursor(q.After, p.sort != nil)
		if err != nil {
			return nil, err
		}
		p.after = &c
	}
	for i, m := range []struct{ col, needle string }{{`product_lc`, q.Product}, {`vendor_lc`, q.Vendor}} {
		if m.needle == "" {
			continue
		}
		ids, err := s.matchProducts(ctx, m.col, strings.ToLower(m.needle))
		if err != nil {
			return nil, err
		}
		p.products[i] = ids
	}
	for _, r := range p.ranges() {
		if !r.r.Set() {
			continue
		}
		if r.r.Min != nil && r.r.Max != nil && *r.r.Min > *r.r.Max {
			return nil, intel.Errorf(intel.EINVALID, "%s range %g–%g is empty: the minimum is above the maximum", r.name, *r.r.Min, *r.r.Max)
		}
		wide, err := s.wideRange(ctx, r.col, r.r)
		if err != nil {
			return nil, err
		}
		p.wide[r.col] = wide
	}
	return p, nil
}

// scoreRange is one of a query's score ranges.
type scoreRange struct {
	col  string // in vulnerabilities
	r    Range
	name string
}

func (p *searchPlan) ranges() []scoreRange {
	q := &p.q
	return []scoreRange{{`cvss_v2`, q.CVSSv2, "CVSS v2"}, {`cvss_v3`, q.CVSSv3, "CVSS v3"}, {`cvss_v4`, q.CVSSv4, "CVSS v4"}, {`epss`, q.EPSS, "EPSS"}}
}

// Search returns the objects matching q in id order, one page at a time
// (keyset pagination: pages stay stable while new objects arrive).
func (s *Store) Search(ctx context.Context, q Query) (Result, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return Result{}, intel.Errorf(intel.EINVALID, "limit %d is out of range 1–1000", limit)
	}
	p, err := s.plan(ctx, q)
	if err != nil {
		return Result{}, err
	}
	w := s.build(p)
	order, cols := `o.id`, objectCols
	if p.vuln { // walk the vulnerabilities in id order: a LIMIT stops the scan early
		order = `v.object_id`
	}
	if p.sort != nil {
		dir := ` ASC`
		if p.sort.desc {
			dir = ` DESC`
		}
		// Both keys in one direction, as the sort indexes (key, object_id)
		// hold them: walked forwards or backwards, never sorted.
		order = sortKey(p.sort.col) + dir + `, v.object_id` + dir
		cols = sortKey(p.sort.col) + `, ` + objectCols
	}
	query := `SELECT ` + cols + ` FROM ` + p.from() + w.sql() + ` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.rdb.QueryContext(ctx, query, w.args...)
	if err != nil {
		return Result{}, fmt.Errorf("store: search: %w", err)
	}
	defer rows.Close()
	var res Result
	var keys []float64
	for rows.Next() {
		var o *intel.Object
		if p.sort != nil {
			var k float64
			o, err = s.scanObject(prefixed{rows, &k}, p.nowUS)
			keys = append(keys, k)
		} else {
			o, err = s.scanObject(rows, p.nowUS)
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
		c := searchCursor{id: res.Objects[limit-1].ID}
		if p.sort != nil {
			c.key = keys[limit-1]
		}
		res.Next = c.encode(p.sort != nil)
	}
	if !q.Bare {
		if err := s.fill(ctx, res.Objects); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

// Count returns how many objects match q (its Limit and After are ignored).
func (s *Store) Count(ctx context.Context, q Query) (int64, error) {
	q.After = ""
	p, err := s.plan(ctx, q)
	if err != nil {
		return 0, err
	}
	w := s.build(p)
	var n int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM `+p.from()+w.sql(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return n, nil
}

// whereBuilder collects a search's conditions and their arguments, in the
// order the SQL uses them (SQLite's placeholders are positional).
type whereBuilder struct {
	s     *Store
	conds []string
	args  []any
}

func (w *whereBuilder) arg(v any) string {
	w.args = append(w.args, v)
	return w.s.param(len(w.args))
}

// add appends a condition whose %s are the given arguments, in order.
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

// build writes a plan's conditions, one small method per filter; it runs
// no query.
func (s *Store) build(p *searchPlan) *whereBuilder {
	w := &whereBuilder{s: s}
	q := &p.q
	w.types(p.types, p.walk)
	w.ids(q.IDs)
	w.after(p)
	w.value(q, p.types)
	w.tags(q.Tags)
	w.collection(q.Collection)
	w.tlps(q.TLPs, q.MaxTLP)
	w.quality(q.MinConfidence, q.Scores)
	w.hasCVE(q.HasCVE)
	w.sources(q.ChannelID, q.Instance)
	w.text(q.Text)
	w.deprecated(q.Deprecated, p.nowUS)
	if !q.NotDeprecatedAt.IsZero() {
		f := false
		w.deprecated(&f, q.NotDeprecatedAt.UnixMicro())
	}
	w.times(`o.modified_at`, q.ModifiedAfter, q.ModifiedBefore)
	w.times(`o.last_seen`, q.LastSeenAfter, q.LastSeenBefore)
	w.times(`o.valid_until`, q.ValidUntilAfter, q.ValidUntilBefore)
	for i, needle := range []string{q.Product, q.Vendor} {
		if needle != "" {
			w.affects(p.products[i])
		}
	}
	for _, r := range p.ranges() {
		w.scoreRange(r, p.wide[r.col])
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
	return w
}

func (w *whereBuilder) types(types []intel.Type, walk bool) {
	switch {
	case len(types) == 0:
	case walk && w.s.dialect == SQLite: // "+": tested row by row, not looked up in the (type, vkey) index
		w.in(`+o.type`, typeNames(types))
	default:
		w.in(`o.type`, typeNames(types))
	}
}

// MaxIDs is the most object ids a query may name.
const MaxIDs = 1000

// ids keeps the objects named (an empty list names none: Query.IDs is set
// only to ask which of some objects match).
func (w *whereBuilder) ids(ids []int64) {
	if ids == nil {
		return
	}
	if len(ids) == 0 {
		w.conds = append(w.conds, `1 = 0`)
		return
	}
	refs := make([]string, len(ids))
	for i, id := range ids {
		refs[i] = w.arg(id)
	}
	w.conds = append(w.conds, `o.id IN (`+strings.Join(refs, ",")+`)`)
}

// after starts the page after the cursor.
func (w *whereBuilder) after(p *searchPlan) {
	c := p.after
	switch {
	case c == nil:
	case p.sort != nil:
		cmp := ">"
		if p.sort.desc {
			cmp = "<"
		}
		k := sortKey(p.sort.col)
		w.add(`(`+k+` `+cmp+` %s OR (`+k+` = %s AND v.object_id `+cmp+` %s))`, c.key, c.key, c.id)
	case p.vuln:
		w.add(`v.object_id > %s`, c.id)
	default:
		w.add(`o.id > %s`, c.id)
	}
}

// value filters by the exact value, a prefix or a substring.
func (w *whereBuilder) value(q *Query, types []intel.Type) {
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
		if w.s.dialect == Postgres {
			w.add(`strpos(COALESCE(o.value, o.vkey), %s) > 0`, q.ValueContains)
		} else {
			w.add(`instr(COALESCE(o.value, o.vkey), %s) > 0`, q.ValueContains)
		}
	}
}

// tags keeps the objects that have every tag.
func (w *whereBuilder) tags(tags []string) {
	for _, t := range tags {
		if w.s.dialect == Postgres {
			w.add(`jsonb_exists(o.tags::jsonb, %s)`, t)
		} else {
			w.add(`EXISTS (SELECT 1 FROM json_each(o.tags) WHERE json_each.value = %s)`, t)
		}
	}
}

func (w *whereBuilder) collection(name string) {
	if name != "" {
		w.add(`o.id IN (SELECT m.object_id FROM collection_objects m JOIN collections c ON c.id = m.collection_id WHERE c.name_key = %s)`,
			strings.ToLower(strings.TrimSpace(name)))
	}
}

// tlps keeps the objects marked with one of tlps, and none above the cap.
func (w *whereBuilder) tlps(tlps []intel.TLP, maxTLP intel.TLP) {
	if len(tlps) > 0 {
		w.in(`o.tlp`, typeNames(tlps))
	}
	if maxTLP != "" {
		w.in(`o.tlp`, typeNames(intel.TLPsUpTo(maxTLP)))
	}
}

// quality keeps the objects of at least a confidence and of one of the
// Flashpoint scores.
func (w *whereBuilder) quality(minConfidence int, scores []intel.Score) {
	if minConfidence > 0 {
		w.add(`o.confidence >= %s`, minConfidence)
	}
	if len(scores) > 0 {
		w.in(`o.score`, typeNames(scores))
	}
}

// hasCVE keeps the vulnerabilities valued by a CVE id, or those that are not.
func (w *whereBuilder) hasCVE(has *bool) {
	switch {
	case has == nil:
	case *has:
		w.add(`o.vkey >= %s AND o.vkey < %s`, "CVE-", "CVE.")
	default:
		w.add(`(o.vkey < %s OR o.vkey >= %s)`, "CVE-", "CVE.")
	}
}

// sources keeps the objects a channel, or an instance, reported.
func (w *whereBuilder) sources(channelID int64, instance string) {
	if channelID != 0 {
		w.add(`o.id IN (SELECT object_id FROM provenance WHERE channel_id = %s)`, channelID)
	}
	if instance != "" {
		w.add(`o.id IN (SELECT object_id FROM provenance WHERE instance = %s)`, instance)
	}
}

// text is the full-text search over names, titles and descriptions.
func (w *whereBuilder) text(text string) {
	switch {
	case text == "":
	case w.s.dialect == Postgres:
		w.add(`o.fts @@ plainto_tsquery('english', %s)`, text)
	default:
		w.add(`o.id IN (SELECT rowid FROM objects_fts WHERE objects_fts MATCH %s)`, ftsQuery(text))
	}
}

func (w *whereBuilder) deprecated(dep *bool, nowUS int64) {
	switch {
	case dep == nil:
	case *dep:
		w.add(`o.valid_until < %s`, nowUS)
	default:
		w.add(`(o.valid_until IS NULL OR o.valid_until >= %s)`, nowUS)
	}
}

func (w *whereBuilder) times(col string, after, before time.Time) {
	if !after.IsZero() {
		w.add(col+` >= %s`, after.UnixMicro())
	}
	if !before.IsZero() {
		w.add(col+` < %s`, before.UnixMicro())
	}
}

// narrowProducts is the most matching products for which a vulnerability
// search first collects the vulnerabilities of each; above it, it walks the
// vulnerabilities in id order and tests each, which a LIMIT ends early.
const narrowProducts = 64

// affects keeps the vulnerabilities that affect one of the products (their
// ids are inlined, being integers read from the database).
func (w *whereBuilder) affects(products []int64) {
	if len(products) == 0 {
		w.conds = append(w.conds, `1 = 0`)
		return
	}
	ids := make([]string, len(products))
	for i, id := range products {
		ids[i] = strconv.FormatInt(id, 10)
	}
	list := strings.Join(ids, ",")
	if len(products) <= narrowProducts {
		w.conds = append(w.conds, `v.object_id IN (SELECT r.source_id FROM relationships r WHERE r.type = 'has' AND r.target_id IN (`+list+`))`)
		return
	}
	// "+": test the list per relationship; probing the index once per listed
	// product for every vulnerability walked costs far more.
	w.conds = append(w.conds, `EXISTS (SELECT 1 FROM relationships r WHERE r.source_id = v.object_id AND r.type = 'has' AND +r.target_id IN (`+list+`))`)
}

// scoreRange keeps the vulnerabilities whose score is in the range; a wide
// one is tested while walking in id order, not through its index, which
// finds a page of matches sooner than sorting them all.
//
// The score is read as sortKey has it, COALESCE(score, -1), so that one
// index per score serves both its ranges and its sort; the lower bound is
// at least 0 (scores are), which leaves out the unscored as a range on the
// bare column did.
func (w *whereBuilder) scoreRange(r scoreRange, wide bool) {
	if r.r.Min == nil && r.r.Max == nil {
		return
	}
	col := sortKey(`v.` + r.col)
	if wide {
		col = `+` + col
	}
	lo := 0.0
	if r.r.Min != nil {
		lo = max(*r.r.Min, 0)
	}
	w.add(col+` >= %s`, lo)
	if r.r.Max != nil {
		w.add(col+` <= %s`, *r.r.Max)
	}
}

// matchProducts finds the software whose name (col product_lc) or vendor
// (vendor_lc) contains needle: a few thousand rows at most.
func (s *Store) matchProducts(ctx context.Context, col, needle string) ([]int64, error) {
	cond := `instr(` + col + `, ` + s.param(1) + `) > 0`
	if s.dialect == Postgres {
		cond = `strpos(` + col + `, ` + s.param(1) + `) > 0`
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT object_id FROM software WHERE `+cond, needle)
	if err != nil {
		return nil, fmt.Errorf("store: match products: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: match products: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: match products: %w", err)
	}
	return ids, nil
}

// wideAt is the number of matches from which a range filter is applied while
// walking vulnerabilities in id order rather than through its index.
const wideAt = 2000

// wideRange tells whether a score range matches at least wideAt
// vulnerabilities, counting at most that many index entries. SQLite's
// planner cannot tell a wide range from a narrow one; PostgreSQL's can.
func (s *Store) wideRange(ctx context.Context, col string, r Range) (bool, error) {
	if s.dialect != SQLite {
		return false, nil
	}
	lo, hi := 0.0, 1e9
	if r.Min != nil {
		lo = max(*r.Min, 0)
	}
	if r.Max != nil {
		hi = *r.Max
	}
	var n int
	key := sortKey(col) // as scoreRange reads it, through the same index
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM vulnerabilities WHERE `+key+` >= `+s.param(1)+
		` AND `+key+` <= `+s.param(2)+` LIMIT `+strconv.Itoa(wideAt)+`)`, lo, hi).Scan(&n)
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

// Value is an object as a blocklist needs it: its type and value, and a
// file's hashes when asked for.
type Value struct {
	ID     int64
	Type   intel.Type
	Value  string
	Hashes map[intel.HashAlgo]string
}

// EachValue calls f for each object matching q, in id order, with its type
// and value (and a file's hashes when hashes is true) alone, over one
// streamed query: a blocklist of a million values costs one statement and
// no object decoding. q's limit, cursor and sort are ignored. f's error
// ends the walk and is returned.
func (s *Store) EachValue(ctx context.Context, q Query, hashes bool, f func(Value) error) error {
	q.After, q.Sort, q.Limit = "", "", 0
	p, err := s.plan(ctx, q)
	if err != nil {
		return err
	}
	p.walk = true
	w := s.build(p)
	cols := `o.id, o.type, COALESCE(o.value, o.vkey), ''`
	if hashes {
		cols = `o.id, o.type, COALESCE(o.value, o.vkey), CASE WHEN o.type = 'file' THEN o.data ELSE '' END`
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+cols+` FROM `+p.from()+w.sql()+` ORDER BY o.id`, w.args...)
	if err != nil {
		return fmt.Errorf("store: list values: %w", err)
	}
	defer rows.Close()
	var data string
	for rows.Next() {
		var v Value
		if err := rows.Scan(&v.ID, &v.Type, &v.Value, &data); err != nil {
			return fmt.Errorf("store: list values: %w", err)
		}
		if data != "" && data != "{}" {
			var d struct {
				Hashes map[intel.HashAlgo]string `json:"hashes"`
			}
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				return fmt.Errorf("store: object %d: bad data: %w", v.ID, err)
			}
			v.Hashes = d.Hashes
		}
		if err := f(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: list values: %w", err)
	}
	return nil
}
