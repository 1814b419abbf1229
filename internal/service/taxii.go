package service

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/stix"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/taxii"
)

// TAXII 2.1 over the store's added log (docs/taxii.md).
//
// Each Flint collection is a read-only TAXII collection. Its entries are
// the added log's: each object the collection received, at its latest
// version, stamped when the collection received it (date_added, unique in
// the collection, in commit order). An entry's STIX objects are the
// object's own (an indicator, vulnerability, report, ...), its indicator's
// observable, and the relationships whose Flint source it is, to objects
// the reader may see in the collection; a report's object_refs name what
// it relates to there. Before every entry come the objects Flint's objects
// refer to without holding them (identities, the extension definition, the
// TLP marking definitions), dated just before the collection was created.
// A walk's position is (stamp, objects of that entry served), carried in
// the signed next token.

// TAXIIObject is a STIX object as TAXII serves it.
type TAXIIObject struct {
	Object    *stix.Object
	DateAdded time.Time
	Version   time.Time
}

// TAXIIPage is one response of the objects or manifest endpoints.
type TAXIIPage struct {
	Objects []TAXIIObject
	More    bool
	Next    string
}

// taxiiScan bounds the entries one request reads looking for objects that
// pass its filter; past it the page ends (more is true) and the next token
// resumes there.
const taxiiScan = 10 * taxii.MaxPage

// TAXIICollections lists the TAXII collections p may read: every Flint
// collection, to a principal with read_intel.
func (s *Service) TAXIICollections(ctx context.Context, p *auth.Principal) ([]taxii.Collection, error) {
	if err := need(p, auth.ReadIntel); err != nil {
		return nil, err
	}
	cs, err := s.Store.CollectionList(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]taxii.Collection, 0, len(cs))
	for _, c := range cs {
		out = append(out, taxiiCollection(c))
	}
	return out, nil
}

func taxiiCollection(c intel.Collection) taxii.Collection {
	return taxii.Collection{ID: taxii.CollectionID(c.Name), Title: c.Name,
		Description: fmt.Sprintf("Flint collection %q: Flashpoint Ignite intelligence as STIX 2.1 (read-only)", c.Name),
		CanRead:     true, MediaTypes: []string{taxii.STIXMediaType}}
}

// TAXIICollection returns the collection of a TAXII id.
func (s *Service) TAXIICollection(ctx context.Context, p *auth.Principal, id string) (taxii.Collection, error) {
	c, err := s.taxiiCollection(ctx, p, id)
	if err != nil {
		return taxii.Collection{}, err
	}
	return taxiiCollection(c), nil
}

func (s *Service) taxiiCollection(ctx context.Context, p *auth.Principal, id string) (intel.Collection, error) {
	if err := need(p, auth.ReadIntel); err != nil {
		return intel.Collection{}, err
	}
	cs, err := s.Store.CollectionList(ctx)
	if err != nil {
		return intel.Collection{}, err
	}
	for _, c := range cs {
		if taxii.CollectionID(c.Name) == id {
			return c, nil
		}
	}
	return intel.Collection{}, intel.Errorf(intel.ENOTFOUND, "no collection %q in this API root", id)
}

// TAXIIObjects returns a page of a collection's objects that match f, as p
// may see them (nothing above its TLP cap, nor any sign of it).
func (s *Service) TAXIIObjects(ctx context.Context, p *auth.Principal, collection string, f taxii.Filter) (TAXIIPage, error) {
	c, err := s.taxiiCollection(ctx, p, collection)
	if err != nil {
		return TAXIIPage{}, err
	}
	w, err := s.newWalk(ctx, p, c, f)
	if err != nil {
		return TAXIIPage{}, err
	}
	return w.run(ctx)
}

