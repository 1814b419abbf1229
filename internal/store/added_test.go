package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

func collectionIDOf(t *testing.T, s *Store, name string) int64 {
	t.Helper()
	var id int64
	if err := s.db.QueryRow(`SELECT id FROM collections WHERE name_key = $1`, name).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// readAdded reads a collection's added log after a stamp to its end, the
// way a TAXII client pages, and returns the objects and the last stamp.
func readAdded(t *testing.T, s *Store, coll int64, after time.Time, maxTLP intel.TLP) ([]int64, time.Time) {
	t.Helper()
	var ids []int64
	for {
		page, err := s.Added(context.Background(), AddedQuery{Collection: coll, After: after, MaxTLP: maxTLP, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page {
			if !a.At.After(after) {
				t.Fatalf("stamp %v does not follow %v", a.At, after)
			}
			ids = append(ids, a.ObjectID)
			after = a.At
		}
		if len(page) < 7 {
			return ids, after
		}
	}
}

// A reader resuming after the last stamp it saw misses nothing, even when
// a writer that began first commits last (PostgreSQL, where page
// transactions of two channels run at once; stamps taken when the pages
// were written would put the late commit's objects before the reader's
// mark); an object written again is received again; a capped reader gets
// nothing above its cap.
func TestAddedLogMissesNothing(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		l1, l2 := MustLease(t, s, 1), MustLease(t, s, 2)
		src1, src2 := prodIndicators, intel.Provenance{ChannelID: 2, Instance: "lab", Channel: "indicators"}
		page := func(src intel.Provenance, from, n int, cursor string) Page {
			p := ipv4Page(src, from, n, epoch, cursor)
			p.Collection = "shared"
			return p
		}
		MustApply(t, s, l1, page(src1, 0, 3, "0"))
		coll := collectionIDOf(t, s, "shared")
		seen, mark := readAdded(t, s, coll, time.Time{}, "")
		if len(seen) != 3 {
			t.Fatalf("first read: %d objects", len(seen))
		}

		first, err := s.BeginPages(ctx, l1) // begins first ...
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Apply(ctx, page(src1, 100, 5, "1")); err != nil {
			t.Fatal(err)
		}
		if s.dialect == Postgres { // ... another commits meanwhile (SQLite's writers take turns)
			c.Add(time.Second)
			MustApply(t, s, l2, page(src2, 200, 4, "a"))
			got, m := readAdded(t, s, coll, mark, "")
			if len(got) != 4 {
				t.Fatalf("the second writer's 4 objects: read %d", len(got))
			}
			seen, mark = append(seen, got...), m
		}
		if err := first.Commit(ctx); err != nil { // ... and the first commits last
			t.Fatal(err)
		}
		got, m := readAdded(t, s, coll, mark, "")
		if len(got) != 5 {
			t.Errorf("after the mark %v, read %d objects of the writer that committed last; want its 5", mark, len(got))
		}
		seen, mark = append(seen, got...), m

		// An object written again is received again, after the mark, and
		// listed once, at its latest version, from the start.
		c.Add(time.Hour)
		changed := page(src1, 0, 1, "2")
		changed.Objects[0].Tags = []string{"new-tag"}
		if got := MustApply(t, s, l1, changed); got.Updated != 1 {
			t.Fatalf("update: %+v", got)
		}
		if got, _ := readAdded(t, s, coll, mark, ""); len(got) != 1 || got[0] != seen[0] {
			t.Errorf("after an update: read %v, want [%d]", got, seen[0])
		}
		all, _ := readAdded(t, s, coll, time.Time{}, "")
		if len(all) != len(seen) || all[len(all)-1] != seen[0] {
			t.Errorf("from the start: %v; want %d objects, the updated one last", all, len(seen))
		}
		// A capped reader: the objects are amber.
		if got, _ := readAdded(t, s, coll, time.Time{}, intel.TLPGreen); len(got) != 0 {
			t.Errorf("a green reader got %d amber objects", len(got))
		}
	})
}

// Writers committing concurrently while a reader follows the log by its
// last stamp: the reader ends with every object, each first received once.
func TestAddedLogUnderConcurrentWriters(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		const writers, pages, perPage = 4, 12, 25
		MustApply(t, s, MustLease(t, s, 99), Page{Source: intel.Provenance{ChannelID: 99, Instance: "x", Channel: "x"}, Collection: "busy",
			Cursor: "0", Objects: []intel.Object{ipv4(99999, epoch)}})
		coll := collectionIDOf(t, s, "busy")
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				src := intel.Provenance{ChannelID: int64(w + 1), Instance: fmt.Sprint("w", w), Channel: "indicators"}
				l, err := s.AcquireLease(ctx, src.ChannelID, "test", time.Minute)
				if err != nil {
					errs <- err
					return
				}
				for p := range pages {
					pg := ipv4Page(src, (w*pages+p)*perPage, perPage, epoch, fmt.Sprint(p))
					pg.Collection = "busy"
					if _, err := s.ApplyPage(ctx, l, pg); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		got := map[int64]int{}
		var mark time.Time
		for finished := false; !finished; {
			select {
			case <-done:
				finished = true // one more read after the last commit
			default:
			}
			ids, m := readAdded(t, s, coll, mark, "")
			for _, id := range ids {
				got[id]++
			}
			mark = m
		}
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if want := writers*pages*perPage + 1; len(got) != want {
			t.Errorf("the reader received %d distinct objects; %d were written", len(got), want)
		}
		for id, n := range got {
			if n != 1 {
				t.Errorf("object %d received %d times", id, n)
			}
		}
	})
}

