package store

import (
	"context"
	"testing"

	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/stix"
)

// Every STIX id an object is written as finds the object: those of objects
// written by pages, and, after the migration that made the table, those of
// objects stored before it.
func TestSTIXIDsFindTheirObjects(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		l := MustLease(t, s, 1)
		p := ipv4Page(prodIndicators, 0, 5, epoch, "1")
		p.Objects = append(p.Objects, intel.Object{Type: intel.Vulnerability, Value: "CVE-2026-1234", Name: "x", TLP: intel.TLPAmber, Reported: epoch})
		MustApply(t, s, l, p)
		check := func(when string) {
			res, err := s.Search(ctx, Query{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			for i := range res.Objects {
				o := &res.Objects[i]
				ids := stix.IDs(o)
				if o.Type.IsIndicator() && len(ids) != 2 {
					t.Errorf("%s: indicator %s has ids %v; want its indicator and observable", when, o.Value, ids)
				}
				for _, id := range ids {
					if got, err := s.ObjectOfSTIXID(ctx, id); err != nil || got != o.ID {
						t.Errorf("%s: %s finds %d (%v); want %d", when, id, got, err, o.ID)
					}
				}
			}
			if _, err := s.ObjectOfSTIXID(ctx, "indicator--00000000-0000-5000-8000-000000000000"); intel.ErrorCode(err) != intel.ENOTFOUND {
				t.Errorf("%s: an unknown id: %v", when, err)
			}
		}
		check("written")

		// Undo the migration (the table goes), then migrate again: the
		// stored objects' ids are computed afresh.
		version := int64(13)
		if s.dialect == Postgres {
			version = 12
		}
		pr, err := s.migrations()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pr.DownTo(ctx, version); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ObjectOfSTIXID(ctx, "x"); err == nil {
			t.Fatal("stix_ids still there after the migration was undone")
		}
		if err := s.migrate(ctx); err != nil {
			t.Fatal(err)
		}
		check("migrated")
	})
}
