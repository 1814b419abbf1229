package flashpoint

import (
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

var simNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

type fixture struct {
	sim   *sim.Server
	conn  *Connector
	store *store.Store
	clock time.Time
}

func newFixture(t *testing.T, cfg sim.Config) *fixture {
	t.Helper()
	cfg.Now = simNow
	s := sim.New(cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c, err := ignite.New(ignite.Options{BaseURL: srv.URL, Token: sim.DefaultToken, Version: "test", RateLimit: -1,
		RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sim: s}
	f.conn = &Connector{Client: c, Now: s.Clock, PageSize: 200}
	st, err := store.Open(context.Background(), store.Options{DSN: filepath.Join(t.TempDir(), "flint.db"), Now: s.Clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store = st
	return f
}

func settings(k feed.Kind) feed.Settings {
	s := feed.DefaultSettings("test", k, simNow)
	s.Enabled = true
	return s
}

// drain runs a poll to its end (or for at most pages pages when pages > 0),
// writing each batch with its cursor, and returns what it mapped.
func (f *fixture) drain(t *testing.T, channel int64, k feed.Kind, s feed.Settings, pages int) ([]intel.Object, feed.Counts, string) {
	t.Helper()
	ctx := context.Background()
	cur, err := f.store.Cursor(ctx, channel)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.conn.Poll(k, s, cur)
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.store.AcquireLease(ctx, channel, "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer f.store.ReleaseLease(ctx, l)
	var objs []intel.Object
	var stats feed.Counts
	last := cur
	for n := 0; p.More() && (pages == 0 || n < pages); n++ {
		b, err := p.Next(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", n, err)
		}
		last = b.Cursor
		objs = append(objs, b.Objects...)
		stats.Add(b.Counts)
		if _, err := f.store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: channel, Instance: "test", Channel: string(k)},
			Collection: s.Collection, Objects: b.Objects, Relationships: b.Relationships, Cursor: b.Cursor}); err != nil {
			t.Fatalf("apply page %d: %v", n, err)
		}
	}
	return objs, stats, last
}

func originalIDs(objs []intel.Object, t intel.Type) []string {
	var out []string
	for _, o := range objs {
		if t == "" || o.Type == t {
			out = append(out, o.OriginalID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func truthIDs(t *testing.T, s *sim.Server, dataset string, q url.Values) []string {
	t.Helper()
	tr, err := s.Truth(dataset, q)
	if err != nil {
		t.Fatal(err)
	}
	ids := slices.Clone(tr.IDs)
	slices.Sort(ids)
	return ids
}

func diffIDs(t *testing.T, what string, want, got []string) {
	t.Helper()
	var missing, extra []string
	for _, id := range want {
		if _, ok := slices.BinarySearch(got, id); !ok {
			missing = append(missing, id)
		}
	}
	for _, id := range got {
		if _, ok := slices.BinarySearch(want, id); !ok {
			extra = append(extra, id)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s: %d missing (%v…), %d extra (%v…) of %d", what, len(missing), head(missing), len(extra), head(extra), len(want))
	}
}

// indicatorIDs returns the Flashpoint ids of the indicators among objs
// (not the attack patterns they come with), sorted.
func indicatorIDs(objs []intel.Object) []string {
	var out []string
	for _, o := range objs {
		if o.Type.IsIndicator() {
			out = append(out, o.OriginalID)
		}
	}
	slices.Sort(out)
	return out
}

func head(s []string) []string { return s[:min(3, len(s))] }

func TestIndicators(t *testing.T) {
	f := newFixture(t, sim.Config{Seed: 3, Indicators: 3000, IndicatorWindow: 20 * 24 * time.Hour})
	s := settings(feed.Indicators)
	s.Tags, s.TLP, s.Confidence, s.DeprecateAfterDays = []string{"feed:fp"}, intel.TLPGreen, 80, 30
	// Three pages, then a new poll resumes from the committed cursor.
	first, _, _ := f.drain(t, 1, feed.Indicators, s, 3)
	rest, stats, cursor := f.drain(t, 1, feed.Indicators, s, 0)
	all := append(first, rest...)
	want := truthIDs(t, f.sim, sim.DatasetIndicators, url.Values{"modified_after": {s.StartAt.Format(time.RFC3339)}})
	diffIDs(t, "indicators", want, indicatorIDs(all))
	if stats.Invalid != 0 || stats.Filtered != 0 {
		t.Errorf("stats %+v", stats)
	}
	n, _ := f.store.Count(context.Background(), store.Query{Collection: s.Collection, Types: intel.IndicatorTypes()})
	if int(n) != len(want) {
		t.Errorf("%d objects stored in %q, want %d (one per indicator)", n, s.Collection, len(want))
	}
	for _, o := range all {
		if o.Type == intel.AttackPattern {
			continue
		}
		if o.TLP != intel.TLPGreen || o.Confidence != 80 || !slices.Contains(o.Tags, "feed:fp") ||
			!o.ValidUntil.Equal(o.Reported.Add(30*24*time.Hour)) || o.FirstSeen.IsZero() || o.LastSeen.IsZero() {
			t.Fatalf("mapped %+v", o)
		}
		if o.Type == intel.File && o.Hashes[intel.SHA256] != o.Value {
			t.Fatalf("file hashes: %+v", o.Hashes)
		}
		if o.Type == intel.ExtractedConfig && len(o.Config) == 0 {
			t.Fatalf("extracted config without its document: %+v", o)
		}
	}
	if !slices.ContainsFunc(all, func(o intel.Object) bool {
		return slices.ContainsFunc(o.Tags, func(t string) bool { return strings.HasPrefix(t, "malware:") })
	}) {
		t.Error("no sighting tags were kept")
	}
	if !slices.ContainsFunc(all, func(o intel.Object) bool { return o.Score == intel.ScoreMalicious }) {
		t.Error("no Flashpoint score was kept")
	}

	// After a day, exactly the new and changed indicators come back.
	c, err := ParseCursor(cursor, s.StartAt)
	if err != nil {
		t.Fatal(err)
	}
	f.sim.Advance(24 * time.Hour)
	q := url.Values{"modified_after": {c.Since.Format(time.RFC3339Nano)}, "sort": {"modified_at:asc"}}
	tr, err := f.sim.Truth(sim.DatasetIndicators, q)
	if err != nil {
		t.Fatal(err)
	}
	wantNew := slices.Clone(tr.IDs[min(c.Skip, len(tr.IDs)):])
	slices.Sort(wantNew)
	next, _, _ := f.drain(t, 1, feed.Indicators, s, 0)
	if len(wantNew) == 0 {
		t.Fatal("the simulator produced nothing new in a day")
	}
	diffIDs(t, "indicators after a day", wantNew, indicatorIDs(next))
}

func TestIndicatorFilters(t *testing.T) {
	f := newFixture(t, sim.Config{Seed: 4, Indicators: 1500})
	s := settings(feed.Indicators)
	s.Filters = feed.Filters{IndicatorTypes: []string{"ipv4", "domain"}, MinScore: intel.ScoreSuspicious}
	objs, _, _ := f.drain(t, 1, feed.Indicators, s, 0)
	want := truthIDs(t, f.sim, sim.DatasetIndicators, url.Values{"modified_after": {s.StartAt.Format(time.RFC3339)},
		"ioc_types": {"ipv4,domain"}, "min_score": {"suspicious"}})
	diffIDs(t, "filtered indicators", want, indicatorIDs(objs))
	for _, o := range objs {
		if o.Type == intel.AttackPattern {
			continue
		}
		if (o.Type != intel.IPv4 && o.Type != intel.Domain) || o.Score == intel.ScoreInformational {
			t.Fatalf("filter let through %s %s score %s", o.Type, o.Value, o.Score)
		}
	}
}

func TestVulnerabilities(t *testing.T) {
	f := newFixture(t, sim.Config{Seed: 5, Vulnerabilities: 400, VulnWindow: 20 * 24 * time.Hour})
	s := settings(feed.Vulnerabilities)
	objs, stats, _ := f.drain(t, 3, feed.Vulnerabilities, s, 0)
	want := truthIDs(t, f.sim, sim.DatasetVulnerabilities, url.Values{"updated_after": {s.StartAt.Format(time.RFC3339)}})
	diffIDs(t, "vulnerabilities", want, originalIDs(objs, intel.Vulnerability))
	if stats.Invalid != 0 {
		t.Errorf("stats %+v", stats)
	}
	var cves, titles, withProducts, withFixed int
	for _, o := range objs {
		if o.Type != intel.Vulnerability {
			continue
		}
		if strings.HasPrefix(o.Value, "CVE-") {
			cves++
			if !slices.Contains(o.Vulnerability.CVEIDs, o.Value) {
				t.Fatalf("CVE-valued %s without it among its CVE IDs %v", o.Value, o.Vulnerability.CVEIDs)
			}
		} else {
			titles++
			if o.Value != TitleValue(o.Name, o.Vulnerability.FlashpointID) {
				t.Fatalf("title-valued vulnerability %q named %q", o.Value, o.Name)
			}
		}
		if o.Vulnerability.FlashpointID == 0 || strconv.FormatInt(o.Vulnerability.FlashpointID, 10) != o.OriginalID {
			t.Fatalf("lost the Flashpoint id: %+v", o.Vulnerability)
		}
		if len(o.Vulnerability.Products) > 0 {
			withProducts++
		}
		// Affected versions and their CPEs; versions listed as not affected apart.
		for _, p := range o.Vulnerability.Products {
			if len(p.Fixed) > 0 {
				withFixed++
			}
			for _, fx := range p.Fixed {
				if slices.Contains(p.Versions, fx) {
					t.Fatalf("%s: version %s both affected and fixed", o.Value, fx)
				}
			}
			for _, c := range p.CPEs {
				parts := strings.Split(c, ":")
				if len(parts) < 6 || !slices.Contains(p.Versions, parts[5]) {
					t.Fatalf("%s: CPE %s is not of an affected version %v", o.Value, c, p.Versions)
				}
			}
			if p.AllPriorTo != "" && !slices.Contains(p.Versions, p.AllPriorTo) {
				t.Fatalf("%s: all prior to %s, which is not listed affected", o.Value, p.AllPriorTo)
			}
		}
	}
	if withFixed == 0 {
		t.Error("no product lists a version as not affected")
	}
	if cves == 0 || titles == 0 || withProducts == 0 {
		t.Errorf("%d CVE-valued, %d title-valued, %d with products", cves, titles, withProducts)
	}

	// Products are related software, both ways.
	ctx := context.Background()
	res, err := f.store.Search(ctx, store.Query{Types: []intel.Type{intel.Software}, Limit: 1})
	if err != nil || len(res.Objects) == 0 {
		t.Fatalf("no software stored: %v", err)
	}
	rel, err := f.store.Related(ctx, res.Objects[0].ID, 0)
	if err != nil || len(rel) == 0 || rel[0].Relationship != "affected-by" {
		t.Errorf("software %s related: %+v %v", res.Objects[0].Value, rel, err)
	}

	// A vulnerability published later gains a CVE ID: the CVE-valued one is
	// created and related to the title-valued one.
	id, at, ok := f.sim.VulnerabilityGainingCVE(400 * 24 * time.Hour)
	if !ok {
		t.Skip("no vulnerability of this seed gains a CVE ID")
	}
	f.sim.Advance(at.Sub(f.sim.Clock()) + time.Hour)
	f.drain(t, 3, feed.Vulnerabilities, s, 0)
	found, err := f.store.Search(ctx, store.Query{FlashpointID: int64(id)})
	if err != nil {
		t.Fatal(err)
	}
	var title, cve *intel.Object
	for i, o := range found.Objects {
		if strings.HasPrefix(o.Value, "CVE-") {
			cve = &found.Objects[i]
		} else {
			title = &found.Objects[i]
		}
	}
	if title == nil || cve == nil {
		t.Fatalf("Flashpoint id %d: %d objects %v", id, len(found.Objects), found.Objects)
	}
	rel, err = f.store.Related(ctx, title.ID, 0)
	if err != nil || !slices.ContainsFunc(rel, func(r intel.Related) bool { return r.Relationship == "related-to" && r.Object.ID == cve.ID }) {
		t.Errorf("title %q not related to %s: %+v %v", title.Value, cve.Value, rel, err)
	}
}

func TestReports(t *testing.T) {
	f := newFixture(t, sim.Config{Seed: 6, Reports: 40, Indicators: 2000, ReportWindow: 20 * 24 * time.Hour})
	s := settings(feed.Reports)
	objs, stats, _ := f.drain(t, 2, feed.Reports, s, 0)
	want := truthIDs(t, f.sim, sim.DatasetReports, url.Values{"updated_since": {s.StartAt.Format(time.RFC3339)}})
	diffIDs(t, "reports", want, originalIDs(objs, intel.Report))
	ctx := context.Background()
	var featured, related int
	for _, o := range objs {
		if o.Type != intel.Report {
			continue
		}
		if o.Report.Featured != slices.Contains(o.Tags, FeaturedTag) {
			t.Fatalf("report %s featured=%v tags %v", o.Value, o.Report.Featured, o.Tags)
		}
		if o.Report.Featured {
			featured++
		}
		stored, err := f.store.GetByRef(ctx, o.Ref())
		if err != nil {
			t.Fatal(err)
		}
		rel, err := f.store.Related(ctx, stored.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		related += len(rel)
	}
	if related == 0 || stats.Listed != len(want) {
		t.Errorf("%d report→indicator relationships, stats %+v", related, stats)
	}
	t.Logf("%d reports, %d featured, %d related indicators, stats %+v", len(want), featured, related, stats)
}

// Mapping is deterministic: reading a channel again from its start changes
// nothing that is stored.
func TestRereadIsUnchanged(t *testing.T) {
	for _, k := range feed.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			f := newFixture(t, sim.Config{Seed: 7, Reports: 20, Vulnerabilities: 200, Indicators: 1000,
				IndicatorWindow: 20 * 24 * time.Hour, VulnWindow: 20 * 24 * time.Hour, ReportWindow: 20 * 24 * time.Hour})
			s := settings(k)
			f.drain(t, 1, k, s, 0)
			ctx := context.Background()
			f.conn.PageSize = 7
			p, err := f.conn.Poll(k, s, "")
			if err != nil {
				t.Fatal(err)
			}
			l, err := f.store.AcquireLease(ctx, 1, "again", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			var total store.Counts
			remaining := []int{}
			for p.More() {
				b, err := p.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				remaining = append(remaining, b.Remaining)
				c, err := f.store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: 1, Instance: "test", Channel: string(k)},
					Collection: s.Collection, Objects: b.Objects, Relationships: b.Relationships, Cursor: b.Cursor})
				if err != nil {
					t.Fatal(err)
				}
				total.Add(c)
			}
			// (An indicator's relationship to a related IOC stored later is
			// made when that IOC comes: a re-read finds them all made.)
			if total.New != 0 || total.Updated != 0 || total.Unchanged == 0 || total.Relationships != 0 {
				t.Errorf("re-reading %s: %+v", k, total)
			}
			// Reports and vulnerabilities come with their totals: what
			// remains after each page falls to nothing (channel poll's
			// progress bar). Indicators do not: their total costs the server
			// a count (include_total_count), so it is not asked for.
			if k == feed.Indicators {
				if slices.ContainsFunc(remaining, func(n int) bool { return n != -1 }) {
					t.Errorf("indicators remaining, unasked: %v", remaining)
				}
			} else if len(remaining) < 2 || remaining[0] <= 0 || remaining[len(remaining)-1] != 0 ||
				!slices.IsSortedFunc(remaining, func(a, b int) int { return b - a }) {
				t.Errorf("items remaining after each page of %s: %v", k, remaining)
			}
		})
	}
}

// A token without premium gets a 403 or a thinner record from the
// vulnerability detail; either way the list data is kept.
func TestVulnerabilitiesWithoutPremium(t *testing.T) {
	for _, mode := range []string{"forbidden", "thin"} {
		t.Run(mode, func(t *testing.T) {
			tok, _ := sim.ParseToken("basic:vulnerabilities")
			cfg := sim.Config{Seed: 8, Vulnerabilities: 150, VulnWindow: 20 * 24 * time.Hour, Tokens: []sim.Token{tok}, NonPremiumDetail: mode}
			f := newFixture(t, cfg)
			c, err := ignite.New(ignite.Options{BaseURL: f.conn.Client.BaseURL(), Token: "basic", Version: "test", RateLimit: -1})
			if err != nil {
				t.Fatal(err)
			}
			f.conn.Client = c
			s := settings(feed.Vulnerabilities)
			objs, _, _ := f.drain(t, 3, feed.Vulnerabilities, s, 0)
			want := truthIDs(t, f.sim, sim.DatasetVulnerabilities, url.Values{"updated_after": {s.StartAt.Format(time.RFC3339)}})
			diffIDs(t, "vulnerabilities without premium", want, originalIDs(objs, intel.Vulnerability))
			for _, o := range objs {
				if o.Type == intel.Vulnerability && (o.Name == "" || o.Vulnerability.FlashpointID == 0) {
					t.Fatalf("list data lost: %+v", o)
				}
			}
		})
	}
}

// An indicators poll asks for what embed brings and keeps it: MITRE ATT&CK
// techniques as attack patterns the indicator indicates (with their names
// and tactics), the malware and actor descriptions, external references,
// related IOCs (as relationships once both are stored), sightings, when it
// was last scored, and its API link.
func TestIndicatorEmbedKept(t *testing.T) {
	f := newFixture(t, sim.Config{Seed: 5, Indicators: 600, IndicatorWindow: 10 * 24 * time.Hour})
	s := settings(feed.Indicators)
	objs, _, _ := f.drain(t, 1, feed.Indicators, s, 0)
	ctx := context.Background()
	var aps, described, refs, related, sighted, scored, linked int
	for _, o := range objs {
		if o.Type == intel.AttackPattern {
			if o.Name == "" || len(o.Tactics) == 0 || !strings.HasPrefix(o.Value, "T") {
				t.Errorf("attack pattern without its name or tactic: %+v", o)
			}
			aps++
			continue
		}
		if o.MalwareDescription != "" {
			described++
		}
		if strings.EqualFold(o.ActorDescription, "N/A") {
			t.Errorf("the source's N/A kept as an actor description: %s", o.Value)
		}
		if len(o.References) > 0 {
			refs++
		}
		if len(o.RelatedIOCs) > 0 {
			related++
		}
		if o.Sightings != nil && o.Sightings.Count > 0 && !o.Sightings.Last.IsZero() {
			sighted++
		}
		if !o.LastScoredAt.IsZero() {
			scored++
		}
		if strings.Contains(o.Href, "/technical-intelligence/v2/indicators/") {
			linked++
		}
	}
	n := len(indicatorIDs(objs))
	t.Logf("%d indicators: %d attack patterns, %d described, %d with references, %d related, %d sighted, %d scored, %d linked",
		n, aps, described, refs, related, sighted, scored, linked)
	if aps == 0 || described < n/2 || refs < n/2 || related < n/2 || sighted != n || scored == 0 || linked != n {
		t.Fatal("embedded parts were not kept")
	}
	// Stored: an indicator with a technique is related to its attack pattern.
	res, err := f.store.Search(ctx, store.Query{Types: []intel.Type{intel.AttackPattern}, Limit: 1})
	if err != nil || len(res.Objects) == 0 {
		t.Fatalf("no attack pattern stored: %v", err)
	}
	rel, err := f.store.Related(ctx, res.Objects[0].ID, 10)
	if err != nil || len(rel) == 0 {
		t.Fatalf("attack pattern %s related to nothing: %v", res.Objects[0].Value, err)
	}
	// Related IOCs become relationships when both ends are stored.
	relatedTo := 0
	for _, o := range objs {
		if len(o.RelatedIOCs) == 0 {
			continue
		}
		res, err := f.store.Search(ctx, store.Query{Types: []intel.Type{o.Type}, Value: o.Value, Limit: 1})
		if err != nil || len(res.Objects) == 0 {
			t.Fatalf("%s not stored: %v", o.Value, err)
		}
		rel, err := f.store.Related(ctx, res.Objects[0].ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rel {
			if r.Relationship == string(intel.RelRelatedTo) {
				relatedTo++
			}
		}
	}
	if relatedTo == 0 {
		t.Error("no related IOC became a relationship")
	}
}
