package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flintcti/flint/internal/intel"
)

func TestApplyPage(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		l := MustLease(t, s, 1)
		if l.Cursor != "" || l.Token < 1 {
			t.Fatalf("first lease = %+v", l)
		}
		got := MustApply(t, s, l, ipv4Page(prodIndicators, 0, 1200, epoch, "c1"))
		if want := (Counts{New: 1200}); got != want {
			t.Errorf("first write: %+v, want %+v", got, want)
		}
		if cur, _ := s.Cursor(ctx, 1); cur != "c1" {
			t.Errorf("cursor = %q, want c1", cur)
		}

		c.Add(time.Hour)
		got = MustApply(t, s, l, ipv4Page(prodIndicators, 0, 1200, epoch, "c2"))
		if want := (Counts{Unchanged: 1200}); got != want {
			t.Errorf("re-read of the same page: %+v, want %+v", got, want)
		}
		if n := count(t, s, Query{ModifiedAfter: epoch.Add(time.Minute)}); n != 0 {
			t.Errorf("an unchanged re-read modified %d objects", n)
		}

		p := ipv4Page(prodIndicators, 1190, 20, epoch.Add(time.Hour), "c3")
		got = MustApply(t, s, l, p)
		if want := (Counts{New: 10, Updated: 10}); got != want {
			t.Errorf("overlapping page: %+v, want %+v", got, want)
		}
		if n := count(t, s, Query{}); n != 1210 {
			t.Errorf("%d objects stored, want 1210 (one per value)", n)
		}
		if n := count(t, s, Query{Collection: "PROD indicators"}); n != 1210 {
			t.Errorf("%d objects in the collection (case-insensitive name), want 1210", n)
		}
		o, err := s.GetByRef(ctx, intel.Ref{Type: intel.IPv4, Value: p.Objects[0].Value})
		if err != nil {
			t.Fatal(err)
		}
		want := []intel.Provenance{{ChannelID: 1, Instance: "prod", Channel: "indicators", OriginalID: "fp-1190",
			FirstReported: epoch, LastReported: epoch.Add(time.Hour), TLP: intel.TLPAmber, Confidence: 80,
			ValidUntil: epoch.Add(time.Hour + 90*24*time.Hour)}}
		if d := cmp.Diff(want, o.Sources); d != "" {
			t.Errorf("provenance (-want +got):\n%s", d)
		}
		if !o.Created.Equal(epoch) || !o.Modified.Equal(epoch.Add(time.Hour)) {
			t.Errorf("created %s modified %s", o.Created, o.Modified)
		}
		if d := cmp.Diff([]string{"prod Indicators"}, o.Collections); d != "" {
			t.Errorf("collections (-want +got):\n%s", d)
		}
	})
}

func TestApplyPageDuplicatesWithinPage(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		l := MustLease(t, s, 2)
		a := intel.Object{Type: intel.Domain, Value: "evil.example", TLP: intel.TLPGreen, Confidence: 50, Tags: []string{"a"}, Reported: epoch}
		b := a
		b.Tags, b.TLP = []string{"b"}, intel.TLPRed
		got := MustApply(t, s, l, Page{Source: labReports, Collection: "lab Reports", Objects: []intel.Object{a, b}, Cursor: "x"})
		if got != (Counts{New: 1}) {
			t.Errorf("counts = %+v, want one new object", got)
		}
		o, err := s.GetByRef(context.Background(), a.Ref())
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(o.Tags, []string{"a", "b"}) || o.TLP != intel.TLPRed {
			t.Errorf("two views in one page merged to tags %v tlp %s", o.Tags, o.TLP)
		}
	})
}

