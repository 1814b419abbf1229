package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

// Reconciling matches opens, sees, resolves and reopens exposures; people's
// states hold; a cap hides exposures above it; removing the asset removes
// its exposures.
func TestReconcileExposures(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		p := intel.ProductRef{Vendor: "Examplesoft", Product: "EdgeGate", Versions: []string{"4.2"}}
		MustApply(t, s, MustLease(t, s, prodVulns.ChannelID), Page{Source: prodVulns, Collection: "prod Vulnerabilities",
			Objects: []intel.Object{vuln("CVE-2026-0001", 5, 9.8, 9, 0.5, "critical", "high", p), vuln("CVE-2026-0002", 5, 5, 5, 0.1, "medium", "", p)}})
		res, _ := s.Lookup(ctx, []string{"CVE-2026-0001", "CVE-2026-0002"})
		v1, v2 := res[0].Object.ID, res[1].Object.ID
		s.ImportInventory(ctx, []InventoryRow{{AssetID: "srv-1", Name: "web-01", Vendor: "Examplesoft", Product: "EdgeGate", Version: "4.2",
			RowKey: "srv-1\x1fexamplesoft\x1fedgegate"}}, false)
		rows, _ := s.Inventory(ctx, 0, 10)
		row := rows[0].ID
		find := func(vuln int64) Exposure {
			t.Helper()
			all, err := s.Exposures(ctx, ExposureQuery{VulnID: vuln, Limit: 10})
			if err != nil || len(all) != 1 {
				t.Fatalf("exposures of %d: %+v %v", vuln, all, err)
			}
			return all[0]
		}
		both := []Found{{row, v1, "product_version", "version 4.2 is listed as affected"}, {row, v2, "product_version", "version 4.2 is listed as affected"}}
		if c, err := s.ReconcileExposures(ctx, []int64{row}, both); err != nil || c != (ExposureCounts{Opened: 2}) {
			t.Fatalf("first: %+v %v", c, err)
		}
		e1 := find(v1)
		if e1.State != ExposureOpen || e1.AssetID != "srv-1" || e1.Asset != "web-01" || e1.Vuln != "CVE-2026-0001" || e1.CVSSv3 == nil ||
			*e1.CVSSv3 != 9.8 || e1.TLP != intel.TLPAmber || e1.Version != "4.2" {
			t.Fatalf("exposure: %+v", e1)
		}
		if err := s.SetExposureState(ctx, e1.ID, ExposureAcknowledged, "", "user:ana", ExposureOpen); err != nil {
			t.Fatal(err)
		}
		if err := s.SetExposureState(ctx, e1.ID, ExposureAcknowledged, "", "user:ana", ExposureOpen); intel.ErrorCode(err) != intel.ECONFLICT {
			t.Errorf("acknowledged twice: %v", err)
		}
		if c, _ := s.ReconcileExposures(ctx, []int64{row}, both[:1]); c != (ExposureCounts{Seen: 1, Resolved: 1}) {
			t.Errorf("v2 gone: %+v", c)
		}
		if e := find(v1); e.State != ExposureAcknowledged {
			t.Errorf("an acknowledged exposure still matching: %+v", e)
		}
		if e := find(v2); e.State != ExposureResolved || e.StateReason == "" {
			t.Errorf("v2: %+v", e)
		}
		if c, _ := s.ReconcileExposures(ctx, []int64{row}, both); c != (ExposureCounts{Seen: 1, Reopened: 1}) {
			t.Errorf("v2 back: %+v", c)
		}
		s.SetExposureState(ctx, e1.ID, ExposureDismissed, "accepted risk", "user:ana", ExposureOpen, ExposureAcknowledged)
		if c, _ := s.ReconcileExposures(ctx, []int64{row}, nil); c != (ExposureCounts{Resolved: 1}) {
			t.Errorf("nothing matches: %+v", c)
		}
		if e := find(v1); e.State != ExposureDismissed || e.StateReason != "accepted risk" || e.StateBy != "user:ana" {
			t.Errorf("a dismissed exposure after matching: %+v", e)
		}
		if got, _ := s.Exposures(ctx, ExposureQuery{MaxTLP: intel.TLPGreen, Limit: 10}); len(got) != 0 {
			t.Errorf("a green cap sees amber exposures: %+v", got)
		}
		if _, err := s.Exposure(ctx, e1.ID, intel.TLPGreen); intel.ErrorCode(err) != intel.ENOTFOUND {
			t.Errorf("one amber exposure under a green cap: %v", err)
		}
		if got, _ := s.Exposures(ctx, ExposureQuery{States: []string{ExposureResolved}, Limit: 10}); len(got) != 1 || got[0].VulnID != v2 {
			t.Errorf("resolved: %+v", got)
		}
		// Reconciling other rows leaves this one's exposures alone.
		s.ImportInventory(ctx, []InventoryRow{rows[0], {AssetID: "srv-2", Product: "EdgeGate", Version: "1", RowKey: "srv-2\x1f\x1fedgegate"}}, false)
		rows, _ = s.Inventory(ctx, 0, 10)
		if c, _ := s.ReconcileExposures(ctx, []int64{rows[1].ID}, []Found{{rows[1].ID, v1, "name_only", "x"}}); c != (ExposureCounts{Opened: 1}) {
			t.Errorf("another row: %+v", c)
		}
		if e := find(v2); e.State != ExposureResolved {
			t.Errorf("reconciling another row changed this one's: %+v", e)
		}
		s.ImportInventory(ctx, nil, true)
		if got, _ := s.Exposures(ctx, ExposureQuery{Limit: 10}); len(got) != 0 {
			t.Errorf("the asset is gone but not its exposures: %+v", got)
		}
	})
}

