package store

import (
	"context"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/flintcti/flint/internal/intel"
)

// Two Flashpoint records without a CVE id that share a title are two
// objects (their values carry their Flashpoint ids), and a lookup by the
// title finds one. A store written before, with a vulnerability valued by
// its title alone, is migrated to the same identity.
func TestVulnerabilityIdentityByFlashpointID(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		src := intel.Provenance{ChannelID: 1, Instance: "prod", Channel: "vulnerabilities"}
		vuln := func(value, title string, fpid int64) intel.Object {
			return intel.Object{Type: intel.Vulnerability, Value: value, Name: title, TLP: intel.TLPAmber, Confidence: 100,
				OriginalID: "x", Reported: c.Now(), Details: intel.Details{Vulnerability: &intel.VulnerabilityDetail{
					FlashpointID: fpid, FlashpointIDs: []int64{fpid}}}}
		}
		l := MustLease(t, s, 1)
		MustApply(t, s, l, Page{Source: src, Collection: "v", Cursor: "1", Objects: []intel.Object{
			vuln("Heap overflow in libfoo [Flashpoint 11]", "Heap overflow in libfoo", 11),
			vuln("Heap overflow in libfoo [Flashpoint 12]", "Heap overflow in libfoo", 12),
		}})
		if n := count(t, s, Query{Types: []intel.Type{intel.Vulnerability}, HasCVE: ptr(false)}); n != 2 {
			t.Fatalf("%d objects for two records sharing a title", n)
		}
		// Two records naming one CVE id: one object that keeps both ids.
		MustApply(t, s, l, Page{Source: src, Collection: "v", Cursor: "1b", Objects: []intel.Object{
			vuln("CVE-2026-1234", "Record one", 31), vuln("CVE-2026-1234", "Record two", 32),
		}})
		cve, err := s.Search(ctx, Query{Types: []intel.Type{intel.Vulnerability}, Value: "CVE-2026-1234"})
		if err != nil || len(cve.Objects) != 1 || !slices.Equal(cve.Objects[0].Vulnerability.FlashpointIDs, []int64{31, 32}) {
			t.Fatalf("a CVE id reported by two records: %+v %v", cve.Objects, err)
		}
		// Each record is a source of its own, with its Flashpoint id.
		var origins []string
		for _, p := range cve.Objects[0].Sources {
			if p.ChannelID == 1 {
				origins = append(origins, p.OriginalID)
			}
		}
		if !slices.Equal(origins, []string{"31", "32"}) {
			t.Errorf("sources of a CVE id two records reported: %+v", cve.Objects[0].Sources)
		}
		res, err := s.Lookup(ctx, []string{"Heap overflow in libfoo", "No such title"})
		if err != nil {
			t.Fatal(err)
		}
		if !res[0].Found || res[0].Object.Name != "Heap overflow in libfoo" || res[0].Value != "Heap overflow in libfoo [Flashpoint 11]" || res[1].Found {
			t.Errorf("lookup by title: %+v / %+v", res[0], res[1])
		}

		// The store as an earlier version left it: undo the identity
		// migration, store a vulnerability under its title, migrate again.
		sub, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
		if err != nil {
			t.Fatal(err)
		}
		dialect, version := goose.DialectSQLite3, int64(9)
		if s.dialect == Postgres {
			dialect, version = goose.DialectPostgres, 8
		}
		p, err := goose.NewProvider(dialect, s.db, sub, goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		// (Written first: the write path of today needs today's tables.)
		c.Add(time.Minute)
		MustApply(t, s, l, Page{Source: src, Collection: "v", Cursor: "2", Objects: []intel.Object{
			vuln("Use after free in libbar", "Use after free in libbar", 21),
		}})
		if _, err := p.DownTo(ctx, version); err != nil {
			t.Fatal(err)
		}
		if err := s.migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := s.Search(ctx, Query{Types: []intel.Type{intel.Vulnerability}, Value: "Use after free in libbar [Flashpoint 21]"})
		if err != nil || len(got.Objects) != 1 || got.Objects[0].Name != "Use after free in libbar" {
			t.Fatalf("the title-valued vulnerability was not renamed: %+v %v", got.Objects, err)
		}
	})
}

// A relationship to an object not stored yet (an indicator's related IOC)
// is made when that object comes, whichever page brings it.
func TestPendingRelationshipMadeWhenTargetComes(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		src := intel.Provenance{ChannelID: 1, Instance: "prod", Channel: "indicators"}
		l := MustLease(t, s, 1)
		a, b := ipv4(1, c.Now()), ipv4(2, c.Now())
		rel := intel.Relationship{Source: a.Ref(), Type: intel.RelRelatedTo, Target: b.Ref(), IfStored: true}
		if n := MustApply(t, s, l, Page{Source: src, Collection: "i", Cursor: "1", Objects: []intel.Object{a},
			Relationships: []intel.Relationship{rel}}).Relationships; n != 0 {
			t.Fatalf("%d relationships made to an object not stored", n)
		}
		if n := MustApply(t, s, l, Page{Source: src, Collection: "i", Cursor: "2", Objects: []intel.Object{b}}).Relationships; n != 1 {
			t.Fatalf("%d relationships made when the target came, want 1", n)
		}
		got, err := s.Search(ctx, Query{Types: []intel.Type{intel.IPv4}, Value: b.Value})
		if err != nil || len(got.Objects) != 1 {
			t.Fatal(err)
		}
		rels, err := s.Related(ctx, got.Objects[0].ID, 10)
		if err != nil || len(rels) != 1 || rels[0].Object.Value != a.Value {
			t.Fatalf("related to %s: %+v %v", b.Value, rels, err)
		}
		var pending int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pending_relationships`).Scan(&pending); err != nil || pending != 0 {
			t.Errorf("%d pending relationships left: %v", pending, err)
		}
	})
}