func TestLeaseFencing(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		a := MustLease(t, s, 7)
		if _, err := s.AcquireLease(ctx, 7, "other", time.Minute); intel.ErrorCode(err) != intel.ECONFLICT {
			t.Fatalf("second acquire while held: %v, want ECONFLICT", err)
		} else if want := "being polled by test"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
		MustApply(t, s, a, ipv4Page(intel.Provenance{ChannelID: 7, Instance: "p", Channel: "indicators"}, 0, 5, epoch, "a1"))

		c.Add(2 * time.Minute) // a's lease lapses; b takes over
		b, err := s.AcquireLease(ctx, 7, "other", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if b.Token <= a.Token || b.Cursor != "a1" {
			t.Errorf("takeover lease = %+v (old token %d)", b, a.Token)
		}
		_, err = s.ApplyPage(ctx, a, ipv4Page(intel.Provenance{ChannelID: 7, Instance: "p", Channel: "indicators"}, 100, 5, epoch, "stale"))
		if intel.ErrorCode(err) != intel.ECONFLICT {
			t.Fatalf("stale holder's page: %v, want ECONFLICT", err)
		}
		if n := count(t, s, Query{}); n != 5 {
			t.Errorf("stale page wrote objects: %d stored, want 5", n)
		}
		if cur, _ := s.Cursor(ctx, 7); cur != "a1" {
			t.Errorf("stale page moved the cursor to %q", cur)
		}
		if _, err := s.RenewLease(ctx, a, time.Minute); intel.ErrorCode(err) != intel.ECONFLICT {
			t.Errorf("renewing a stale lease: %v", err)
		}
		if err := s.ReleaseLease(ctx, a); err != nil { // a no-op: not a's any more
			t.Fatal(err)
		}
		if _, err := s.AcquireLease(ctx, 7, "third", time.Minute); intel.ErrorCode(err) != intel.ECONFLICT {
			t.Errorf("a stale release freed b's lease: %v", err)
		}
		if err := s.ReleaseLease(ctx, b); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcquireLease(ctx, 7, "third", time.Minute); err != nil {
			t.Errorf("acquire after release: %v", err)
		}
		// A restarted holder takes its own lease again; its old token is fenced.
		d1 := MustLease(t, s, 11)
		d2, err := s.AcquireLease(ctx, 11, "test", time.Minute)
		if err != nil || d2.Token <= d1.Token {
			t.Fatalf("re-acquire by the same holder: %+v, %v", d2, err)
		}
		if _, err := s.ApplyPage(ctx, d1, ipv4Page(intel.Provenance{ChannelID: 11, Instance: "p", Channel: "c"}, 0, 1, epoch, "x")); intel.ErrorCode(err) != intel.ECONFLICT {
			t.Errorf("the old token after a re-acquisition: %v", err)
		}
		if _, err := s.ApplyPage(ctx, Lease{ChannelID: 8, Token: 1}, ipv4Page(prodIndicators, 0, 1, epoch, "")); intel.ErrorCode(err) != intel.EINVALID {
			t.Errorf("page of channel 1 under channel 8's lease: %v", err)
		}
	})
}

func TestLeaseRace(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.AcquireLease(context.Background(), 9, fmt.Sprint("racer-", i), time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch intel.ErrorCode(err) {
				case "":
					won++
				case intel.ECONFLICT:
					lost++
				default:
					t.Errorf("acquire: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || lost != 7 {
			t.Errorf("%d acquired and %d were refused, want 1 and 7", won, lost)
		}
	})
}

// A page that fails part-way leaves nothing behind: no objects, no
// membership, no provenance, and the cursor where it was.
func TestApplyPageAtomic(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		l := MustLease(t, s, 1)
		MustApply(t, s, l, ipv4Page(prodIndicators, 0, 3, epoch, "good"))
		bad := ipv4Page(prodIndicators, 10, 500, epoch, "bad")
		bad.Relationships = []intel.Relationship{{
			Source: bad.Objects[0].Ref(), Type: intel.RelIndicates, Target: intel.Ref{Type: intel.Malware, Value: "nowhere"}}}
		_, err := s.ApplyPage(ctx, l, bad)
		if intel.ErrorCode(err) != intel.EINVALID || !strings.Contains(err.Error(), "malware:nowhere") {
			t.Fatalf("dangling relationship: %v", err)
		}
		if n := count(t, s, Query{}); n != 3 {
			t.Errorf("%d objects after a failed page, want 3", n)
		}
		if cur, _ := s.Cursor(ctx, 1); cur != "good" {
			t.Errorf("cursor = %q after a failed page, want good", cur)
		}
		invalid := ipv4Page(prodIndicators, 20, 2, epoch, "bad")
		invalid.Objects[1].Confidence = 101
		if _, err := s.ApplyPage(ctx, l, invalid); intel.ErrorCode(err) != intel.EINVALID || !strings.Contains(err.Error(), "confidence 101") {
			t.Errorf("invalid object: %v", err)
		}
		if _, err := s.ApplyPage(ctx, l, Page{Source: prodIndicators, Collection: " ", Cursor: "x"}); intel.ErrorCode(err) != intel.EINVALID {
			t.Errorf("blank collection: %v", err)
		}
		if n := count(t, s, Query{}); n != 3 {
			t.Errorf("%d objects after refused pages, want 3", n)
		}
	})
}