// TAXIIVersions lists the versions of one object of a collection that the
// collection received, oldest first. Flint keeps an object's latest
// content only; its earlier versions are listed, and cannot be fetched.
func (s *Service) TAXIIVersions(ctx context.Context, p *auth.Principal, collection, id string, f taxii.Filter) (TAXIIPage, error) {
	c, err := s.taxiiCollection(ctx, p, collection)
	if err != nil {
		return TAXIIPage{}, err
	}
	f.IDs, f.Versions = []string{id}, nil
	limit, next := f.Limit, f.Next
	f.Limit, f.Next = taxii.MaxPage, ""
	w, err := s.newWalk(ctx, p, c, f)
	if err != nil {
		return TAXIIPage{}, err
	}
	found, err := w.run(ctx)
	if err != nil || len(found.Objects) == 0 {
		return TAXIIPage{}, err
	}
	cur := found.Objects[0]
	var versions []TAXIIObject // Object is the current one; DateAdded and Version per version
	if owner, ok := w.owner[cur.Object.ID]; ok && cur.Object.Type != "relationship" {
		hist, err := s.Store.AddedHistory(ctx, c.ID, []int64{owner})
		if err != nil {
			return TAXIIPage{}, err
		}
		for i, a := range hist[owner] {
			v := a.Modified.Truncate(time.Millisecond)
			switch {
			case i == len(hist[owner])-1:
				v = cur.Version
			case cur.Object.Modified == nil: // an observable: versioned by when it was added
				v = a.At
			}
			versions = append(versions, TAXIIObject{Object: cur.Object, DateAdded: a.At, Version: v})
		}
	}
	if len(versions) == 0 {
		versions = []TAXIIObject{cur}
	}
	// One entry per version, the latest addition of each.
	byVersion := map[time.Time]int{}
	var out []TAXIIObject
	for _, v := range versions {
		if i, ok := byVersion[v.Version]; ok {
			out[i] = v
			continue
		}
		if !v.DateAdded.After(f.AddedAfter) && !f.AddedAfter.IsZero() {
			continue
		}
		byVersion[v.Version] = len(out)
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b TAXIIObject) int { return a.Version.Compare(b.Version) })
	skip := 0
	if next != "" {
		t, err := s.verifyToken(p, c, f, next)
		if err != nil {
			return TAXIIPage{}, err
		}
		skip = min(t.Skip, len(out))
	}
	page := TAXIIPage{Objects: out[skip:]}
	if len(page.Objects) > limit {
		page.Objects, page.More = page.Objects[:limit], true
		page.Next = s.signToken(p, c, f, 0, skip+limit)
	}
	return page, nil
}

// walk is one request's reading of a collection.
type walk struct {
	s      *Service
	p      *auth.Principal
	c      intel.Collection
	f      taxii.Filter
	types  map[string]bool // match[type]; nil: all
	ids    map[string]bool // match[id]; nil: all
	flint  []intel.Type    // the Flint types whose entries can hold a wanted STIX type; nil: all
	extras bool            // whether the extras can match
	only   []int64         // the objects whose entries can hold a wanted id (match[id]); nil: all
	owner  map[string]int64
	first  bool // match[version] asks for first versions: the history is read
	start  position
}

// position is where a walk resumes: the entry stamped at least stamp, of
// which skip objects were served if it is stamped stamp.
type position struct {
	stamp int64
	skip  int
}

func (s *Service) newWalk(ctx context.Context, p *auth.Principal, c intel.Collection, f taxii.Filter) (*walk, error) {
	w := &walk{s: s, p: p, c: c, f: f, extras: true, owner: map[string]int64{}}
	if !f.AddedAfter.IsZero() {
		w.start.stamp = max(f.AddedAfter.UnixMicro()+1, 0)
	}
	if f.Next != "" {
		t, err := s.verifyToken(p, c, f, f.Next)
		if err != nil {
			return nil, err
		}
		w.start = position{t.Stamp, t.Skip}
	}
	for _, v := range f.Versions {
		w.first = w.first || v.Keyword == "first"
	}
	if f.Types != nil {
		w.types = map[string]bool{}
		all := false
		w.extras = false
		for _, t := range f.Types {
			w.types[t] = true
			switch ft, ok := flintTypesOf[t]; {
			case t == "relationship":
				all = true
			case ok:
				w.flint = append(w.flint, ft...)
			case extraTypes[t]:
				w.extras = true
			}
		}
		if all {
			w.flint = nil
		} else if w.flint == nil {
			w.flint = []intel.Type{} // no Flint type holds what is asked: no entry is read
		}
	}
	if f.IDs != nil {
		w.ids = map[string]bool{}
		var keys []int64
		w.extras = false
		for _, id := range f.IDs {
			w.ids[id] = true
			if extraIDs[id] {
				w.extras = true
			} else {
				keys = append(keys, stix.Key(id))
			}
		}
		if err := s.indexSTIXKeys(ctx, c); err != nil {
			return nil, err
		}
		only, err := s.Store.STIXKeyObjects(ctx, keys)
		if err != nil {
			return nil, err
		}
		if len(only) > store.MaxIDs { // only on a collision of 64-bit keys beyond belief
			s.log().Warn("taxii: match[id] names more objects than one query may; some are left out", "objects", len(only))
			only = only[:store.MaxIDs]
		}
		w.only = append([]int64{}, only...)
	}
	return w, nil
}

