package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/flintcti/flint/internal/indicator"
	"github.com/flintcti/flint/internal/intel"
)

// Get returns one object by id, with its sources and collections.
func (s *Store) Get(ctx context.Context, id int64) (*intel.Object, error) {
	row := s.rdb.QueryRowContext(ctx, `SELECT `+objectCols+` FROM objects o WHERE o.id = $1`, id)
	o, err := s.scanObject(row, s.now().UnixMicro())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, intel.Errorf(intel.ENOTFOUND, "object %d not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get object %d: %w", id, err)
	}
	objs := []intel.Object{*o}
	if err := s.fill(ctx, objs); err != nil {
		return nil, err
	}
	return &objs[0], nil
}

// GetByRef returns the object with the given type and normalised value.
func (s *Store) GetByRef(ctx context.Context, ref intel.Ref) (*intel.Object, error) {
	found, err := s.loadByKeys(ctx, nil, []refKey{keyOf(ref.Type, ref.Value)}, false)
	if err != nil {
		return nil, err
	}
	o := found[keyOf(ref.Type, ref.Value)]
	if o == nil {
		return nil, intel.Errorf(intel.ENOTFOUND, "%s %q not found", ref.Type, ref.Value)
	}
	return s.Get(ctx, o.ID)
}

// fill loads the sources and collection names of objs.
func (s *Store) fill(ctx context.Context, objs []intel.Object) error {
	if len(objs) == 0 {
		return nil
	}
	byID := make(map[int64]*intel.Object, len(objs))
	ids := make([]int64, 0, len(objs))
	for i := range objs {
		objs[i].Sources, objs[i].Collections = nil, nil
		byID[objs[i].ID] = &objs[i]
		ids = append(ids, objs[i].ID)
	}
	if err := s.loadSources(ctx, nil, byID); err != nil {
		return err
	}
	if err := s.recordSources(ctx, objs); err != nil {
		return err
	}
	return chunks(ids, s.batchLen, func(c []int64) error {
		cond, args := s.in(1, int64Args(c))
		rows, err := s.txQuery(ctx, nil, `SELECT m.object_id, c.name FROM collections c JOIN collection_objects m ON m.collection_id = c.id
			WHERE m.object_id `+cond+` ORDER BY m.object_id, c.name`, args...)
		if err != nil {
			return fmt.Errorf("store: load collections of objects: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				return err
			}
			byID[id].Collections = append(byID[id].Collections, name)
		}
		return rows.Err()
	})
}