// The added log's readers: by type and object, each object's history, the
// first stamp; the STIX key index and its mark, which never moves back.
func TestAddedFiltersAndSTIXKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		l := MustLease(t, s, 1)
		p := ipv4Page(prodIndicators, 0, 3, epoch, "1")
		p.Objects = append(p.Objects, intel.Object{Type: intel.Domain, Value: "a.example", TLP: intel.TLPAmber, Confidence: 50, Created: epoch, Modified: epoch})
		MustApply(t, s, l, p)
		coll := collectionIDOf(t, s, strings.ToLower(p.Collection))
		c.Add(time.Minute)
		again := ipv4Page(prodIndicators, 0, 1, epoch.Add(time.Hour), "2")
		MustApply(t, s, l, again)
		all, err := s.Added(ctx, AddedQuery{Collection: coll, Limit: 100})
		if err != nil || len(all) != 4 {
			t.Fatalf("all: %v %v", all, err)
		}
		domains, err := s.Added(ctx, AddedQuery{Collection: coll, Types: []intel.Type{intel.Domain}, Limit: 100})
		if err != nil || len(domains) != 1 {
			t.Fatalf("domains: %v %v", domains, err)
		}
		updated := all[len(all)-1].ObjectID // written again last
		one, err := s.Added(ctx, AddedQuery{Collection: coll, Objects: []int64{updated, domains[0].ObjectID}, Limit: 100})
		if err != nil || len(one) != 2 {
			t.Fatalf("by object: %v %v", one, err)
		}
		if none, err := s.Added(ctx, AddedQuery{Collection: coll, Objects: []int64{}, Limit: 100}); err != nil || len(none) != 0 {
			t.Fatalf("no objects named: %v %v", none, err)
		}
		hist, err := s.AddedHistory(ctx, coll, []int64{updated, domains[0].ObjectID})
		if err != nil || len(hist[updated]) != 2 || len(hist[domains[0].ObjectID]) != 1 || !hist[updated][0].At.Before(hist[updated][1].At) {
			t.Fatalf("history: %v %v", hist, err)
		}
		first, err := s.FirstAdded(ctx, coll)
		if err != nil || !first.Equal(hist[domains[0].ObjectID][0].At) && !first.Before(hist[domains[0].ObjectID][0].At) {
			t.Fatalf("first added %v: %v", first, err)
		}
		if err := s.PutSTIXKeys(ctx, coll, []STIXKey{{Key: -5, ObjectID: updated}, {Key: 7, ObjectID: updated}, {Key: 7, ObjectID: domains[0].ObjectID}}, 100); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSTIXKeys(ctx, coll, []STIXKey{{Key: 7, ObjectID: updated}}, 50); err != nil { // a late, lagging indexer
			t.Fatal(err)
		}
		if done, err := s.STIXKeysDone(ctx, coll); err != nil || done != 100 {
			t.Errorf("mark %d, %v; want 100", done, err)
		}
		if ids, err := s.STIXKeyObjects(ctx, []int64{7, 8}); err != nil || len(ids) != 2 {
			t.Errorf("key 7: %v %v", ids, err)
		}
		if ids, err := s.STIXKeyObjects(ctx, []int64{-5}); err != nil || len(ids) != 1 || ids[0] != updated {
			t.Errorf("key -5: %v %v", ids, err)
		}
	})
}