// flintTypesOf are the Flint types whose entries hold each STIX type
// (relationships: every type's).
var flintTypesOf = func() map[string][]intel.Type {
	m := map[string][]intel.Type{
		"ipv4-addr": {intel.IPv4}, "ipv6-addr": {intel.IPv6}, "domain-name": {intel.Domain}, "url": {intel.URL},
		"email-addr": {intel.Email}, "file": {intel.File, intel.Filename}, "mutex": {intel.Mutex},
		"windows-registry-key": {intel.RegistryKey}, "autonomous-system": {intel.ASN},
		"vulnerability": {intel.Vulnerability}, "report": {intel.Report}, "malware": {intel.Malware},
		"threat-actor": {intel.ThreatActor}, "attack-pattern": {intel.AttackPattern}, "software": {intel.Software},
	}
	for _, t := range intel.Types() {
		if t.IsIndicator() {
			m["indicator"] = append(m["indicator"], t)
		}
	}
	return m
}()

var extraTypes = map[string]bool{"identity": true, "marking-definition": true, "extension-definition": true}

var extraIDs = func() map[string]bool {
	m := map[string]bool{}
	for _, o := range stix.Extras() {
		m[o.ID] = true
	}
	return m
}()

// run reads the page.
func (w *walk) run(ctx context.Context) (TAXIIPage, error) {
	var page TAXIIPage
	if !w.f.ServesSpec() || (w.flint != nil && len(w.flint) == 0 && !w.extras) || (w.only != nil && len(w.only) == 0 && !w.extras) {
		return page, nil
	}
	pos := w.start
	full := false
	// emit serves an entry's objects; it reports false once the page is
	// full and the entry has an object left to serve.
	emit := func(stamp int64, objs []TAXIIObject) bool {
		skip := 0
		if stamp == pos.stamp {
			skip = min(pos.skip, len(objs))
		}
		for i := skip; i < len(objs); i++ {
			if len(page.Objects) == w.f.Limit {
				page.More, page.Next = true, w.s.signToken(w.p, w.c, w.f, stamp, i)
				full = true
				return false
			}
			page.Objects = append(page.Objects, objs[i])
		}
		pos = position{stamp + 1, 0}
		return true
	}
	// Just before the collection was created, and before its first entry
	// whatever the clocks of the replicas that wrote them.
	extrasAt := w.c.Created
	if first, err := w.s.Store.FirstAdded(ctx, w.c.ID); err != nil {
		return page, err
	} else if !first.IsZero() && first.Before(extrasAt) {
		extrasAt = first
	}
	extrasAt = extrasAt.Add(-time.Microsecond)
	if w.extras && pos.stamp <= extrasAt.UnixMicro() {
		var objs []TAXIIObject
		for _, o := range stix.Extras() {
			if t := (TAXIIObject{Object: o, DateAdded: extrasAt, Version: o.VersionTime()}); w.keep(t, true) {
				objs = append(objs, t)
			}
		}
		if !emit(extrasAt.UnixMicro(), objs) {
			return page, nil
		}
	}
	if w.flint != nil && len(w.flint) == 0 || w.only != nil && len(w.only) == 0 {
		return page, nil
	}
	// Entries are read as many at a time as the page still needs, by the
	// objects an entry has held so far (an indicator and its observable: 2
	// to begin with), and one more to know whether there is more.
	served, read := 2, 1
	for scanned := 0; scanned < taxiiScan; {
		need := (w.f.Limit - len(page.Objects)) * read / served
		batch := min(max(need+1, 16), store.MaxIDs)
		entries, err := w.s.Store.Added(ctx, store.AddedQuery{Collection: w.c.ID, After: time.UnixMicro(pos.stamp - 1),
			MaxTLP: w.p.Cap(), Types: w.flint, Objects: w.only, Limit: batch})
		if err != nil {
			return page, err
		}
		groups, err := w.groups(ctx, entries)
		if err != nil {
			return page, err
		}
		for _, e := range entries {
			if !emit(e.At.UnixMicro(), groups[e.ObjectID]) {
				return page, nil
			}
			served += len(groups[e.ObjectID])
			read++
		}
		scanned += len(entries)
		if len(entries) < batch {
			return page, nil // the end of the log
		}
	}
	if !full { // the scan's bound: resume after what was read
		page.More, page.Next = true, w.s.signToken(w.p, w.c, w.f, pos.stamp, 0)
	}
	return page, nil
}

