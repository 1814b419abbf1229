package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
)

// Page is one page of a poll, ready to be written: the objects and
// relationships mapped from it, the collection they go into, the source that
// reported them and the cursor that follows them.
type Page struct {
	Source        intel.Provenance // ChannelID, Instance and Channel name the source
	Collection    string
	Objects       []intel.Object
	Relationships []intel.Relationship
	Cursor        string
}

// Counts say what a page did to the store.
type Counts struct {
	New           int `json:"new"`
	Updated       int `json:"updated"`
	Unchanged     int `json:"unchanged"`
	Relationships int `json:"relationships"` // relationships not seen before
}

// Add accumulates c2 into c.
func (c *Counts) Add(c2 Counts) {
	c.New += c2.New
	c.Updated += c2.Updated
	c.Unchanged += c2.Unchanged
	c.Relationships += c2.Relationships
}

// batch is the number of rows per multi-row statement.
const batch = 500

type refKey struct {
	typ  intel.Type
	vkey string
}

func keyOf(t intel.Type, value string) refKey { return refKey{t, Vkey(value)} }

// pending is one object of a page on its way into the store.
type pending struct {
	stored   *intel.Object // as loaded; nil when new
	cur      intel.Object  // merged so far
	changed  bool
	seen     bool
	dup      bool  // the page has more than one view of the object
	fast     bool  // recognised as unchanged by its digest
	inserted bool  // inserted as new by insertGuessed
	member   bool  // already in the page's collection
	digest   int64 // of the (first) view
}

// ApplyPage writes a page and moves the channel's cursor to page.Cursor in
// one transaction, provided lease is still the channel's (else ECONFLICT and
// nothing is written). Objects are upserted by (type, value) and merged with
// what is stored by the rules of intel.Merge; each object joins the page's
// collection; relationships may name objects of this page or stored ones.
func (s *Store) ApplyPage(ctx context.Context, lease Lease, p Page) (Counts, error) {
	w, err := s.BeginPages(ctx, lease)
	if err != nil {
		return Counts{}, err
	}
	defer w.Rollback()
	counts, err := w.Apply(ctx, p)
	if err != nil {
		return counts, err
	}
	return counts, w.Commit()
}

// PageTx is one write transaction taking the pages of one channel's poll in
// order: each page moves the cursor, and the commit makes all of them and
// the last cursor durable at once. Several pages in one transaction write
// the index pages they share once: that is what keeps a large poll's writes
// from being dominated by its random index inserts. A PageTx is used by one
// goroutine; Commit or Rollback ends it.
type PageTx struct {
	s       *Store
	tx      *sql.Tx
	lease   Lease
	colls   map[string]int64 // collection ids by name, for this transaction
	objects int
	began   time.Time
	gated   bool // holds the store's page gate (SQLite)
}