func TestMergeAcrossSources(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		day := 24 * time.Hour
		dom := intel.Object{Type: intel.Domain, Value: "c2.evil.example", TLP: intel.TLPGreen, Confidence: 60,
			Tags: []string{"source:osint"}, Reported: epoch, ValidUntil: epoch.Add(10 * day), OriginalID: "ind-1"}
		MustApply(t, s, MustLease(t, s, 1), Page{Source: prodIndicators, Collection: "prod Indicators", Objects: []intel.Object{dom}, Cursor: "1"})

		fromReport := dom
		fromReport.TLP, fromReport.Confidence, fromReport.Tags = intel.TLPAmberStrict, 90, []string{"report:apt"}
		fromReport.ValidUntil, fromReport.OriginalID, fromReport.Reported = epoch.Add(5*day), "evt-9", epoch.Add(day)
		rep := intel.Object{Type: intel.Report, Value: "rep-1", Name: "Emotet returns", Description: "Loader campaign",
			TLP: intel.TLPAmber, Confidence: 90, Reported: epoch.Add(day),
			Details: intel.Details{Report: &intel.ReportDetail{Body: "<p>x</p>", Featured: true}}}
		got := MustApply(t, s, MustLease(t, s, 2), Page{Source: labReports, Collection: "lab Reports",
			Objects:       []intel.Object{rep, fromReport},
			Relationships: []intel.Relationship{{Source: rep.Ref(), Type: intel.RelRelatedTo, Target: dom.Ref()}}, Cursor: "r1"})
		if got != (Counts{New: 1, Updated: 1, Relationships: 1}) {
			t.Errorf("counts = %+v", got)
		}
		o, err := s.GetByRef(ctx, dom.Ref())
		if err != nil {
			t.Fatal(err)
		}
		if o.TLP != intel.TLPAmberStrict || o.Confidence != 90 || !o.ValidUntil.Equal(epoch.Add(10*day)) {
			t.Errorf("effective terms: tlp %s confidence %d valid_until %s", o.TLP, o.Confidence, o.ValidUntil)
		}
		if !cmp.Equal(o.Tags, []string{"report:apt", "source:osint"}) || !cmp.Equal(o.Collections, []string{"lab Reports", "prod Indicators"}) {
			t.Errorf("tags %v collections %v", o.Tags, o.Collections)
		}
		if len(o.Sources) != 2 || o.Sources[0].TLP != intel.TLPGreen || o.Sources[1].TLP != intel.TLPAmberStrict || o.Sources[1].OriginalID != "evt-9" {
			t.Errorf("sources = %+v", o.Sources)
		}
		if n := count(t, s, Query{ChannelID: 2}); n != 2 {
			t.Errorf("objects reported by channel 2: %d, want 2", n)
		}
		if n := count(t, s, Query{Instance: "prod"}); n != 1 {
			t.Errorf("objects reported by instance prod: %d, want 1", n)
		}

		// Expiry, then revival by a new report; deprecated objects stay searchable.
		c.Add(11 * day)
		if o, _ = s.GetByRef(ctx, dom.Ref()); !o.Deprecated {
			t.Error("object past valid_until is not marked deprecated")
		}
		if n := count(t, s, Query{Deprecated: ptr(true)}); n != 1 {
			t.Errorf("deprecated objects: %d, want 1", n)
		}
		again := dom
		again.Reported, again.ValidUntil = epoch.Add(11*day), epoch.Add(21*day)
		l1 := MustLease(t, s, 1)
		if got := MustApply(t, s, l1, Page{Source: prodIndicators, Collection: "prod Indicators", Objects: []intel.Object{again}, Cursor: "2"}); got.Updated != 1 {
			t.Errorf("revival counts = %+v", got)
		}
		if o, _ = s.GetByRef(ctx, dom.Ref()); o.Deprecated || !o.ValidUntil.Equal(epoch.Add(21*day)) {
			t.Errorf("after a new report: deprecated %v valid_until %s", o.Deprecated, o.ValidUntil)
		}
		if n := count(t, s, Query{Deprecated: ptr(false), Types: []intel.Type{intel.Domain}}); n != 1 {
			t.Errorf("live domains: %d, want 1", n)
		}

		// Least-restrictive policy, on the same data.
		s.policy = intel.LeastRestrictiveTLP
		again.Reported = epoch.Add(12 * day)
		MustApply(t, s, l1, Page{Source: prodIndicators, Collection: "prod Indicators", Objects: []intel.Object{again}, Cursor: "3"})
		if o, _ = s.GetByRef(ctx, dom.Ref()); o.TLP != intel.TLPGreen {
			t.Errorf("least-restrictive policy: tlp %s, want green", o.TLP)
		}
	})
}