// recordSources shows each Flashpoint record that reported a vulnerability
// as a source of its own: a channel that sent several records for one CVE
// id has one entry for each, under the channel's terms, with the record's
// Flashpoint id and when it was first and last changed.
func (s *Store) recordSources(ctx context.Context, objs []intel.Object) error {
	byID := map[int64]*intel.Object{}
	var ids []int64
	for i := range objs {
		if objs[i].Type == intel.Vulnerability {
			byID[objs[i].ID] = &objs[i]
			ids = append(ids, objs[i].ID)
		}
	}
	type record struct {
		channel, fpid int64
		first, last   int64
	}
	recs := map[int64][]record{}
	err := chunks(ids, s.batchLen, func(c []int64) error {
		cond, args := s.in(1, int64Args(c))
		rows, err := s.txQuery(ctx, nil, `SELECT object_id, channel_id, flashpoint_id, first_reported, last_reported
			FROM vulnerability_records WHERE object_id `+cond+` ORDER BY object_id, channel_id, flashpoint_id`, args...)
		if err != nil {
			return fmt.Errorf("store: load vulnerability records: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var r record
			if err := rows.Scan(&id, &r.channel, &r.fpid, &r.first, &r.last); err != nil {
				return err
			}
			recs[id] = append(recs[id], r)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for id, rs := range recs {
		o := byID[id]
		var out []intel.Provenance
		for _, p := range o.Sources {
			n := 0
			for _, r := range rs {
				if r.channel != p.ChannelID {
					continue
				}
				q := p
				q.OriginalID = strconv.FormatInt(r.fpid, 10)
				q.FirstReported, q.LastReported = time.UnixMicro(r.first).UTC(), time.UnixMicro(r.last).UTC()
				out = append(out, q)
				n++
			}
			if n == 0 {
				out = append(out, p)
			}
		}
		o.Sources = out
	}
	return nil
}

// LookupResult answers one value of a lookup.
type LookupResult struct {
	Query  string        `json:"query"`
	Type   intel.Type    `json:"type,omitempty"`
	Value  string        `json:"value,omitempty"` // normalised
	Found  bool          `json:"found"`
	Object *intel.Object `json:"object,omitempty"`
	Error  string        `json:"error,omitempty"` // why the value could not be read
}

// cveID is a CVE identifier, as a lookup takes it (upper-cased).
var cveID = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// MaxLookup is the most values one Lookup takes.
const MaxLookup = 10000

// Lookup answers "is this a known indicator?" for each value (a CVE id or a
// vulnerability's title finds the vulnerability): the value's
// type is detected and the value normalised (defanged input is accepted);
// a hash finds the file stored under any of its hashes. Results come back in
// the order of values, each with the object's sources and collections.
func (s *Store) Lookup(ctx context.Context, values []string) ([]LookupResult, error) {
	if len(values) > MaxLookup {
		return nil, intel.Errorf(intel.EINVALID, "lookup of %d values; at most %d at once", len(values), MaxLookup)
	}
	// A bulk lookup is cut into shards looked up at once on the reader pool
	// (the work is CPU-bound; one goroutine would use one core).
	shards := min(runtime.GOMAXPROCS(0), lookupShards, len(values)/lookupShardMin)
	if shards < 2 {
		return s.lookup(ctx, values)
	}
	out := make([]LookupResult, len(values))
	g, gctx := errgroup.WithContext(ctx)
	size := (len(values) + shards - 1) / shards
	for from := 0; from < len(values); from += size {
		to := min(from+size, len(values))
		g.Go(func() error {
			res, err := s.lookup(gctx, values[from:to])
			copy(out[from:to], res)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// A bulk lookup runs in at most lookupShards shards of at least
// lookupShardMin values.
const (
	lookupShards   = 4
	lookupShardMin = 1000
)

func (s *Store) lookup(ctx context.Context, values []string) ([]LookupResult, error) {
	out := make([]LookupResult, len(values))
	var keys []refKey
	var hashes []string
	var titles []int // values that are no indicator, tried as vulnerability titles
	for i, v := range values {
		out[i].Query = v
		if id := strings.ToUpper(strings.TrimSpace(v)); cveID.MatchString(id) {
			out[i].Type, out[i].Value = intel.Vulnerability, id
			keys = append(keys, keyOf(intel.Vulnerability, id))
			continue
		}
		t, nv, err := indicator.Detect(v)
		if err != nil {
			out[i].Error = intel.ErrorMessage(err)
			if title := strings.TrimSpace(v); title != "" {
				titles = append(titles, i)
				keys = append(keys, keyOf(intel.Vulnerability, title))
			}
			continue
		}
		out[i].Type, out[i].Value = t, nv
		keys = append(keys, keyOf(t, nv))
	}
	found, err := s.loadByKeys(ctx, nil, keys, false)
	if err != nil {
		return nil, err
	}
	// A value that is no indicator may be a vulnerability's title (the seed's
	// playbooks look vulnerabilities up by CVE id or by title): the value of
	// one without a CVE id holds its title and Flashpoint id, and its name
	// the title alone.
	var named []string
	for _, i := range titles {
		named = append(named, strings.TrimSpace(out[i].Query))
	}
	byTitle, err := s.loadByTitles(ctx, named)
	if err != nil {
		return nil, err
	}
	for _, i := range titles {
		title := strings.TrimSpace(out[i].Query)
		if o := byTitle[title]; o != nil && found[keyOf(intel.Vulnerability, title)] == nil {
			found[keyOf(intel.Vulnerability, o.Value)] = o
			out[i].Type, out[i].Value, out[i].Error = intel.Vulnerability, o.Value, ""
		} else if found[keyOf(intel.Vulnerability, title)] != nil {
			out[i].Type, out[i].Value, out[i].Error = intel.Vulnerability, title, ""
		} else {
			out[i].Error += ", nor a known vulnerability title"
		}
	}
	// A hash that is no file's own value may be another hash of one (a
	// file stored under its SHA-256, asked for by its MD5).
	for i := range out {
		if out[i].Type == intel.File && found[keyOf(intel.File, out[i].Value)] == nil {
			hashes = append(hashes, out[i].Value)
		}
	}
	byHash, err := s.loadByHashes(ctx, hashes)
	if err != nil {
		return nil, err
	}
	// Each object once, however many values found it; then its sources.
	var objs []intel.Object
	at := map[int64]int{}
	hit := make([]int64, len(out))
	for i := range out {
		o := found[keyOf(out[i].Type, out[i].Value)]
		if o == nil && out[i].Type == intel.File {
			o = byHash[out[i].Value]
		}
		if o == nil || out[i].Type == "" {
			continue
		}
		hit[i] = o.ID
		if _, ok := at[o.ID]; !ok {
			at[o.ID] = len(objs)
			objs = append(objs, *o)
		}
	}
	if err := s.fill(ctx, objs); err != nil {
		return nil, err
	}
	for i := range out {
		if hit[i] != 0 {
			out[i].Found, out[i].Object = true, &objs[at[hit[i]]]
		}
	}
	return out, nil
}

// loadByTitles finds vulnerabilities by title (their name): for each
// title, the one first stored of those that bear it.
func (s *Store) loadByTitles(ctx context.Context, titles []string) (map[string]*intel.Object, error) {
	out := map[string]*intel.Object{}
	err := chunks(titles, s.batchLen, func(c []string) error {
		cond, args := s.in(1, stringArgs(c))
		return s.eachObject(ctx, nil, `SELECT `+objectCols+` FROM objects o WHERE o.type = 'vulnerability' AND o.name `+cond+
			` ORDER BY o.id`, args, func(o *intel.Object) {
			if out[o.Name] == nil {
				out[o.Name] = o
			}
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: look up vulnerability titles: %w", err)
	}
	return out, nil
}

// eachObject runs a query of objectCols and calls f with each object.
func (s *Store) eachObject(ctx context.Context, tx *sql.Tx, query string, args []any, f func(*intel.Object)) error {
	rows, err := s.txQuery(ctx, tx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	nowUS := s.now().UnixMicro()
	for rows.Next() {
		o, err := s.scanObject(rows, nowUS)
		if err != nil {
			return err
		}
		f(o)
	}
	return rows.Err()
}

func (s *Store) loadByHashes(ctx context.Context, hashes []string) (map[string]*intel.Object, error) {
	out := map[string]*intel.Object{}
	nowUS := s.now().UnixMicro()
	err := chunks(hashes, s.batchLen, func(c []string) error {
		args := make([]any, len(c))
		for i, h := range c {
			args[i] = h
		}
		cond, args := s.in(1, args)
		rows, err := s.txQuery(ctx, nil, `SELECT h.hash, `+objectCols+` FROM object_hashes h JOIN objects o ON o.id = h.object_id
			WHERE h.hash `+cond, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h string
			o, err := s.scanObject(prefixed{rows, &h}, nowUS)
			if err != nil {
				return err
			}
			out[h] = o
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: look up hashes: %w", err)
	}
	return out, nil
}

// prefixed scans extra leading columns before an object's columns.
type prefixed struct {
	r     scanner
	first any
}

func (p prefixed) Scan(dest ...any) error { return p.r.Scan(append([]any{p.first}, dest...)...) }

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

// Related returns the objects related to id, both ways, each with the
// relationship named as seen from id ("has" one way, "affected-by" the
// other), at most limit of them (default 1000).
func (s *Store) Related(ctx context.Context, id int64, limit int) ([]intel.Related, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.type, 0, `+objectCols+` FROM relationships r JOIN objects o ON o.id = r.target_id WHERE r.source_id = $1
		UNION ALL
		SELECT r.type, 1, `+objectCols+` FROM relationships r JOIN objects o ON o.id = r.source_id WHERE r.target_id = $1
		LIMIT `+strconv.Itoa(limit), id)
	if err != nil {
		return nil, fmt.Errorf("store: related objects of %d: %w", id, err)
	}
	defer rows.Close()
	nowUS := s.now().UnixMicro()
	var out []intel.Related
	for rows.Next() {
		var typ string
		var inverse int
		o, err := s.scanObject(prefixed{prefixed{rows, &typ}, &inverse}, nowUS)
		if err != nil {
			return nil, fmt.Errorf("store: related objects of %d: %w", id, err)
		}
		name := typ
		if inverse == 1 {
			name = intel.RelationshipType(typ).Inverse()
		}
		out = append(out, intel.Related{Relationship: name, Object: *o})
	}
	return out, rows.Err()
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
	count := `(SELECT count(*) FROM collection_objects m WHERE m.collection_id = c.id)`
	capCond, err := tlpCap(maxTLP)
	if err != nil {
		return nil, err
	}
	if capCond != "" {
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

// Optimize refreshes the planner's statistics; run it after large loads.
func (s *Store) Optimize(ctx context.Context) error {
	if s.dialect == Postgres {
		if _, err := s.db.ExecContext(ctx, `ANALYZE`); err != nil {
			return fmt.Errorf("store: optimize: %w", err)
		}
		return nil
	}
	// ANALYZE samples each index (analysis_limit rows of it, as SQLite
	// advises for PRAGMA optimize) instead of reading all of it: a whole
	// read of a million-object store took 1.5 s of a 40 s load.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: optimize: %w", err)
	}
	defer conn.Close()
	for _, stmt := range []string{`PRAGMA analysis_limit = 1000`, `PRAGMA optimize = 0x10002`, `PRAGMA analysis_limit = 0`} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("store: optimize: %w", err)
		}
	}
	return nil
}

// Relationships returns the relationships whose two ends are both among ids,
// with their ends named by type and value (as a STIX export wants them).
func (s *Store) Relationships(ctx context.Context, ids []int64) ([]intel.Relationship, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	want := make(map[int64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var out []intel.Relationship
	err := chunks(ids, s.batchLen, func(c []int64) error {
		cond, args := s.in(1, int64Args(c))
		rows, err := s.txQuery(ctx, nil, `SELECT r.id, r.target_id, r.type, a.type, COALESCE(a.value, a.vkey), b.type, COALESCE(b.value, b.vkey)
			FROM relationships r JOIN objects a ON a.id = r.source_id JOIN objects b ON b.id = r.target_id
			WHERE r.source_id `+cond+` ORDER BY r.id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r intel.Relationship
			var target int64
			if err := rows.Scan(&r.ID, &target, &r.Type, &r.Source.Type, &r.Source.Value, &r.Target.Type, &r.Target.Value); err != nil {
				return err
			}
			if want[target] {
				out = append(out, r)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: relationships: %w", err)
	}
	return out, nil
}

// Product is a stored software object's vendor and product, lower-cased.
type Product struct {
	ID      int64
	Vendor  string
	Product string
}

// Products lists every stored product (for matching many names at once in
// memory, as CMDB matching does).
func (s *Store) Products(ctx context.Context) ([]Product, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT object_id, vendor_lc, product_lc FROM software ORDER BY object_id`)
	if err != nil {
		return nil, fmt.Errorf("store: list products: %w", err)
	}
	defer rows.Close()
	var out []Product
	for rows.Next() {
		var p Product
		if err := rows.Scan(&p.ID, &p.Vendor, &p.Product); err != nil {
			return nil, fmt.Errorf("store: list products: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// VulnerabilitiesOf returns the vulnerabilities that affect any of the
// software objects, each once, with their details; those above maxTLP
// ("" : none) are left out.
func (s *Store) VulnerabilitiesOf(ctx context.Context, softwareIDs []int64, maxTLP intel.TLP) ([]intel.Object, error) {
	tlps, err := tlpCap(maxTLP)
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	var out []intel.Object
	nowUS := s.now().UnixMicro()
	err = chunks(softwareIDs, s.batchLen, func(c []int64) error {
		cond, args := s.in(1, int64Args(c))
		// From the relationships (by their target index) to the objects:
		// CROSS JOIN makes SQLite keep that order, which it may not choose
		// with stale statistics (walking every vulnerability instead).
		rows, err := s.txQuery(ctx, nil, `SELECT `+objectCols+` FROM relationships r CROSS JOIN objects o
			WHERE o.id = r.source_id AND r.target_id `+cond+` AND r.type = 'has' AND o.type = 'vulnerability'`+tlps, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			o, err := s.scanObject(rows, nowUS)
			if err != nil {
				return err
			}
			if !seen[o.ID] {
				seen[o.ID] = true
				out = append(out, *o)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: vulnerabilities of products: %w", err)
	}
	return out, nil
}