// The vulnerabilities stored or changed after a stamp come in commit
// order, across collections, each page of them resumable from its last
// stamp without a gap; indicators are not among them; a vulnerability
// changed again comes again.
func TestChangedVulnerabilities(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		if _, ok, err := s.MatchMark(ctx); ok || err != nil {
			t.Fatalf("a new store's match mark: %v %v", ok, err)
		}
		p := intel.ProductRef{Vendor: "Examplesoft", Product: "EdgeGate", Versions: []string{"4.2"}}
		cves := []string{"CVE-2026-0001", "CVE-2026-0002", "CVE-2026-0003", "CVE-2026-0004", "CVE-2026-0005", "CVE-2026-0006", "CVE-2026-0007"}
		for i, cve := range cves {
			c.Add(time.Second)
			src, coll := prodVulns, "prod Vulnerabilities"
			if i%2 == 1 {
				src, coll = intel.Provenance{ChannelID: 7, Instance: "lab", Channel: "vulnerabilities"}, "lab Vulnerabilities"
			}
			MustApply(t, s, MustLease(t, s, src.ChannelID), Page{Source: src, Collection: coll, Cursor: cve,
				Objects: []intel.Object{vuln(cve, 5, 7, 7, 0.1, "high", "", p), ipv4(i, epoch)}})
		}
		walk := func(after int64, limit int) ([]int64, int64) {
			t.Helper()
			var all []int64
			for {
				ids, last, err := s.ChangedVulnerabilities(ctx, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(ids) == 0 {
					if last != after {
						t.Fatalf("no ids, yet the stamp moved from %d to %d", after, last)
					}
					return all, after
				}
				if len(ids) > limit {
					t.Fatalf("%d ids for a limit of %d", len(ids), limit)
				}
				all, after = append(all, ids...), last
			}
		}
		res, _ := s.Lookup(ctx, cves)
		var want []int64
		for _, r := range res {
			want = append(want, r.Object.ID)
		}
		for _, limit := range []int{1, 2, 3, 100} {
			got, _ := walk(0, limit)
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: %v, want %v in commit order", limit, got, want)
			}
		}
		_, mark := walk(0, 100)
		if m, err := s.AddedMark(ctx); err != nil || m < mark {
			t.Errorf("added mark %d below the last stamp %d: %v", m, mark, err)
		}
		if err := s.SetMatchMark(ctx, mark); err != nil {
			t.Fatal(err)
		}
		if m, ok, err := s.MatchMark(ctx); !ok || m != mark || err != nil {
			t.Errorf("match mark: %d %v %v", m, ok, err)
		}
		// The third changes: it alone comes after the mark.
		c.Add(time.Second)
		MustApply(t, s, MustLease(t, s, prodVulns.ChannelID), Page{Source: prodVulns, Collection: "prod Vulnerabilities", Cursor: "again",
			Objects: []intel.Object{vuln(cves[2], 5, 9.1, 7, 0.1, "critical", "", p)}})
		if got, _ := walk(mark, 10); !slices.Equal(got, want[2:3]) {
			t.Errorf("after the mark: %v, want %v", got, want[2:3])
		}
	})
}

// The match lease: one holder at a time, renewable by its holder, free
// once released or lapsed.
func TestMatchLease(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		try := func(holder string) bool {
			t.Helper()
			ok, err := s.AcquireMatchLease(ctx, holder, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !try("a") || try("b") || !try("a") {
			t.Fatal("a takes it, b is refused, a renews")
		}
		s.ReleaseMatchLease(ctx, "b") // not b's: nothing
		if try("b") {
			t.Fatal("b took a's lease after releasing what it did not hold")
		}
		s.ReleaseMatchLease(ctx, "a")
		if !try("b") {
			t.Fatal("released, yet refused")
		}
		c.Add(2 * time.Minute)
		if !try("a") {
			t.Fatal("lapsed, yet refused")
		}
	})
}