// The digest fast path must not hide what a re-read changes: a new
// collection, or a view older than what is stored.
func TestApplyPageRereads(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		l := MustLease(t, s, 1)
		MustApply(t, s, l, ipv4Page(prodIndicators, 0, 10, epoch.Add(time.Hour), "1"))

		c.Add(time.Hour)
		moved := ipv4Page(prodIndicators, 0, 10, epoch.Add(time.Hour), "2")
		moved.Collection = "Renamed Collection"
		if got := MustApply(t, s, l, moved); got != (Counts{Unchanged: 10}) {
			t.Errorf("re-read into another collection: %+v", got)
		}
		if n := count(t, s, Query{Collection: "Renamed Collection"}); n != 10 {
			t.Errorf("%d objects joined the channel's new collection, want 10", n)
		}

		// A view older than the latest that adds nothing (reported between
		// the first and the last report, first seen no earlier) changes
		// nothing, and is remembered as the channel's last view.
		view := func(reported time.Duration, cursor string) Page {
			p := ipv4Page(prodIndicators, 0, 10, epoch.Add(reported), cursor)
			for i := range p.Objects {
				p.Objects[i].FirstSeen = epoch
			}
			return p
		}
		if got := MustApply(t, s, l, view(3*time.Hour, "3")); got != (Counts{Updated: 10}) {
			t.Errorf("newer view: %+v", got)
		}
		c.Add(time.Hour)
		for i := 0; i < 2; i++ {
			if got := MustApply(t, s, l, view(2*time.Hour, "4")); got != (Counts{Unchanged: 10}) {
				t.Errorf("older re-read %d: %+v", i, got)
			}
		}
		if n := count(t, s, Query{ModifiedAfter: c.Now().Add(-time.Minute)}); n != 0 {
			t.Errorf("re-reads modified %d objects", n)
		}
		// An older view with an earlier first sighting does change the object.
		earliest := ipv4Page(prodIndicators, 0, 10, epoch.Add(-time.Hour), "5")
		if got := MustApply(t, s, l, earliest); got != (Counts{Updated: 10}) {
			t.Errorf("older view with an earlier first sighting: %+v", got)
		}
		o, err := s.GetByRef(ctx, earliest.Objects[0].Ref())
		if err != nil {
			t.Fatal(err)
		}
		if !o.Sources[0].FirstReported.Equal(epoch.Add(-time.Hour)) || !o.Sources[0].LastReported.Equal(epoch.Add(3*time.Hour)) ||
			!o.FirstSeen.Equal(epoch.Add(-2*time.Hour)) || !o.LastSeen.Equal(epoch.Add(3*time.Hour)) {
			t.Errorf("after older re-reads: first/last seen %s / %s, provenance %+v", o.FirstSeen, o.LastSeen, o.Sources[0])
		}

		// Another channel changes the object; channel 1 re-reading its own
		// unchanged view keeps the other's contribution.
		other := ipv4(0, epoch.Add(5*time.Hour))
		other.Tags = []string{"from:lab"}
		MustApply(t, s, MustLease(t, s, 2), Page{Source: labReports, Collection: "lab", Objects: []intel.Object{other}, Cursor: "x"})
		if got := MustApply(t, s, l, ipv4Page(prodIndicators, 0, 1, epoch.Add(-time.Hour), "6")); got != (Counts{Unchanged: 1}) {
			t.Errorf("re-read after another source's update: %+v", got)
		}
		o, _ = s.GetByRef(ctx, other.Ref())
		if !slices.Contains(o.Tags, "from:lab") || len(o.Sources) != 2 {
			t.Errorf("tags %v sources %d after re-read", o.Tags, len(o.Sources))
		}
	})
}

