package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

// Purge deletes expired objects with everything that names them, keeps
// one reported again since it was listed, and leaves the rest alone.
func TestPurgeExpired(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		old := epoch.Add(-200 * 24 * time.Hour) // valid until 110 days before epoch
		p := ipv4Page(prodIndicators, 0, 20, old, "c1")
		file := intel.Object{Type: intel.File, Value: "0f343b0931126a20f133d67c2b018a3b1fdc3a8e4d3bd4d2d1e0b5d0d3c0b0a1",
			Details: intel.Details{Hashes: map[intel.HashAlgo]string{intel.SHA256: "0f343b0931126a20f133d67c2b018a3b1fdc3a8e4d3bd4d2d1e0b5d0d3c0b0a1",
				intel.MD5: "9e107d9d372bb6826bd81d3542a419d6"}},
			TLP: intel.TLPAmber, Confidence: 80, Description: "zanzibarquokka dropper", Reported: old, ValidUntil: old.Add(90 * 24 * time.Hour)}
		fresh := ipv4(100, epoch)
		p.Objects = append(p.Objects, file, fresh)
		p.Relationships = []intel.Relationship{{Source: p.Objects[0].Ref(), Type: intel.RelRelatedTo, Target: fresh.Ref()},
			{Source: fresh.Ref(), Type: intel.RelRelatedTo, Target: file.Ref()}}
		l := MustLease(t, s, prodIndicators.ChannelID)
		MustApply(t, s, l, p)
		all := count(t, s, Query{})
		if n := count(t, s, Query{Text: "zanzibarquokka"}); n != 1 {
			t.Fatalf("text search before: %d", n)
		}
		res, _ := s.Lookup(ctx, []string{fresh.Value, p.Objects[0].Value, "9e107d9d372bb6826bd81d3542a419d6"})
		if !res[0].Found || !res[1].Found || !res[2].Found {
			t.Fatalf("lookups before: %+v", res)
		}
		freshID, firstID := res[0].Object.ID, res[1].Object.ID
		if rels, _ := s.Related(ctx, freshID, 10); len(rels) != 2 {
			t.Fatalf("relationships before: %+v", rels)
		}
		if err := s.PutSTIXKeys(ctx, 1, []STIXKey{{Key: 7, ObjectID: firstID}, {Key: 8, ObjectID: freshID}}, 1); err != nil {
			t.Fatal(err)
		}

		cutoff := epoch.Add(-30 * 24 * time.Hour)
		ids, err := s.Expired(ctx, cutoff, 0, 1000)
		if err != nil || len(ids) != 21 || slices.Contains(ids, freshID) {
			t.Fatalf("expired: %d %v", len(ids), err)
		}
		// The second indicator is reported again after the listing: kept.
		again := ipv4Page(prodIndicators, 1, 1, epoch, "c2")
		MustApply(t, s, l, again)
		gone, err := s.Purge(ctx, cutoff, ids)
		if err != nil || len(gone) != 20 {
			t.Fatalf("purged %d: %v", len(gone), err)
		}
		if n := count(t, s, Query{}); n != all-20 {
			t.Errorf("objects after: %d, before %d", n, all)
		}
		if n := count(t, s, Query{Text: "zanzibarquokka"}); n != 0 {
			t.Errorf("the text index still finds a purged object: %d", n)
		}
		res, _ = s.Lookup(ctx, []string{p.Objects[0].Value, p.Objects[1].Value, "9e107d9d372bb6826bd81d3542a419d6", fresh.Value})
		if res[0].Found || !res[1].Found || res[2].Found || !res[3].Found {
			t.Errorf("lookups after the purge: %+v", res)
		}
		if rels, err := s.Related(ctx, freshID, 10); err != nil || len(rels) != 0 {
			t.Errorf("relationships of the kept object: %+v %v", rels, err)
		}
		if got, _ := s.STIXKeyObjects(ctx, []int64{7, 8}); !slices.Equal(got, []int64{freshID}) {
			t.Errorf("STIX keys after: %v", got)
		}
		if n := count(t, s, Query{Collection: "prod Indicators"}); n != all-20 {
			t.Errorf("collection after: %d", n)
		}
		// A page of the same values later stores them anew.
		MustApply(t, s, l, ipv4Page(prodIndicators, 0, 1, epoch, "c3"))
		if res, _ := s.Lookup(ctx, []string{p.Objects[0].Value}); !res[0].Found || len(res[0].Object.Sources) != 1 {
			t.Errorf("re-reported after the purge: %+v", res[0])
		}
	})
}