// BeginPages opens a write transaction for pages of the lease's channel. On
// SQLite it first waits its turn at the store's page gate (first come,
// first served), which Commit or Rollback opens again.
func (s *Store) BeginPages(ctx context.Context, lease Lease) (*PageTx, error) {
	gated := s.dialect == SQLite
	if gated {
		select {
		case s.pageGate <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("store: begin page: %w", ctx.Err())
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		if gated {
			<-s.pageGate
		}
		return nil, fmt.Errorf("store: begin page: %w", err)
	}
	return &PageTx{s: s, tx: tx, lease: lease, colls: map[string]int64{}, began: time.Now(), gated: gated}, nil
}

// release opens the page gate again, once.
func (w *PageTx) release() {
	if w.gated {
		w.gated = false
		<-w.s.pageGate
	}
}

// Objects is the number of objects of the pages applied so far.
func (w *PageTx) Objects() int { return w.objects }

// Age is how long the transaction has been open.
func (w *PageTx) Age() time.Duration { return time.Since(w.began) }

// Record writes a poll's counts and cursor so far into its record, in the
// transaction: the record commits with the pages it counts, so a poll cut
// short still says what it stored.
func (w *PageTx) Record(ctx context.Context, run feed.PollRun) error {
	if _, err := w.tx.ExecContext(ctx, `UPDATE polls SET pages = $1, new = $2, updated = $3, unchanged = $4, filtered = $5,
		invalid = $6, unsupported = $7, cursor_after = $8, listed = $9, requests = $10 WHERE id = $11 AND channel_id = $12`,
		run.Pages, run.New, run.Updated, run.Unchanged, run.Filtered, run.Invalid, run.Unsupported, run.CursorAfter,
		run.Listed, run.Requests, run.ID, w.lease.ChannelID); err != nil {
		return fmt.Errorf("store: record poll %d: %w", run.ID, err)
	}
	return nil
}

// Commit makes the pages applied so far durable, with the last cursor.
func (w *PageTx) Commit() error {
	defer w.release()
	if err := w.tx.Commit(); err != nil {
		return fmt.Errorf("store: commit pages of channel %d: %w", w.lease.ChannelID, err)
	}
	return nil
}

// Rollback abandons every page of the transaction; a no-op after Commit.
func (w *PageTx) Rollback() {
	_ = w.tx.Rollback()
	w.release()
}

// SpansPages reports whether one transaction should take several pages. On
// SQLite, whose writers are serialised anyway, it is what makes bulk polls
// fast. On PostgreSQL a page takes advisory locks on its objects' keys in
// sorted order, and locks taken page after page in one transaction could
// deadlock against another channel's: there each page commits alone.
func (s *Store) SpansPages() bool { return s.dialect == SQLite }

// Apply writes one page in the transaction and moves the channel's cursor
// to p.Cursor, provided the lease is still the channel's (else ECONFLICT:
// the caller rolls back). On any error the transaction must be rolled back.
func (w *PageTx) Apply(ctx context.Context, p Page) (Counts, error) {
	var counts Counts
	s, tx, lease := w.s, w.tx, w.lease
	if err := validatePage(lease, &p); err != nil {
		return counts, err
	}
	now := s.now().UTC()
	nowUS := now.UnixMicro()

	// Fence first: on PostgreSQL this also locks the channel's row until commit.
	res, err := tx.ExecContext(ctx, `UPDATE channel_state SET cursor = $1, updated_at = $2 WHERE channel_id = $3 AND lease_token = $4`,
		p.Cursor, nowUS, lease.ChannelID, lease.Token)
	if err != nil {
		return counts, fmt.Errorf("store: move cursor of channel %d: %w", lease.ChannelID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return counts, staleLease(lease)
	}
	collID, ok := w.colls[p.Collection]
	if !ok {
		if collID, err = s.collectionID(ctx, tx, p.Collection, nowUS); err != nil {
			return counts, err
		}
		w.colls[p.Collection] = collID
	}
	w.objects += len(p.Objects)

	// A source re-reporting exactly what it reported last time (what most of
	// a re-read is) changes nothing; a digest of each view, kept with the
	// source's provenance, recognises it without loading the object. The rest
	// is loaded, merged in Go and written back only where it changed.
	order := make([]refKey, 0, len(p.Objects))
	byKey := make(map[refKey]*pending, len(p.Objects))
	for i := range p.Objects {
		k := keyOf(p.Objects[i].Type, p.Objects[i].Value)
		if pd, ok := byKey[k]; ok {
			pd.dup = true
			continue
		}
		order = append(order, k)
		byKey[k] = &pending{digest: digest(&p.Objects[i])}
	}
	if err := s.lockKeys(ctx, tx, order); err != nil {
		return counts, err
	}
	rest, err := w.insertGuessed(ctx, p, order, byKey, collID, nowUS)
	if err != nil {
		return counts, err
	}
	probed, err := s.probe(ctx, tx, rest, p.Source.ChannelID, collID)
	if err != nil {
		return counts, err
	}
	var full []refKey
	for _, k := range rest {
		pd := byKey[k]
		pr, ok := probed[k]
		switch {
		case !ok: // new
		case pr.digest.Valid && pr.digest.Int64 == pd.digest && !pd.dup:
			pd.fast, pd.cur.ID, pd.member = true, pr.id, pr.member
		default:
			full = append(full, k)
			pd.member = pr.member
		}
	}
	stored, err := s.loadByKeys(ctx, tx, full, true)
	if err != nil {
		return counts, err
	}
	for i := range p.Objects {
		k := keyOf(p.Objects[i].Type, p.Objects[i].Value)
		pd := byKey[k]
		if pd.fast || pd.inserted {
			continue
		}
		base := &pd.cur // a second view of the same object in this page merges into the first
		if !pd.seen {
			pd.seen, pd.stored, base = true, stored[k], stored[k]
		}
		merged, changed := intel.Merge(base, &p.Objects[i], p.Source, s.policy)
		pd.cur, pd.changed = merged, pd.changed || changed
	}

	var writes, provOnly, objects []*pending
	for _, k := range order {
		pd := byKey[k]
		switch {
		case pd.fast:
			counts.Unchanged++
		case pd.inserted:
			counts.New++
			writes = append(writes, pd)
		case pd.stored == nil:
			counts.New++
			writes, objects = append(writes, pd), append(objects, pd)
		case pd.changed:
			counts.Updated++
			writes, objects = append(writes, pd), append(objects, pd)
		default:
			counts.Unchanged++
			pd.cur.ID = pd.stored.ID
			// The view differs from the last one but merges to the same
			// object (an older re-read, say): remember the view's digest.
			provOnly = append(provOnly, pd)
		}
	}
	if err := s.upsertObjects(ctx, tx, objects, nowUS); err != nil {
		return counts, err
	}
	if err := s.upsertProvenance(ctx, tx, append(writes, provOnly...), p.Source.ChannelID); err != nil {
		return counts, err
	}
	if err := s.upsertSideTables(ctx, tx, writes); err != nil {
		return counts, err
	}
	var join []int64
	for _, k := range order {
		if pd := byKey[k]; !pd.member {
			join = append(join, pd.cur.ID)
		}
	}
	if err := s.addMembers(ctx, tx, collID, join, nowUS); err != nil {
		return counts, err
	}
	ids2 := make(map[refKey]int64, len(order))
	for _, k := range order {
		ids2[k] = byKey[k].cur.ID
	}
	if counts.Relationships, err = s.addRelationships(ctx, tx, p.Relationships, ids2, nowUS); err != nil {
		return counts, err
	}
	var created []refKey
	for _, k := range order {
		if pd := byKey[k]; pd.inserted || (pd.stored == nil && !pd.fast) {
			created = append(created, k)
		}
	}
	resolved, err := s.resolvePending(ctx, tx, created, nowUS)
	if err != nil {
		return counts, err
	}
	counts.Relationships += resolved
	linked, err := s.linkByFlashpointID(ctx, tx, writes, nowUS)
	if err != nil {
		return counts, err
	}
	counts.Relationships += linked
	if err := s.recordVulnerabilities(ctx, tx, p.Source.ChannelID, p.Objects, ids2); err != nil {
		return counts, err
	}
	return counts, nil
}

// recordVulnerabilities notes, for each Flashpoint vulnerability record of a
// page and each object it reported, that its channel stored it, first and
// last changed at its Reported time (Store.LastReported; and each record
// is a source of the object of its own, Store.fill).
func (s *Store) recordVulnerabilities(ctx context.Context, tx *sql.Tx, channelID int64, objs []intel.Object, ids map[refKey]int64) error {
	type rec struct{ fpid, object int64 }
	last := map[rec]int64{}
	for i := range objs {
		o := &objs[i]
		if o.Type != intel.Vulnerability || o.Vulnerability == nil || o.Vulnerability.FlashpointID == 0 || o.Reported.IsZero() {
			continue
		}
		r := rec{o.Vulnerability.FlashpointID, ids[keyOf(o.Type, o.Value)]}
		if r.object <= 0 {
			continue
		}
		at := intel.TruncTime(o.Reported).UnixMicro()
		if cur, ok := last[r]; !ok || at > cur {
			last[r] = at
		}
	}
	if len(last) == 0 {
		return nil
	}
	recs := slices.SortedFunc(maps.Keys(last), func(a, b rec) int { // one order: no two writers deadlock
		return cmp.Or(cmp.Compare(a.fpid, b.fpid), cmp.Compare(a.object, b.object))
	})
	return chunks(recs, s.batchLen, func(c []rec) error {
		args := make([]any, 0, len(c)*5)
		for _, r := range c {
			args = append(args, channelID, r.fpid, r.object, last[r], last[r])
		}
		src, args := s.rowsSource(args, []string{"bigint", "bigint", "bigint", "bigint", "bigint"})
		if _, err := s.txExec(ctx, tx, `INSERT INTO vulnerability_records (channel_id, flashpoint_id, object_id, first_reported, last_reported) `+src+`
			ON CONFLICT (channel_id, flashpoint_id, object_id) DO UPDATE SET
			first_reported = CASE WHEN excluded.first_reported < vulnerability_records.first_reported
				THEN excluded.first_reported ELSE vulnerability_records.first_reported END,
			last_reported = CASE WHEN excluded.last_reported > vulnerability_records.last_reported
				THEN excluded.last_reported ELSE vulnerability_records.last_reported END`, args...); err != nil {
			return fmt.Errorf("store: record vulnerabilities of channel %d: %w", channelID, err)
		}
		return nil
	})
}

// guessSample is how many of a page's objects insertGuessed probes first.
const guessSample = 32

// insertGuessed handles the page of a bulk load: when at most 4 of the first
// 32 objects of the page are stored (on SQLite), the whole page is taken for
// new and inserted without probing the rest, since probing a new key costs
// as much as inserting it. The objects a key turned out to hold already are
// left as they were and returned, with every object not tried, for the
// ordinary path (probe, load, merge).
func (w *PageTx) insertGuessed(ctx context.Context, p Page, order []refKey, byKey map[refKey]*pending, collID, nowUS int64) ([]refKey, error) {
	s := w.s
	if s.dialect != SQLite || len(order) < 2*guessSample {
		return order, nil
	}
	sample, err := s.probe(ctx, w.tx, order[:guessSample], p.Source.ChannelID, collID)
	if err != nil || len(sample) > guessSample/8 { // a page's first object is often the last page's last, re-read
		return order, err
	}
	for i := range p.Objects {
		pd := byKey[keyOf(p.Objects[i].Type, p.Objects[i].Value)]
		base := &pd.cur
		if !pd.seen {
			pd.seen, base = true, nil
		}
		pd.cur, _ = intel.Merge(base, &p.Objects[i], p.Source, s.policy)
	}
	all := make([]*pending, len(order))
	for i, k := range order {
		all[i] = byKey[k]
	}
	if err := s.writeObjects(ctx, w.tx, all, true, true, nowUS); err != nil {
		return nil, err
	}
	var rest []refKey
	var inserted []*pending
	for _, k := range order {
		pd := byKey[k]
		if pd.cur.ID != 0 {
			pd.inserted = true
			inserted = append(inserted, pd)
			continue
		}
		*pd = pending{digest: pd.digest, dup: pd.dup} // stored already: start over
		rest = append(rest, k)
	}
	return rest, s.indexText(ctx, w.tx, inserted)
}

func validatePage(lease Lease, p *Page) error {
	if p.Source.ChannelID != lease.ChannelID {
		return intel.Errorf(intel.EINVALID, "page from channel %d applied under the lease of channel %d",
			p.Source.ChannelID, lease.ChannelID)
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(p.Collection)); n < 1 || n > 128 {
		return intel.Errorf(intel.EINVALID, "collection name %q must be 1–128 characters", p.Collection)
	}
	for i := range p.Objects {
		if err := p.Objects[i].Validate(); err != nil {
			return fmt.Errorf("store: page object %d: %w", i, err)
		}
	}
	for i, r := range p.Relationships {
		if r.Type == "" || !r.Source.Type.Valid() || !r.Target.Type.Valid() || r.Source.Value == "" || r.Target.Value == "" {
			return intel.Errorf(intel.EINVALID, "page relationship %d (%s %s %s) is incomplete", i, r.Source, r.Type, r.Target)
		}
	}
	return nil
}

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

const objectCols = `o.id, o.type, COALESCE(o.value, o.vkey), o.name, o.description, o.tlp, o.confidence, o.relevance, o.severity, o.score,
	o.tags, o.first_seen, o.last_seen, o.valid_from, o.valid_until, o.data, o.created_at, o.modified_at`

type scanner interface{ Scan(...any) error }

// scanObject reads one row of objectCols.
func (s *Store) scanObject(r scanner, nowUS int64) (*intel.Object, error) {
	var (
		o                        intel.Object
		rel, sev                 sql.NullInt64
		first, last, from, until sql.NullInt64
		tags, data               string
		created, modified        int64
	)
	if err := r.Scan(&o.ID, &o.Type, &o.Value, &o.Name, &o.Description, &o.TLP, &o.Confidence, &rel, &sev, &o.Score,
		&tags, &first, &last, &from, &until, &data, &created, &modified); err != nil {
		return nil, err
	}
	if rel.Valid {
		v := int(rel.Int64)
		o.Relevance = &v
	}
	if sev.Valid {
		v := int(sev.Int64)
		o.Severity = &v
	}
	if tags != "[]" && tags != "" {
		if err := json.Unmarshal([]byte(tags), &o.Tags); err != nil {
			return nil, fmt.Errorf("store: object %d: bad tags: %w", o.ID, err)
		}
	}
	if data != "{}" && data != "" {
		if err := json.Unmarshal([]byte(data), &o.Details); err != nil {
			return nil, fmt.Errorf("store: object %d: bad data: %w", o.ID, err)
		}
	}
	o.FirstSeen, o.LastSeen, o.ValidFrom, o.ValidUntil = fromMicros(first), fromMicros(last), fromMicros(from), fromMicros(until)
	o.Created, o.Modified = time.UnixMicro(created).UTC(), time.UnixMicro(modified).UTC()
	o.Deprecated = until.Valid && until.Int64 < nowUS
	return &o, nil
}

// loadByKeys loads the stored objects among keys, with their sources when withSources.
func (s *Store) loadByKeys(ctx context.Context, tx *sql.Tx, keys []refKey, withSources bool) (map[refKey]*intel.Object, error) {
	out := make(map[refKey]*intel.Object, len(keys))
	byType := map[intel.Type][]string{}
	for _, k := range keys {
		byType[k.typ] = append(byType[k.typ], k.vkey)
	}
	byID := map[int64]*intel.Object{}
	for typ, vkeys := range byType {
		err := chunks(vkeys, s.batchLen, func(c []string) error {
			cond, args := s.in(2, stringArgs(c))
			return s.eachObject(ctx, tx, `SELECT `+objectCols+` FROM objects o WHERE o.type = `+s.param(1)+` AND o.vkey `+cond,
				append([]any{string(typ)}, args...), func(o *intel.Object) {
					out[keyOf(o.Type, o.Value)] = o
					byID[o.ID] = o
				})
		})
		if err != nil {
			return nil, fmt.Errorf("store: load %s objects: %w", typ, err)
		}
	}
	if withSources && len(byID) > 0 {
		if err := s.loadSources(ctx, tx, byID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadIDs sets ids[k] to the id of each stored object of keys (a
// relationship's ends need no more).
func (s *Store) loadIDs(ctx context.Context, tx *sql.Tx, keys []refKey, ids map[refKey]int64) error {
	byType := map[intel.Type][]string{}
	for _, k := range keys {
		byType[k.typ] = append(byType[k.typ], k.vkey)
	}
	for typ, vkeys := range byType {
		err := chunks(vkeys, s.batchLen, func(c []string) error {
			cond, args := s.in(2, stringArgs(c))
			rows, err := s.txQuery(ctx, tx, `SELECT o.id, o.vkey FROM objects o WHERE o.type = `+s.param(1)+` AND o.vkey `+cond,
				append([]any{string(typ)}, args...)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id int64
				var vkey string
				if err := rows.Scan(&id, &vkey); err != nil {
					return err
				}
				ids[refKey{typ, vkey}] = id
			}
			return rows.Err()
		})
		if err != nil {
			return fmt.Errorf("store: find %s objects: %w", typ, err)
		}
	}
	return nil
}

// loadSources fills the Sources of the given objects.
func (s *Store) loadSources(ctx context.Context, tx *sql.Tx, byID map[int64]*intel.Object) error {
	ids := make([]int64, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	return chunks(ids, s.batchLen, func(c []int64) error {
		cond, args := s.in(1, int64Args(c))
		rows, err := s.txQuery(ctx, tx, `SELECT object_id, channel_id, instance, channel, original_id, first_reported, last_reported,
			tlp, confidence, valid_until FROM provenance WHERE object_id `+cond+` ORDER BY object_id, channel_id`, args...)
		if err != nil {
			return fmt.Errorf("store: load provenance: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p intel.Provenance
			var id int64
			var first, last, until sql.NullInt64
			if err := rows.Scan(&id, &p.ChannelID, &p.Instance, &p.Channel, &p.OriginalID, &first, &last, &p.TLP, &p.Confidence, &until); err != nil {
				return fmt.Errorf("store: load provenance: %w", err)
			}
			p.FirstReported, p.LastReported, p.ValidUntil = fromMicros(first), fromMicros(last), fromMicros(until)
			byID[id].Sources = append(byID[id].Sources, p)
		}
		return rows.Err()
	})
}

// longValue is what the value column keeps: NULL when the key is the value.
func longValue(v string) any {
	if Vkey(v) == v {
		return nil
	}
	return v
}

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

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

// upsertObjects writes the new and the changed objects of a page and sets
// the ids of the new ones.
func (s *Store) upsertObjects(ctx context.Context, tx *sql.Tx, writes []*pending, nowUS int64) error {
	var fresh, changed []*pending
	for _, pd := range writes {
		if pd.stored == nil {
			fresh = append(fresh, pd)
		} else {
			changed = append(changed, pd)
		}
	}
	if err := s.writeObjects(ctx, tx, fresh, true, false, nowUS); err != nil {
		return err
	}
	for _, pd := range fresh {
		if pd.cur.ID == 0 {
			return intel.Errorf(intel.ECONFLICT, "%s %s was stored by another writer while the page was written", pd.cur.Type, pd.cur.Value)
		}
	}
	if err := s.writeObjects(ctx, tx, changed, false, false, nowUS); err != nil {
		return err
	}
	return s.indexText(ctx, tx, writes)
}

// indexText keeps SQLite's full-text index of names and descriptions in
// step with the objects just written (PostgreSQL's is a generated column).
func (s *Store) indexText(ctx context.Context, tx *sql.Tx, writes []*pending) error {
	if s.dialect != SQLite {
		return nil
	}
	var dels, adds []any
	for _, pd := range writes {
		o, old := &pd.cur, pd.stored
		if old != nil && old.Name == o.Name && old.Description == o.Description {
			continue
		}
		if old != nil && (old.Name != "" || old.Description != "") {
			dels = append(dels, "delete", o.ID, old.Name, old.Description)
		}
		if o.Name != "" || o.Description != "" {
			adds = append(adds, o.ID, o.Name, o.Description)
		}
	}
	for _, st := range []struct {
		args []any
		cols int
		sql  string
	}{
		{dels, 4, `INSERT INTO objects_fts (objects_fts, rowid, name, description) `},
		{adds, 3, `INSERT INTO objects_fts (rowid, name, description) `},
	} {
		for i := 0; i < len(st.args); {
			n := s.batchLen((len(st.args)-i)/st.cols) * st.cols
			if _, err := s.txExec(ctx, tx, st.sql+`VALUES `+s.placeholders(n/st.cols, st.cols, 1), st.args[i:i+n]...); err != nil {
				return fmt.Errorf("store: full-text index: %w", err)
			}
			i += n
		}
	}
	return nil
}

// insertNew is how writeObjects treats a key already stored: the new
// objects of a page were probed under the write lock (SQLite) or the keys'
// advisory locks (PostgreSQL), so a conflict is not expected and none is
// written over. On SQLite "OR IGNORE", unlike an upsert, cannot abort the
// statement halfway, so SQLite keeps no statement journal of the random
// index pages it touches: a copy of each, and a quarter of the insert's cost.
func (s *Store) insertNew() (verb, conflict string) {
	if s.dialect == SQLite {
		return "INSERT OR IGNORE", ""
	}
	return "INSERT", "ON CONFLICT (type, vkey) DO NOTHING"
}

// writeObjects inserts the new objects of writes (fresh) or writes the
// changed ones over what is stored. New objects get their ids from the
// database. On SQLite, where the transaction holds the write lock, a new row
// gets the largest id so far plus one (the documented rowid algorithm), so
// each chunk reads that once and checks afterwards that every row went in
// and the last took the id foreseen, instead of collecting the ids with
// RETURNING. (The ids are not bound explicitly: an explicit INTEGER PRIMARY
// KEY may fail its type check, and a statement that may fail halfway keeps a
// statement journal of every index page it touches.)
func (s *Store) writeObjects(ctx context.Context, tx *sql.Tx, writes []*pending, fresh, guess bool, nowUS int64) error {
	types := []string{"text", "text", "text", "text", "text", "text", "integer", "integer", "integer", "text", "text",
		"bigint", "bigint", "bigint", "bigint", "text", "bigint", "bigint"}
	verb, conflict, returning := "INSERT", `ON CONFLICT (type, vkey) DO UPDATE SET name = excluded.name,
		description = excluded.description, tlp = excluded.tlp, confidence = excluded.confidence, relevance = excluded.relevance,
		severity = excluded.severity, score = excluded.score, tags = excluded.tags, first_seen = excluded.first_seen,
		last_seen = excluded.last_seen, valid_from = excluded.valid_from, valid_until = excluded.valid_until, data = excluded.data,
		modified_at = excluded.modified_at`, ""
	foresee := fresh && s.dialect == SQLite
	if fresh {
		verb, conflict = s.insertNew()
		if !foresee {
			returning = ` RETURNING id, type, vkey`
		}
	}
	return chunks(writes, s.batchLen, func(c []*pending) error {
		args := make([]any, 0, len(c)*len(types))
		var index map[refKey]*pending
		if returning != "" {
			index = make(map[refKey]*pending, len(c))
		}
		var first int64 // the id the chunk's first new row takes, when foreseen
		if foresee {
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(max(id), 0) + 1 FROM objects`).Scan(&first); err != nil {
				return fmt.Errorf("store: next object id: %w", err)
			}
		}
		for i, pd := range c {
			o := &pd.cur
			tags, err := marshal(o.Tags)
			if err != nil {
				return err
			}
			if o.Tags == nil {
				tags = []byte("[]")
			}
			data := []byte("{}")
			if !emptyDetails(&o.Details) {
				if data, err = marshal(&o.Details); err != nil {
					return fmt.Errorf("store: encode %s %s: %w", o.Type, o.Value, err)
				}
			}
			k := keyOf(o.Type, o.Value)
			switch {
			case foresee:
				o.ID = first + int64(i)
			case index != nil:
				index[k] = pd
			default:
				o.ID = pd.stored.ID
			}
			args = append(args, string(o.Type), k.vkey, longValue(o.Value), o.Name, o.Description, string(o.TLP), o.Confidence,
				nullInt(o.Relevance), nullInt(o.Severity), string(o.Score), string(tags),
				micros(o.FirstSeen), micros(o.LastSeen), micros(o.ValidFrom), micros(o.ValidUntil), string(data), nowUS, nowUS)
		}
		src, args := s.rowsSource(args, types)
		query := verb + ` INTO objects (type, vkey, value, name, description, tlp, confidence, relevance, severity, score, tags,
			first_seen, last_seen, valid_from, valid_until, data, created_at, modified_at) ` + src + ` ` + conflict + returning
		if returning == "" {
			res, err := s.txExec(ctx, tx, query, args...)
			if err != nil {
				return fmt.Errorf("store: write objects: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("store: write objects: %w", err)
			}
			last := int64(-1)
			if foresee {
				if last, err = res.LastInsertId(); err != nil {
					return fmt.Errorf("store: write objects: %w", err)
				}
			}
			if guess && n < int64(len(c)) {
				return s.guessedIDs(ctx, tx, c, first)
			}
			if n != int64(len(c)) || (foresee && last != first+n-1) {
				return intel.Errorf(intel.ECONFLICT, "%d of %d objects written (last id %d, foreseen %d): another writer changed objects while the page was written",
					n, len(c), last, first+int64(len(c))-1)
			}
			return nil
		}
		rows, err := s.txQuery(ctx, tx, query, args...)
		if err != nil {
			return fmt.Errorf("store: write objects: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var k refKey
			if err := rows.Scan(&id, &k.typ, &k.vkey); err != nil {
				return fmt.Errorf("store: write objects: %w", err)
			}
			if pd := index[k]; pd != nil {
				pd.cur.ID = id
			}
		}
		return rows.Err()
	})
}

// guessedIDs sets the ids of the objects of c that a guessed insert did
// insert, and zeroes the others' (their keys were stored already). The
// rows inserted took the ids from first on, one after another.
func (s *Store) guessedIDs(ctx context.Context, tx *sql.Tx, c []*pending, first int64) error {
	index := make(map[refKey]*pending, len(c))
	for _, pd := range c {
		pd.cur.ID = 0
		index[keyOf(pd.cur.Type, pd.cur.Value)] = pd
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, type, vkey FROM objects WHERE id >= $1`, first)
	if err != nil {
		return fmt.Errorf("store: objects inserted: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var k refKey
		if err := rows.Scan(&id, &k.typ, &k.vkey); err != nil {
			return fmt.Errorf("store: objects inserted: %w", err)
		}
		if pd := index[k]; pd != nil {
			pd.cur.ID = id
		}
	}
	return rows.Err()
}

func (s *Store) upsertProvenance(ctx context.Context, tx *sql.Tx, writes []*pending, channelID int64) error {
	const cols = 11
	provenanceTypes := []string{"bigint", "bigint", "text", "text", "text", "bigint", "bigint", "text", "integer", "bigint", "bigint"}
	return chunks(writes, s.batchLen, func(c []*pending) error {
		args := make([]any, 0, len(c)*cols)
		for _, pd := range c {
			var dg any = pd.digest
			if pd.dup {
				dg = nil
			}
			for _, p := range pd.cur.Sources {
				if p.ChannelID != channelID {
					continue
				}
				args = append(args, pd.cur.ID, p.ChannelID, p.Instance, p.Channel, p.OriginalID, micros(p.FirstReported),
					micros(p.LastReported), string(p.TLP), p.Confidence, micros(p.ValidUntil), dg)
			}
		}
		src, args := s.rowsSource(args, provenanceTypes)
		_, err := s.txExec(ctx, tx, `INSERT INTO provenance (object_id, channel_id, instance, channel, original_id, first_reported,
			last_reported, tlp, confidence, valid_until, digest) `+src+`
			ON CONFLICT (object_id, channel_id) DO UPDATE SET instance = excluded.instance, channel = excluded.channel,
			original_id = excluded.original_id, first_reported = excluded.first_reported, last_reported = excluded.last_reported,
			tlp = excluded.tlp, confidence = excluded.confidence, valid_until = excluded.valid_until, digest = excluded.digest`, args...)
		if err != nil {
			return fmt.Errorf("store: upsert provenance: %w", err)
		}
		return nil
	})
}

// upsertSideTables keeps the searchable columns of vulnerabilities and
// software, and the hash index of every object that carries hashes.
func (s *Store) upsertSideTables(ctx context.Context, tx *sql.Tx, writes []*pending) error {
	var vulns, soft, hashes []any
	for _, pd := range writes {
		o := &pd.cur
		switch {
		case o.Type == intel.Vulnerability:
			v := o.Vulnerability
			if v == nil {
				v = &intel.VulnerabilityDetail{}
			}
			vulns = append(vulns, o.ID, nullFPID(v.FlashpointID), cvssScore(v.CVSSv2), cvssScore(v.CVSSv3), cvssScore(v.CVSSv4),
				strings.ToLower(v.Severity), nullFloat(v.EPSS), strings.ToLower(v.ExploitMaturity), micros(v.PublishedAt))
		case o.Type == intel.Software:
			vendor, product, _ := strings.Cut(o.Value, ":")
			if sw := o.Software; sw != nil {
				vendor, product = sw.Vendor, sw.Product
			}
			soft = append(soft, o.ID, vendor, product, strings.ToLower(vendor), strings.ToLower(product))
		}
		// Every hash an object carries (a file's other hashes, those of an
		// extracted config, ...) finds it in a lookup; a file's own value
		// is found through objects.
		if len(o.Hashes) == 0 {
			continue
		}
		seen := make(map[string]bool, len(o.Hashes)+1)
		if o.Type == intel.File {
			seen[o.Value] = true
		}
		for algo, h := range o.Hashes {
			if h = strings.ToLower(h); h != "" && !seen[h] {
				seen[h] = true
				hashes = append(hashes, h, o.ID, string(algo))
			}
		}
	}
	stmts := []struct {
		args  []any
		types []string
		sql   string
	}{
		{vulns, []string{"bigint", "bigint", "double precision", "double precision", "double precision", "text", "double precision", "text", "bigint"},
			`INSERT INTO vulnerabilities (object_id, flashpoint_id, cvss_v2, cvss_v3, cvss_v4, severity, epss, exploit_maturity, published_at)
			%s ON CONFLICT (object_id) DO UPDATE SET flashpoint_id = excluded.flashpoint_id, cvss_v2 = excluded.cvss_v2,
			cvss_v3 = excluded.cvss_v3, cvss_v4 = excluded.cvss_v4, severity = excluded.severity, epss = excluded.epss,
			exploit_maturity = excluded.exploit_maturity, published_at = excluded.published_at`},
		{soft, []string{"bigint", "text", "text", "text", "text"}, `INSERT INTO software (object_id, vendor, product, vendor_lc, product_lc) %s
			ON CONFLICT (object_id) DO UPDATE SET vendor = excluded.vendor, product = excluded.product,
			vendor_lc = excluded.vendor_lc, product_lc = excluded.product_lc`},
		{hashes, []string{"text", "bigint", "text"}, `INSERT INTO object_hashes (hash, object_id, algo) %s ON CONFLICT (hash, object_id) DO NOTHING`},
	}
	for _, st := range stmts {
		cols := len(st.types)
		for i := 0; i < len(st.args); {
			n := s.batchLen((len(st.args)-i)/cols) * cols
			src, a := s.rowsSource(st.args[i:i+n], st.types)
			i += n
			if _, err := s.txExec(ctx, tx, fmt.Sprintf(st.sql, src), a...); err != nil {
				return fmt.Errorf("store: upsert %s: %w", strings.Fields(st.sql)[2], err)
			}
		}
	}
	return nil
}

func cvssScore(c *intel.CVSS) any {
	if c == nil {
		return nil
	}
	return c.Score
}

func nullFloat(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullFPID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// lockKeys serialises writers of the same objects. Pages are merged in Go
// from what was read, so two channels writing the same object at once on
// PostgreSQL would each merge into the state before the other's write and
// one union would be lost. Transaction-scoped advisory locks on the objects'
// keys, taken in sorted order so that writers cannot deadlock, make the
// second wait for the first. SQLite needs none: its writers are serialised.
func (s *Store) lockKeys(ctx context.Context, tx *sql.Tx, keys []refKey) error {
	if s.dialect != Postgres || len(keys) == 0 {
		return nil
	}
	ids := make([]int64, len(keys))
	for i, k := range keys {
		h := fnv.New64a()
		h.Write([]byte(k.typ))
		h.Write([]byte{0})
		h.Write([]byte(k.vkey))
		ids[i] = int64(h.Sum64())
	}
	slices.Sort(ids)
	if _, err := s.txExec(ctx, tx, `SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest($1::bigint[]) AS k ORDER BY k) AS keys`,
		column(int64Args(slices.Compact(ids)), "bigint")); err != nil {
		return fmt.Errorf("store: lock objects: %w", err)
	}
	return nil
}

type probeRow struct {
	id     int64
	digest sql.NullInt64
	member bool
}

// probe finds which of keys are stored, the digest of the channel's last
// view of each, and whether each is in the collection.
func (s *Store) probe(ctx context.Context, tx *sql.Tx, keys []refKey, channelID, collID int64) (map[refKey]probeRow, error) {
	out := make(map[refKey]probeRow, len(keys))
	byType := map[intel.Type][]string{}
	for _, k := range keys {
		byType[k.typ] = append(byType[k.typ], k.vkey)
	}
	for typ, vkeys := range byType {
		err := chunks(vkeys, s.batchLen, func(c []string) error {
			cond, args := s.in(4, stringArgs(c))
			// Correlated subqueries, not joins: each is one index probe per
			// object, where a planner would hash-join whole tables.
			rows, err := s.txQuery(ctx, tx, `SELECT o.id, o.vkey,
				(SELECT p.digest FROM provenance p WHERE p.object_id = o.id AND p.channel_id = `+s.param(1)+`),
				(SELECT m.object_id FROM collection_objects m WHERE m.collection_id = `+s.param(2)+` AND m.object_id = o.id)
				FROM objects o WHERE o.type = `+s.param(3)+` AND o.vkey `+cond, append([]any{channelID, collID, string(typ)}, args...)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var r probeRow
				var vkey string
				var member sql.NullInt64
				if err := rows.Scan(&r.id, &vkey, &r.digest, &member); err != nil {
					return err
				}
				r.member = member.Valid
				out[refKey{typ, vkey}] = r
			}
			return rows.Err()
		})
		if err != nil {
			return nil, fmt.Errorf("store: probe %s objects: %w", typ, err)
		}
	}
	return out, nil
}

// digest fingerprints one source's view of an object: every field it
// carries, hashed directly (this runs for every item of every page).
func digest(o *intel.Object) int64 {
	h := fnv.New64a()
	var buf [8]byte
	str := func(v string) {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(v)))
		h.Write(buf[:])
		h.Write([]byte(v))
	}
	num := func(v int64) {
		binary.LittleEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:])
	}
	tm := func(t time.Time) {
		if t.IsZero() {
			num(0)
		} else {
			num(t.UnixNano())
		}
	}
	opt := func(p *int) {
		if p == nil {
			num(-1 << 62)
		} else {
			num(int64(*p))
		}
	}
	str(string(o.Type))
	str(o.Value)
	str(o.Name)
	str(o.Description)
	str(string(o.TLP))
	num(int64(o.Confidence))
	opt(o.Relevance)
	opt(o.Severity)
	str(string(o.Score))
	num(int64(len(o.Tags)))
	for _, t := range o.Tags {
		str(t)
	}
	for _, t := range []time.Time{o.FirstSeen, o.LastSeen, o.ValidFrom, o.ValidUntil, o.Reported} {
		tm(t)
	}
	str(o.OriginalID)
	if !emptyDetails(&o.Details) {
		b, err := marshal(&o.Details) // map keys marshal sorted: stable
		if err != nil {
			return 0
		}
		h.Write(b)
	}
	return int64(h.Sum64())
}

// marshal encodes what the writer stores as JSON (tags, details) exactly as
// encoding/json would (sorted map keys, HTML escaped, RawMessage compacted),
// with go-json, about twice as fast on this, the writer's path; a
// differential test and fuzz target (FuzzMarshalMatchesStdlib) hold it to
// encoding/json's bytes.
func marshal(v any) ([]byte, error) { return gojson.Marshal(v) }

// emptyDetails reports whether d has nothing to store.
func emptyDetails(d *intel.Details) bool {
	return len(d.Hashes) == 0 && len(d.Config) == 0 && len(d.AttackPatterns) == 0 && len(d.MalwareNames) == 0 &&
		len(d.ActorNames) == 0 && d.PlatformURL == "" && len(d.FullTags) == 0 && d.MalwareDescription == "" &&
		d.ActorDescription == "" && len(d.References) == 0 && len(d.RelatedIOCs) == 0 && d.Sightings == nil &&
		d.LastScoredAt.IsZero() && d.Href == "" && len(d.Tactics) == 0 &&
		d.Vulnerability == nil && d.Report == nil && d.Software == nil
}

func (s *Store) addMembers(ctx context.Context, tx *sql.Tx, collID int64, ids []int64, nowUS int64) error {
	return chunks(ids, s.batchLen, func(c []int64) error {
		args := make([]any, 0, len(c)*3)
		for _, id := range c {
			args = append(args, collID, id, nowUS)
		}
		src, args := s.rowsSource(args, []string{"bigint", "bigint", "bigint"})
		if _, err := s.txExec(ctx, tx, `INSERT INTO collection_objects (collection_id, object_id, added_at) `+
			src+` ON CONFLICT (collection_id, object_id) DO NOTHING`, args...); err != nil {
			return fmt.Errorf("store: add to collection %d: %w", collID, err)
		}
		return nil
	})
}

// linkByFlashpointID relates the vulnerabilities that share a Flashpoint id:
// a record first stored under its title and later under the CVE ID it gained
// (docs/domain.md §5) gets "title related-to CVE", so the link to the Flashpoint
// record is never lost, whichever poll saw which.
func (s *Store) linkByFlashpointID(ctx context.Context, tx *sql.Tx, writes []*pending, nowUS int64) (int, error) {
	var fpids []any
	seen := map[int64]bool{}
	for _, pd := range writes {
		if v := pd.cur.Vulnerability; pd.cur.Type == intel.Vulnerability && v != nil && v.FlashpointID != 0 && !seen[v.FlashpointID] {
			seen[v.FlashpointID] = true
			fpids = append(fpids, v.FlashpointID)
		}
	}
	if len(fpids) == 0 {
		return 0, nil
	}
	type vuln struct {
		id    int64
		isCVE bool
	}
	groups := map[int64][]vuln{}
	err := chunks(fpids, s.batchLen, func(c []any) error {
		cond, args := s.in(1, c)
		rows, err := s.txQuery(ctx, tx, `SELECT v.flashpoint_id, o.id, o.vkey FROM vulnerabilities v JOIN objects o ON o.id = v.object_id
			WHERE v.flashpoint_id `+cond, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var fp, id int64
			var vkey string
			if err := rows.Scan(&fp, &id, &vkey); err != nil {
				return err
			}
			groups[fp] = append(groups[fp], vuln{id, strings.HasPrefix(vkey, "CVE-")})
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("store: vulnerabilities by Flashpoint id: %w", err)
	}
	var args []any
	for _, g := range groups {
		for _, title := range g {
			for _, cve := range g {
				if !title.isCVE && cve.isCVE {
					args = append(args, title.id, string(intel.RelRelatedTo), cve.id, nowUS)
				}
			}
		}
	}
	if len(args) == 0 {
		return 0, nil
	}
	src, a := s.rowsSource(args, []string{"bigint", "text", "bigint", "bigint"})
	res, err := s.txExec(ctx, tx, `INSERT INTO relationships (source_id, type, target_id, created_at) `+src+
		` ON CONFLICT (source_id, type, target_id) DO NOTHING`, a...)
	if err != nil {
		return 0, fmt.Errorf("store: relate vulnerabilities by Flashpoint id: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// resolvePending makes the pending relationships whose missing end is one
// of the objects just created, and forgets them.
func (s *Store) resolvePending(ctx context.Context, tx *sql.Tx, created []refKey, nowUS int64) (int, error) {
	byType := map[intel.Type][]string{}
	for _, k := range created {
		byType[k.typ] = append(byType[k.typ], k.vkey)
	}
	added := 0
	for _, typ := range slices.Sorted(maps.Keys(byType)) {
		err := chunks(byType[typ], s.batchLen, func(c []string) error {
			cond, args := s.in(3, stringArgs(c))
			res, err := s.txExec(ctx, tx, `INSERT INTO relationships (source_id, type, target_id, created_at)
				SELECT p.source_id, p.type, o.id, `+s.param(1)+` FROM pending_relationships p
				JOIN objects o ON o.type = p.target_type AND o.vkey = p.target_vkey
				WHERE p.target_type = `+s.param(2)+` AND p.target_vkey `+cond+`
				ON CONFLICT (source_id, type, target_id) DO NOTHING`, append([]any{nowUS, string(typ)}, args...)...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			added += int(n)
			cond, args = s.in(2, stringArgs(c))
			_, err = s.txExec(ctx, tx, `DELETE FROM pending_relationships WHERE target_type = `+s.param(1)+` AND target_vkey `+cond,
				append([]any{string(typ)}, args...)...)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("store: make pending relationships to %s objects: %w", typ, err)
		}
	}
	return added, nil
}

// addRelationships resolves both ends of each relationship (in the page or
// already stored) and inserts the new ones. It returns how many were new.
func (s *Store) addRelationships(ctx context.Context, tx *sql.Tx, rels []intel.Relationship, ids map[refKey]int64, nowUS int64) (int, error) {
	if len(rels) == 0 {
		return 0, nil
	}
	var missing []refKey
	for _, r := range rels {
		for _, ref := range []intel.Ref{r.Source, r.Target} {
			if k := keyOf(ref.Type, ref.Value); ids[k] == 0 {
				missing = append(missing, k)
				ids[k] = -1
			}
		}
	}
	if len(missing) > 0 {
		if err := s.loadIDs(ctx, tx, missing, ids); err != nil {
			return 0, err
		}
	}
	type edge struct {
		src, dst int64
		typ      string
	}
	seen := map[edge]bool{}
	type later struct {
		target refKey
		src    int64
		typ    string
	}
	var args []any
	var pending []later
	for _, r := range rels {
		src, dst := ids[keyOf(r.Source.Type, r.Source.Value)], ids[keyOf(r.Target.Type, r.Target.Value)]
		if (src <= 0 || dst <= 0) && r.IfStored {
			if src > 0 { // made when the target is stored (resolvePending)
				pending = append(pending, later{keyOf(r.Target.Type, r.Target.Value), src, string(r.Type)})
			}
			continue
		}
		if src <= 0 || dst <= 0 {
			ref := r.Source
			if src > 0 {
				ref = r.Target
			}
			return 0, intel.Errorf(intel.EINVALID, "relationship %s %s %s: %s is neither in the page nor stored",
				r.Source, r.Type, r.Target, ref)
		}
		e := edge{src, dst, string(r.Type)}
		if !seen[e] {
			seen[e] = true
			args = append(args, src, e.typ, dst, nowUS)
		}
	}
	if len(pending) > 0 {
		err := chunks(pending, s.batchLen, func(c []later) error {
			a := make([]any, 0, len(c)*5)
			for _, l := range c {
				a = append(a, string(l.target.typ), l.target.vkey, l.src, l.typ, nowUS)
			}
			src, a := s.rowsSource(a, []string{"text", "text", "bigint", "text", "bigint"})
			_, err := s.txExec(ctx, tx, `INSERT INTO pending_relationships (target_type, target_vkey, source_id, type, created_at) `+
				src+` ON CONFLICT (target_type, target_vkey, source_id, type) DO NOTHING`, a...)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("store: keep pending relationships: %w", err)
		}
	}
	added := 0
	for i := 0; i < len(args); i += batch * 4 {
		src, a := s.rowsSource(args[i:min(len(args), i+batch*4)], []string{"bigint", "text", "bigint", "bigint"})
		res, err := s.txExec(ctx, tx, `INSERT INTO relationships (source_id, type, target_id, created_at) `+
			src+` ON CONFLICT (source_id, type, target_id) DO NOTHING`, a...)
		if err != nil {
			return 0, fmt.Errorf("store: add relationships: %w", err)
		}
		n, _ := res.RowsAffected()
		added += int(n)
	}
	return added, nil
}