// Two channels writing the same objects at the same time both leave their
// mark: neither merge is lost.
func TestConcurrentWriters(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		const rounds, n = 8, 50
		var wg sync.WaitGroup
		for ch := int64(1); ch <= 2; ch++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := s.AcquireLease(ctx, ch, "writer", time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				src := intel.Provenance{ChannelID: ch, Instance: "i", Channel: fmt.Sprint(ch)}
				for r := 0; r < rounds; r++ {
					p := ipv4Page(src, 0, n, epoch.Add(time.Duration(r)*time.Minute), fmt.Sprint(r))
					for i := range p.Objects {
						p.Objects[i].Tags = []string{fmt.Sprintf("ch%d-r%d", ch, r)}
					}
					if _, err := s.ApplyPage(ctx, l, p); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		res, err := s.Search(ctx, Query{Limit: n})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			if len(o.Tags) != 2*rounds || len(o.Sources) != 2 {
				t.Fatalf("%s: %d tags %v and %d sources, want %d and 2", o.Value, len(o.Tags), o.Tags, len(o.Sources), 2*rounds)
			}
		}
	})
}

// A page with no objects still moves the cursor (an empty poll window).
func TestApplyEmptyPage(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		l := MustLease(t, s, 1)
		if got := MustApply(t, s, l, Page{Source: prodIndicators, Collection: "c", Cursor: "empty-1"}); got != (Counts{}) {
			t.Errorf("counts %+v", got)
		}
		if cur, _ := s.Cursor(context.Background(), 1); cur != "empty-1" {
			t.Errorf("cursor = %q", cur)
		}
	})
}

func TestPageTxSpansPages(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		l := MustLease(t, s, 1)
		MustApply(t, s, l, ipv4Page(prodIndicators, 0, 10, epoch, "c0"))

		// Pages applied and rolled back leave nothing, and the cursor where it was.
		w, err := s.BeginPages(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		for i, cur := range []string{"r1", "r2"} {
			if _, err := w.Apply(ctx, ipv4Page(prodIndicators, 100+i*600, 600, epoch, cur)); err != nil {
				t.Fatal(err)
			}
		}
		if w.Objects() != 1200 {
			t.Errorf("transaction holds %d objects of its two pages; want 1200", w.Objects())
		}
		w.Rollback()
		if n := count(t, s, Query{}); n != 10 {
			t.Errorf("%d objects after a rollback, want 10", n)
		}
		if cur, _ := s.Cursor(ctx, 1); cur != "c0" {
			t.Errorf("cursor %q after a rollback, want c0", cur)
		}

		// Committed, every page is there with the last page's cursor; a page
		// that re-reads objects of an earlier page of the same transaction
		// sees them (counts are against what the transaction wrote).
		w, err = s.BeginPages(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		var total Counts
		for i, cur := range []string{"c1", "c2", "c3"} {
			got, err := w.Apply(ctx, ipv4Page(prodIndicators, 5+i*500, 600, epoch, cur))
			if err != nil {
				t.Fatal(err)
			}
			total.Add(got)
		}
		if err := w.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		// 5..1604: 1600 objects, 5 of them stored before, and each of the
		// second and third pages re-reads 100 of the page before.
		if want := (Counts{New: 1595, Unchanged: 205}); total != want {
			t.Errorf("counts %+v, want %+v", total, want)
		}
		if n := count(t, s, Query{}); n != 1605 {
			t.Errorf("%d objects, want 1605", n)
		}
		if cur, _ := s.Cursor(ctx, 1); cur != "c3" {
			t.Errorf("cursor %q, want c3", cur)
		}

		// A transaction under a lease since taken over refuses its page.
		c.Add(2 * time.Minute)
		if _, err := s.AcquireLease(ctx, 1, "other", time.Minute); err != nil {
			t.Fatal(err)
		}
		w, err = s.BeginPages(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Rollback()
		if _, err := w.Apply(ctx, ipv4Page(prodIndicators, 5000, 10, epoch, "stale")); intel.ErrorCode(err) != intel.ECONFLICT {
			t.Errorf("page under a stale lease: %v, want ECONFLICT", err)
		}
	})
}

func TestTextIndexFollowsChanges(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		l := MustLease(t, s, 3)
		report := func(name, desc string, at time.Time, cursor string) Page {
			return Page{Source: prodVulns, Collection: "Reports", Cursor: cursor, Objects: []intel.Object{
				{Type: intel.Report, Value: "r1", Name: name, Description: desc, TLP: intel.TLPAmber, Confidence: 80, Reported: at},
				{Type: intel.Report, Value: "r2", Name: "Unrelated digest", TLP: intel.TLPAmber, Confidence: 80, Reported: at},
			}}
		}
		MustApply(t, s, l, report("Alpha campaign", "Loader spreads through invoices", epoch, "1"))
		c.Add(time.Hour)
		MustApply(t, s, l, report("Beta wave", "Stealer sold on forums", epoch.Add(time.Hour), "2"))
		for _, tc := range []struct {
			text string
			want int64
		}{{"alpha", 0}, {"invoices", 0}, {"beta", 1}, {"forums", 1}, {"digest", 1}} {
			if n := count(t, s, Query{Text: tc.text}); n != tc.want {
				t.Errorf("text %q finds %d, want %d", tc.text, n, tc.want)
			}
		}
		MustApply(t, s, l, report("Beta wave", "Now sold by subscription", epoch.Add(2*time.Hour), "3"))
		if n := count(t, s, Query{Text: "forums"}); n != 0 {
			t.Errorf("a description replaced is still found: %d", n)
		}
		if n := count(t, s, Query{Text: "beta subscription"}); n != 1 {
			t.Errorf("the new description with the name: %d, want 1", n)
		}
	})
}