// keep reports whether an object passes the filter's type, id and version.
func (w *walk) keep(t TAXIIObject, first bool) bool {
	if w.types != nil && !w.types[t.Object.Type] || w.ids != nil && !w.ids[t.Object.ID] {
		return false
	}
	if len(w.f.Versions) == 0 {
		return true
	}
	for _, v := range w.f.Versions {
		switch {
		case v.Keyword == "last" || v.Keyword == "all":
			return true
		case v.Keyword == "first" && first:
			return true
		case v.Keyword == "" && v.At.Equal(t.Version):
			return true
		}
	}
	return false
}

// groups returns the STIX objects of each entry, filtered.
func (w *walk) groups(ctx context.Context, entries []store.Added) (map[int64][]TAXIIObject, error) {
	out := map[int64][]TAXIIObject{}
	if len(entries) == 0 {
		return out, nil
	}
	ids := make([]int64, len(entries))
	for i, e := range entries {
		ids[i] = e.ObjectID
	}
	firsts := map[int64]bool{}
	if w.first {
		hist, err := w.s.Store.AddedHistory(ctx, w.c.ID, ids)
		if err != nil {
			return nil, err
		}
		for id, h := range hist {
			firsts[id] = slices.IndexFunc(h, func(a store.Added) bool { return !a.Modified.Equal(h[0].Modified) }) < 0
		}
	}
	encoded, err := w.s.encodeEntries(ctx, ids, w.p.Cap(), w.c.Name)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		for _, o := range encoded[e.ObjectID] {
			t := TAXIIObject{Object: o, DateAdded: e.At, Version: o.VersionTime()}
			if t.Version.IsZero() {
				t.Version = e.At
			}
			if w.keep(t, firsts[e.ObjectID]) {
				w.owner[o.ID] = e.ObjectID
				out[e.ObjectID] = append(out[e.ObjectID], t)
			}
		}
	}
	return out, nil
}

// encodeEntries writes the STIX objects of each of ids (at most
// store.MaxIDs objects): the object's own, its observable, its
// relationships as their Flint source to objects of the collection named
// coll that a reader capped at maxTLP sees (coll "": to any object, no
// cap: what the id index records), and a report's object_refs.
func (s *Service) encodeEntries(ctx context.Context, ids []int64, maxTLP intel.TLP, coll string) (map[int64][]*stix.Object, error) {
	res, err := s.Store.Search(ctx, store.Query{IDs: ids, Bare: true, MaxTLP: maxTLP, Limit: len(ids)})
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*intel.Object, len(res.Objects))
	for i := range res.Objects {
		byID[res.Objects[i].ID] = &res.Objects[i]
	}
	// The other ends: those the reader sees in the collection. An object
	// of this batch is in the collection already.
	links, ends, err := s.linksAndEnds(ctx, ids, byID, store.Query{Collection: coll, MaxTLP: maxTLP, Bare: true})
	if err != nil {
		return nil, err
	}
	end := func(id int64) *intel.Object {
		if o := byID[id]; o != nil {
			return o
		}
		return ends[id]
	}
	type parts struct {
		rels, reportRels []intel.Relationship
		known            []intel.Object
	}
	per := map[int64]*parts{}
	at := func(id int64) *parts {
		if per[id] == nil {
			per[id] = &parts{}
		}
		return per[id]
	}
	for _, l := range links {
		src, dst := end(l.Source), end(l.Target)
		if src == nil || dst == nil || l.Source == l.Target {
			continue
		}
		r := intel.Relationship{Source: src.Ref(), Type: l.Type, Target: dst.Ref()}
		if byID[l.Source] != nil {
			p := at(l.Source)
			p.rels = append(p.rels, r)
			p.known = append(p.known, *dst)
			if src.Type == intel.Report {
				p.reportRels = append(p.reportRels, r)
			}
		}
		if byID[l.Target] != nil && dst.Type == intel.Report {
			p := at(l.Target)
			p.reportRels = append(p.reportRels, r)
			p.known = append(p.known, *src)
		}
	}
	out := make(map[int64][]*stix.Object, len(byID))
	for id, o := range byID {
		page := stix.Page{Objects: []intel.Object{*o}}
		if p := per[id]; p != nil {
			page.Relationships, page.ReportRelationships, page.Known = p.rels, p.reportRels, p.known
		}
		objs, err := stix.Objects(page)
		if err != nil {
			return nil, err
		}
		// The object and its observable first, then its relationships by
		// id: an entry reads the same whatever batch it was read in.
		slices.SortStableFunc(objs, func(a, b *stix.Object) int {
			ra, rb := a.Type == "relationship", b.Type == "relationship"
			switch {
			case ra && rb:
				return strings.Compare(a.ID, b.ID)
			case ra:
				return 1
			case rb:
				return -1
			}
			return 0
		})
		out[id] = objs
	}
	return out, nil
}

