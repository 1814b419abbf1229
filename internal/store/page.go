package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

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

// Counts say what a page did to the store: its objects new, updated and
// unchanged, and the relationships not seen before (feed.Counts, the one
// counts type; the store fills these four).
type Counts = feed.Counts

type refKey struct {
	typ  intel.Type
	vkey string
}

func keyOf(t intel.Type, value string) refKey { return refKey{t, Vkey(value)} }

// fate is what a page does to one of its objects, decided once.
type fate uint8

const (
	fateUndecided  fate = iota
	fateDigestSame      // the source's view has the digest of its last one: unchanged, nothing loaded or written
	fateGuessed         // inserted as new by the bulk-load guess (insertGuessed)
	fateCreated         // not stored before: inserted
	fateUpdated         // stored, and changed by the page: written over
	fateMergeSame       // stored, and merges to what is stored: only the view's digest is noted
)

// pending is one object of a page on its way into the store.
type pending struct {
	stored  *intel.Object // as loaded (fateUpdated, fateMergeSame); nil otherwise
	cur     intel.Object  // the page's views merged so far
	digest  int64         // of the (first) view
	views   int           // the page's views of the object
	merged  int           // how many of them are merged into cur
	changed bool          // a merged view changed the stored object
	member  bool          // already in the page's collection
	fate    fate
}

// merge merges one of the page's views of the object: the first into what
// is stored, the next into the first.
func (pd *pending) merge(view *intel.Object, src intel.Provenance, policy intel.TLPPolicy) {
	base := &pd.cur
	if pd.merged == 0 {
		base = pd.stored
	}
	merged, changed := intel.Merge(base, view, src, policy)
	pd.cur, pd.changed, pd.merged = merged, pd.changed || changed, pd.merged+1
}

// decide settles the fate of an object the page merged.
func (pd *pending) decide() {
	switch {
	case pd.stored == nil:
		pd.fate = fateCreated
	case pd.changed:
		pd.fate = fateUpdated
	default:
		pd.fate = fateMergeSame
		pd.cur.ID = pd.stored.ID
	}
}

// countFate adds an object of fate f to c.
func countFate(c *Counts, f fate) {
	switch f {
	case fateGuessed, fateCreated:
		c.New++
	case fateUpdated:
		c.Updated++
	default:
		c.Unchanged++
	}
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
	return counts, w.Commit(ctx)
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
	// added are the object versions the transaction gave its collections,
	// stamped in the added log at commit (added.go).
	added     []addedEntry
	addedSeen map[addedEntry]bool
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
		invalid = $6, unsupported = $7, cursor_after = $8, listed = $9, requests = $10, relationships = $11
		WHERE id = $12 AND channel_id = $13`,
		run.Pages, run.New, run.Updated, run.Unchanged, run.Filtered, run.Invalid, run.Unsupported, run.CursorAfter,
		run.Listed, run.Requests, run.Relationships, run.ID, w.lease.ChannelID); err != nil {
		return fmt.Errorf("store: record poll %d: %w", run.ID, err)
	}
	return nil
}

// Commit makes the pages applied so far durable, with the last cursor.
func (w *PageTx) Commit(ctx context.Context) error {
	defer w.release()
	if err := w.s.logAdded(ctx, w.tx, w.added); err != nil {
		return err
	}
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
			pd.views++
			continue
		}
		order = append(order, k)
		byKey[k] = &pending{digest: digest(&p.Objects[i]), views: 1}
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
		case pr.digest.Valid && pr.digest.Int64 == pd.digest && pd.views == 1:
			pd.fate, pd.cur.ID, pd.member = fateDigestSame, pr.id, pr.member
		default:
			full = append(full, k)
			pd.member = pr.member
		}
	}
	stored, err := s.loadByKeys(ctx, tx, full, true)
	if err != nil {
		return counts, err
	}
	for _, k := range full {
		byKey[k].stored = stored[k]
	}
	for i := range p.Objects {
		if pd := byKey[keyOf(p.Objects[i].Type, p.Objects[i].Value)]; pd.fate == fateUndecided {
			pd.merge(&p.Objects[i], p.Source, s.policy)
		}
	}

	var writes, objects, provOnly []*pending
	var fresh []refKey // the objects the page stores for the first time
	for _, k := range order {
		pd := byKey[k]
		if pd.fate == fateUndecided {
			pd.decide()
		}
		countFate(&counts, pd.fate)
		switch pd.fate {
		case fateGuessed:
			writes, fresh = append(writes, pd), append(fresh, k)
		case fateCreated:
			writes, objects, fresh = append(writes, pd), append(objects, pd), append(fresh, k)
		case fateUpdated:
			writes, objects = append(writes, pd), append(objects, pd)
		case fateMergeSame:
			// The view differs from the last one but merges to the same
			// object (an older re-read, say): remember the view's digest.
			provOnly = append(provOnly, pd)
		}
	}
	if err := s.writeObjects(ctx, tx, objects, nowUS); err != nil {
		return counts, err
	}
	if err := s.upsertProvenance(ctx, tx, append(writes, provOnly...), p.Source.ChannelID); err != nil {
		return counts, err
	}
	if err := s.upsertSideTables(ctx, tx, writes); err != nil {
		return counts, err
	}
	var join, changed []int64
	for _, k := range order {
		pd := byKey[k]
		if !pd.member {
			join = append(join, pd.cur.ID)
		}
		switch {
		case pd.fate == fateUpdated: // a new version: every collection holding it receives it
			changed = append(changed, pd.cur.ID)
			w.noteAdded(collID, pd.cur.ID, nowUS)
		case pd.fate == fateGuessed || pd.fate == fateCreated || !pd.member:
			w.noteAdded(collID, pd.cur.ID, nowUS)
		}
	}
	if err := w.noteOtherCollections(ctx, changed, collID, nowUS); err != nil {
		return counts, err
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
	resolved, err := s.resolvePending(ctx, tx, fresh, nowUS)
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
		byKey[keyOf(p.Objects[i].Type, p.Objects[i].Value)].merge(&p.Objects[i], p.Source, s.policy)
	}
	all := make([]*pending, len(order))
	for i, k := range order {
		all[i] = byKey[k]
	}
	if err := s.insertForeseen(ctx, w.tx, all, true, nowUS); err != nil {
		return nil, err
	}
	var rest []refKey
	var inserted []*pending
	for _, k := range order {
		pd := byKey[k]
		if pd.cur.ID != 0 {
			pd.fate = fateGuessed
			inserted = append(inserted, pd)
			continue
		}
		*pd = pending{digest: pd.digest, views: pd.views} // stored already: start over
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

type scanner interface{ Scan(...any) error }