// A page whose first objects are all new is inserted without probing the
// rest (a bulk load); objects further on that are stored already must still
// be merged, not lost or duplicated, and named objects must be searchable.
func TestGuessedNewPage(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		l := MustLease(t, s, 1)
		// Stored first: objects 500..509, with another tag.
		old := ipv4Page(prodIndicators, 500, 10, epoch, "c0")
		for i := range old.Objects {
			old.Objects[i].Tags = []string{"actor:old"}
		}
		MustApply(t, s, l, old)

		c.Add(time.Hour)
		p := ipv4Page(prodIndicators, 0, 1000, epoch.Add(time.Hour), "c1") // 0..999: new but for 500..509
		p.Objects[0], p.Objects[505] = p.Objects[505], p.Objects[0]        // a stored object first, as a re-read overlap puts it
		p.Objects = append(p.Objects, intel.Object{Type: intel.Report, Value: "guessed-report", Name: "Quarterly stealer roundup",
			TLP: intel.TLPAmber, Confidence: 80, Reported: epoch})
		p.Objects = append(p.Objects, p.Objects[3]) // a second view of a new object
		p.Objects[len(p.Objects)-1].Tags = []string{"actor:second-view"}
		got := MustApply(t, s, l, p)
		if want := (Counts{New: 991, Updated: 10}); got != want {
			t.Errorf("counts %+v, want %+v", got, want)
		}
		if n := count(t, s, Query{}); n != 1001 {
			t.Errorf("%d objects, want 1001", n)
		}
		if n := count(t, s, Query{Collection: "prod Indicators"}); n != 1001 {
			t.Errorf("%d objects in the collection, want 1001", n)
		}
		o, err := s.GetByRef(ctx, p.Objects[0].Ref())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(o.Tags, []string{"actor:old", "malware:emotet"}) || len(o.Sources) != 1 || !o.Sources[0].LastReported.Equal(epoch.Add(time.Hour)) {
			t.Errorf("a stored object met late in a guessed page: tags %v sources %+v", o.Tags, o.Sources)
		}
		o, err = s.GetByRef(ctx, p.Objects[3].Ref())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(o.Tags, []string{"actor:second-view", "malware:emotet"}) {
			t.Errorf("two views of a new object in a guessed page: tags %v", o.Tags)
		}
		if n := count(t, s, Query{Text: "stealer roundup"}); n != 1 {
			t.Errorf("a report inserted by a guessed page found %d times by its name, want 1", n)
		}
		// Re-read: every object recognised, nothing new.
		got = MustApply(t, s, l, p)
		if got.New != 0 || got.Unchanged+got.Updated != 1001 {
			t.Errorf("re-read of the guessed page: %+v", got)
		}
	})
}