// indexSTIXKeys brings a collection's STIX id index up to its added log:
// the ids of each object's latest entry (its own, its observable's, its
// relationships' to any object), under the first 64 bits of each.
func (s *Service) indexSTIXKeys(ctx context.Context, c intel.Collection) error {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	done, err := s.Store.STIXKeysDone(ctx, c.ID)
	if err != nil {
		return err
	}
	for {
		entries, err := s.Store.Added(ctx, store.AddedQuery{Collection: c.ID, After: time.UnixMicro(done), Limit: store.MaxIDs})
		if err != nil || len(entries) == 0 {
			return err
		}
		ids := make([]int64, len(entries))
		for i, e := range entries {
			ids[i] = e.ObjectID
		}
		encoded, err := s.encodeEntries(ctx, ids, "", "")
		if err != nil {
			return err
		}
		var keys []store.STIXKey
		for id, objs := range encoded {
			for _, o := range objs {
				keys = append(keys, store.STIXKey{Key: stix.Key(o.ID), ObjectID: id})
			}
		}
		done = entries[len(entries)-1].At.UnixMicro()
		if err := s.Store.PutSTIXKeys(ctx, c.ID, keys, done); err != nil {
			return err
		}
		if len(entries) < store.MaxIDs {
			return nil
		}
	}
}

// IndexSTIX brings every collection's STIX id index up to its added log, so
// that a TAXII look-up by id seldom waits for it. flint serve runs it after
// polls; a look-up runs it for its collection first in any case.
func (s *Service) IndexSTIX(ctx context.Context) error {
	cs, err := s.Store.CollectionList(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := s.indexSTIXKeys(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func capRank(p *auth.Principal) int {
	if c := p.Cap(); c != "" {
		return c.Rank()
	}
	return -1
}

// tokenKey is the key of next tokens: Service.TokenKey, or, when it is
// unset, a random key of this process (its tokens end with it).
func (s *Service) tokenKey() []byte {
	if len(s.TokenKey) > 0 {
		return s.TokenKey
	}
	s.tokenOnce.Do(func() {
		s.randomKey = make([]byte, 32)
		_, _ = rand.Read(s.randomKey) // crypto/rand.Read does not fail
	})
	return s.randomKey
}

func (s *Service) signToken(p *auth.Principal, c intel.Collection, f taxii.Filter, stamp int64, skip int) string {
	return taxii.Sign(s.tokenKey(), taxii.Token{Key: p.KeyID, CapRank: capRank(p), Collection: c.ID, Filter: f.Digest(), Stamp: stamp, Skip: skip})
}

// verifyToken reads a next token, refusing one this server did not sign,
// or signed for another key, cap, collection or filter.
func (s *Service) verifyToken(p *auth.Principal, c intel.Collection, f taxii.Filter, next string) (taxii.Token, error) {
	t, err := taxii.Verify(s.tokenKey(), next)
	switch {
	case err != nil:
		return t, intel.Errorf(intel.EINVALID, "next: the token is not one this server gave (forged, altered or cut)")
	case t.Key != p.KeyID || t.CapRank != capRank(p):
		return t, intel.Errorf(intel.EINVALID, "next: the token was given to another key; each key pages with its own")
	case t.Collection != c.ID:
		return t, intel.Errorf(intel.EINVALID, "next: the token was given for another collection")
	case t.Filter != f.Digest():
		return t, intel.Errorf(intel.EINVALID, "next: the token was given for other filters; send next with the added_after and match[...] of the request that returned it")
	}
	return t, nil
}
