package ignite_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
)

// simNow is the fixed clock of every test simulator.
var simNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

const (
	tokAll     = "tok-all"
	tokNoVulns = "tok-novulns"
	tokBasic   = "tok-basic" // no premium
)

func mustToken(tb testing.TB, spec string) sim.Token {
	tb.Helper()
	t, err := sim.ParseToken(spec)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// newSim starts a simulator over real HTTP on loopback.
func newSim(tb testing.TB, cfg sim.Config) (*sim.Server, string) {
	tb.Helper()
	if cfg.Now.IsZero() {
		cfg.Now = simNow
	}
	if cfg.Tokens == nil {
		cfg.Tokens = []sim.Token{
			mustToken(tb, tokAll),
			mustToken(tb, tokNoVulns+":reports,indicators"),
			mustToken(tb, tokBasic+":reports,vulnerabilities,indicators"),
		}
	}
	s := sim.New(cfg)
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	return s, srv.URL
}

func newClient(tb testing.TB, base, token string, mod ...func(*ignite.Options)) *ignite.Client {
	tb.Helper()
	o := ignite.Options{BaseURL: base, Token: token, Version: "test", RetryBase: 5 * time.Millisecond,
		RetryMax: 20 * time.Millisecond, RetryAfterCap: 50 * time.Millisecond, RateLimit: -1}
	for _, m := range mod {
		m(&o)
	}
	c, err := ignite.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func truth(tb testing.TB, s *sim.Server, dataset string, q url.Values) []string {
	tb.Helper()
	t, err := s.Truth(dataset, q)
	if err != nil {
		tb.Fatal(err)
	}
	return t.IDs
}

// drain fetches every page of p, failing on an error or an invalid item.
func drain[T any](tb testing.TB, p *ignite.Pager[T]) []T {
	tb.Helper()
	var out []T
	for p.More() {
		page, err := p.Next(context.Background())
		if err != nil {
			tb.Fatalf("page %d: %v", p.Pages(), err)
		}
		if len(page.Invalid) > 0 {
			tb.Fatalf("invalid items: %v", page.Invalid[0].Err)
		}
		out = append(out, page.Items...)
	}
	return out
}

func fetchIndicators(tb testing.TB, c *ignite.Client, q ignite.IndicatorQuery) []ignite.Indicator {
	tb.Helper()
	return drain(tb, c.Indicators(q))
}

func indicatorIDs(items []ignite.Indicator) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}

func TestIndicatorsPagingMatchesGroundTruth(t *testing.T) {
	s, base := newSim(t, sim.Config{Seed: 7, Indicators: 6000})
	c := newClient(t, base, tokAll)
	start := simNow.Add(-61 * 24 * time.Hour)
	for _, tc := range []struct {
		name  string
		q     ignite.IndicatorQuery
		truth url.Values
	}{
		{"modified asc, size 1000", ignite.IndicatorQuery{Size: 1000, Sort: "modified_at:asc", ModifiedAfter: start},
			url.Values{"sort": {"modified_at:asc"}, "modified_after": {ignite.FormatTime(start)}}},
		{"embed all, size 500", ignite.IndicatorQuery{Size: 500, Sort: "modified_at:asc", ModifiedAfter: start, Embed: []string{"all"}},
			url.Values{"sort": {"modified_at:asc"}, "modified_after": {ignite.FormatTime(start)}}},
		{"odd page size, descending", ignite.IndicatorQuery{Size: 333, Sort: "last_seen_at:desc", ModifiedAfter: start},
			url.Values{"sort": {"last_seen_at:desc"}, "modified_after": {ignite.FormatTime(start)}}},
		{"created order", ignite.IndicatorQuery{Size: 700, Sort: "created_at:asc", CreatedAfter: start},
			url.Values{"sort": {"created_at:asc"}, "created_after": {ignite.FormatTime(start)}}},
		{"no date filter: the 30-day default window", ignite.IndicatorQuery{Size: 1000}, url.Values{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := truth(t, s, "indicators", tc.truth)
			got := fetchIndicators(t, c, tc.q)
			if diff := cmp.Diff(want, indicatorIDs(got)); diff != "" {
				t.Fatalf("ids differ from ground truth (-want +got):\n%s", diff)
			}
			if len(want) < 500 {
				t.Fatalf("ground truth too small to prove paging: %d", len(want))
			}
		})
	}
	// The default window holds only the last 30 days: fewer than the full 60-day set.
	all := truth(t, s, "indicators", url.Values{"modified_after": {ignite.FormatTime(start)}})
	recent := truth(t, s, "indicators", url.Values{})
	if len(recent) >= len(all) || len(recent) == 0 {
		t.Fatalf("default window: %d of %d", len(recent), len(all))
	}
}

func TestIndicatorFilters(t *testing.T) {
	s, base := newSim(t, sim.Config{Seed: 3, Indicators: 5000, Reports: 50})
	c := newClient(t, base, tokAll)
	start := simNow.Add(-61 * 24 * time.Hour)
	yes := true
	everything := truth(t, s, "indicators", url.Values{"modified_after": {ignite.FormatTime(start)}})
	for _, tc := range []struct {
		name  string
		q     ignite.IndicatorQuery
		check func(ignite.Indicator) bool
	}{
		{"ioc_types", ignite.IndicatorQuery{IOCTypes: []string{"ipv6", "domain"}},
			func(i ignite.Indicator) bool { return i.Type == "ipv6" || i.Type == "domain" }},
		{"min_score", ignite.IndicatorQuery{MinScore: "malicious"}, func(i ignite.Indicator) bool { return i.Score.Value == "malicious" }},
		{"max_score", ignite.IndicatorQuery{MaxScore: "informational"},
			func(i ignite.Indicator) bool { return i.Score.Value == "informational" || i.Score.Value == "no_score" }},
		{"tags", ignite.IndicatorQuery{Tags: []string{"malware:qakbot"}}, func(i ignite.Indicator) bool { return slices.Contains(i.Tags(), "malware:qakbot") }},
		{"malware without prefix", ignite.IndicatorQuery{Malware: []string{"lumma"}}, func(i ignite.Indicator) bool { return slices.Contains(i.Tags(), "malware:lumma") }},
		{"mitre", ignite.IndicatorQuery{MitreAttackIDs: []string{"T1105"}, Embed: []string{"mitre_attack_ids"}, Size: 500}, func(i ignite.Indicator) bool {
			return slices.ContainsFunc(i.MitreAttackIDs, func(m ignite.MitreAttack) bool { return m.ID == "T1105" })
		}},
		{"cidr", ignite.IndicatorQuery{CIDRRange: "100.64.0.0/10"}, func(i ignite.Indicator) bool { return i.Type == "ipv4" && strings.HasPrefix(i.Value, "100.") }},
		{"has_intel_report", ignite.IndicatorQuery{HasIntelReport: &yes}, func(i ignite.Indicator) bool {
			return slices.ContainsFunc(i.Tags(), func(t string) bool { return strings.HasPrefix(t, "report:") })
		}},
		{"partial value", ignite.IndicatorQuery{IOCValue: "portal-"}, func(i ignite.Indicator) bool { return strings.Contains(i.Value, "portal-") }},
		{"sources", ignite.IndicatorQuery{Sources: []string{"flashpoint_apt"}}, func(i ignite.Indicator) bool { return slices.Contains(i.Tags(), "source:flashpoint_apt") }},
		{"actors", ignite.IndicatorQuery{Actors: []string{"actor:ta505"}}, func(i ignite.Indicator) bool { return slices.Contains(i.Tags(), "actor:ta505") }},
		{"has_extracted_config", ignite.IndicatorQuery{HasExtractedConfig: &yes}, func(i ignite.Indicator) bool { return i.Type == "extracted_config" }},
		{"modified_before", ignite.IndicatorQuery{ModifiedBefore: simNow.Add(-40 * 24 * time.Hour)},
			func(i ignite.Indicator) bool { return i.ModifiedAt.Before(simNow.Add(-40 * 24 * time.Hour)) }},
		{"last seen window", ignite.IndicatorQuery{LastSeenAfter: simNow.Add(-20 * 24 * time.Hour), LastSeenBefore: simNow.Add(-10 * 24 * time.Hour)},
			func(i ignite.Indicator) bool {
				return !i.LastSeenAt.Before(simNow.Add(-20*24*time.Hour)) && i.LastSeenAt.Before(simNow.Add(-10*24*time.Hour))
			}},
		{"created_before", ignite.IndicatorQuery{CreatedBefore: simNow.Add(-50 * 24 * time.Hour)},
			func(i ignite.Indicator) bool { return i.CreatedAt.Before(simNow.Add(-50 * 24 * time.Hour)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.ModifiedAfter, q.Sort = start, "modified_at:asc"
			got := fetchIndicators(t, c, q)
			u := url.Values{"modified_after": {ignite.FormatTime(start)}, "sort": {"modified_at:asc"}}
			for k, v := range mustValues(t, q) {
				u[k] = v
			}
			want := truth(t, s, "indicators", u)
			if diff := cmp.Diff(want, indicatorIDs(got)); diff != "" {
				t.Fatalf("ids differ from ground truth (-want +got):\n%s", diff)
			}
			if len(got) == 0 || len(got) >= len(everything) {
				t.Fatalf("filter matched %d of %d: it must select a proper subset", len(got), len(everything))
			}
			for _, it := range got {
				if !tc.check(it) {
					t.Fatalf("%s %s (%s) does not satisfy the filter; tags %v", it.ID, it.Value, it.Type, it.Tags())
				}
			}
		})
	}
	t.Run("exact value", func(t *testing.T) {
		one := fetchIndicators(t, c, ignite.IndicatorQuery{ModifiedAfter: start, Size: 5, IOCTypes: []string{"domain"}})[0]
		got := fetchIndicators(t, c, ignite.IndicatorQuery{ModifiedAfter: start, IOCValue: `"` + one.Value + `"`})
		if len(got) != 1 || got[0].ID != one.ID {
			t.Fatalf("exact lookup of %s: %v", one.Value, indicatorIDs(got))
		}
	})
}

// mustValues exposes the query string a client sends, through a capture server.
func mustValues(tb testing.TB, q ignite.IndicatorQuery) url.Values {
	tb.Helper()
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Query()
		_, _ = w.Write([]byte(`{"items": [], "total": null, "pagination": {"next": null}}`))
	}))
	defer srv.Close()
	c := newClient(tb, srv.URL, "x")
	if _, err := c.ListIndicators(context.Background(), q); err != nil {
		tb.Fatal(err)
	}
	delete(got, "size")
	delete(got, "from")
	return got
}

func TestIndicatorDecodingKeepsEverything(t *testing.T) {
	_, base := newSim(t, sim.Config{Seed: 11, Indicators: 3000, Reports: 40})
	c := newClient(t, base, tokAll)
	items := fetchIndicators(t, c, ignite.IndicatorQuery{ModifiedAfter: simNow.Add(-61 * 24 * time.Hour), Embed: []string{"all"}, Size: 500})
	types := map[string]int{}
	var quoted, wholeSeconds int
	for _, it := range items {
		types[it.Type]++
		if len(it.Raw) == 0 || !json.Valid(it.Raw) {
			t.Fatalf("%s: raw JSON not kept", it.ID)
		}
		if !it.ModifiedAt.IsSet() || it.ModifiedAt.Before(it.CreatedAt.Time) || it.LastSeenAt.After(it.ModifiedAt.Time) {
			t.Fatalf("%s: timestamps created %v modified %v last seen %v", it.ID, it.CreatedAt, it.ModifiedAt, it.LastSeenAt)
		}
		if !it.TotalSightings.Valid || it.TotalSightings.V < int64(len(it.Sightings)) {
			t.Fatalf("%s: total_sightings %+v with %d sightings", it.ID, it.TotalSightings, len(it.Sightings))
		}
		if strings.Contains(string(it.Raw), `"total_sightings":"`) {
			quoted++
		}
		if it.ModifiedAt.Nanosecond() == 0 {
			wholeSeconds++
		}
		if it.Type == "file" && (it.Hashes == nil || it.Hashes.SHA256 == nil || *it.Hashes.SHA256 != it.Value) {
			t.Fatalf("%s: file hashes %+v", it.ID, it.Hashes)
		}
		if it.Type == "extracted_config" && !json.Valid([]byte(it.Value)) {
			t.Fatalf("%s: extracted_config value is not a JSON document: %s", it.ID, it.Value)
		}
		if len(it.Tags()) < 3 || it.LatestSighting == nil {
			t.Fatalf("%s: tags %v", it.ID, it.Tags())
		}
	}
	for _, typ := range []string{"ipv4", "ipv6", "domain", "url", "file", "extracted_config"} {
		if types[typ] == 0 {
			t.Errorf("no %s indicator in %d", typ, len(items))
		}
	}
	if quoted == 0 || wholeSeconds == 0 {
		t.Errorf("the simulator should send some numbers as strings (%d) and whole-second times (%d)", quoted, wholeSeconds)
	}
}

func fetchVulns(tb testing.TB, c *ignite.Client, q ignite.VulnerabilityQuery) []ignite.Vulnerability {
	tb.Helper()
	return drain(tb, c.Vulnerabilities(q))
}

func vulnIDs(vs []ignite.Vulnerability) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strconv.FormatInt(v.ID.V, 10)
	}
	return out
}

func TestVulnerabilities(t *testing.T) {
	s, base := newSim(t, sim.Config{Seed: 5, Vulnerabilities: 1500})
	c := newClient(t, base, tokAll)
	three, five := 7.0, 5.0
	epss := 0.2
	all := truth(t, s, "vulnerabilities", url.Values{})
	for _, tc := range []struct {
		name  string
		q     ignite.VulnerabilityQuery
		u     url.Values
		check func(ignite.Vulnerability) bool
	}{
		{"all, following next", ignite.VulnerabilityQuery{Size: 400}, url.Values{}, func(ignite.Vulnerability) bool { return true }},
		{"updated_after", ignite.VulnerabilityQuery{Size: 100, UpdatedAfter: simNow.Add(-90 * 24 * time.Hour)},
			url.Values{"updated_after": {ignite.FormatTime(simNow.Add(-90 * 24 * time.Hour))}},
			func(v ignite.Vulnerability) bool {
				return !v.Timelines.LastModifiedAt.Before(simNow.Add(-90 * 24 * time.Hour))
			}},
		{"severity", ignite.VulnerabilityQuery{Severity: []string{"critical"}}, url.Values{"severity": {"critical"}},
			func(v ignite.Vulnerability) bool { return v.Scores.Severity == "Critical" }},
		{"product, any case", ignite.VulnerabilityQuery{Products: []string{"contoso helpdesk portal"}}, url.Values{"products": {"contoso helpdesk portal"}},
			func(v ignite.Vulnerability) bool {
				return slices.ContainsFunc(v.Products, func(p ignite.Product) bool { return p.Name == "Contoso Helpdesk Portal" })
			}},
		{"vendor", ignite.VulnerabilityQuery{Vendors: []string{"Globex"}}, url.Values{"vendors": {"Globex"}},
			func(v ignite.Vulnerability) bool {
				return slices.ContainsFunc(v.Vendors, func(p ignite.Vendor) bool { return p.Name == "Globex" })
			}},
		{"min cvss v3", ignite.VulnerabilityQuery{MinCVSSv3: &three}, url.Values{"min_cvssv3_score": {"7"}},
			func(v ignite.Vulnerability) bool { return v.CVSSv3s[0].Score.V >= 7 }},
		{"min epss", ignite.VulnerabilityQuery{MinEPSS: &epss}, url.Values{"min_epss_score": {"0.2"}},
			func(v ignite.Vulnerability) bool { return v.Scores.EPSSScore.Valid && v.Scores.EPSSScore.V >= 0.2 }},
		{"cwe", ignite.VulnerabilityQuery{CWEIDs: []int{89}}, url.Values{"cwe_ids": {"89"}},
			func(v ignite.Vulnerability) bool { return strings.Contains(v.Title, "SQL Injection") }},
		{"cvss v2 and v4 ranges", ignite.VulnerabilityQuery{MaxCVSSv2: &five, MinCVSSv4: &three},
			url.Values{"max_cvssv2_score": {"5"}, "min_cvssv4_score": {"7"}},
			func(v ignite.Vulnerability) bool { return v.CVSSv2s[0].Score.V <= 5 && v.CVSSv4s[0].Score.V >= 7 }},
		{"ransomware score", ignite.VulnerabilityQuery{RansomwareScore: []string{"critical"}}, url.Values{"ransomware_score": {"critical"}},
			func(v ignite.Vulnerability) bool { return v.Scores.RansomwareScore.Str == "Critical" }},
		{"tags", ignite.VulnerabilityQuery{Tags: []string{"oss"}}, url.Values{"tags": {"oss"}},
			func(v ignite.Vulnerability) bool { return slices.Contains(v.Tags, "oss") }},
		{"published window", ignite.VulnerabilityQuery{PublishedAfter: simNow.Add(-100 * 24 * time.Hour), PublishedBefore: simNow.Add(-50 * 24 * time.Hour)},
			url.Values{"published_after": {ignite.FormatTime(simNow.Add(-100 * 24 * time.Hour))}, "published_before": {ignite.FormatTime(simNow.Add(-50 * 24 * time.Hour))}},
			func(v ignite.Vulnerability) bool {
				p := v.Timelines.PublishedAt
				return !p.Before(simNow.Add(-100*24*time.Hour)) && p.Before(simNow.Add(-50*24*time.Hour))
			}},
		{"last_touched_after", ignite.VulnerabilityQuery{LastTouchedAfter: simNow.Add(-30 * 24 * time.Hour)},
			url.Values{"last_touched_after": {ignite.FormatTime(simNow.Add(-30 * 24 * time.Hour))}},
			func(v ignite.Vulnerability) bool {
				return !v.Timelines.LastModifiedAt.Before(simNow.Add(-30 * 24 * time.Hour))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fetchVulns(t, c, tc.q)
			want := truth(t, s, "vulnerabilities", tc.u)
			if diff := cmp.Diff(want, vulnIDs(got)); diff != "" {
				t.Fatalf("ids differ from ground truth (-want +got):\n%s", diff)
			}
			if len(got) == 0 || (tc.name != "all, following next" && len(got) >= len(all)) {
				t.Fatalf("matched %d of %d", len(got), len(all))
			}
			for _, v := range got {
				if !tc.check(v) {
					t.Fatalf("%d %q does not satisfy the filter", v.ID.V, v.Title)
				}
			}
		})
	}
	t.Run("cves", func(t *testing.T) {
		one := fetchVulns(t, c, ignite.VulnerabilityQuery{Size: 50})[0]
		got := fetchVulns(t, c, ignite.VulnerabilityQuery{CVEs: one.CVEIDs[:1]})
		if len(got) != 1 || got[0].ID.V != one.ID.V {
			t.Fatalf("cves=%s: %v", one.CVEIDs[0], vulnIDs(got))
		}
	})
	t.Run("sort by cvss v3 descending", func(t *testing.T) {
		got := fetchVulns(t, c, ignite.VulnerabilityQuery{Sort: "cvssv3_score:desc", Size: 300})
		if len(got) != len(all) {
			t.Fatalf("got %d of %d", len(got), len(all))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Scores.CVSSv3Score.V > got[i-1].Scores.CVSSv3Score.V {
				t.Fatalf("not descending at %d: %v after %v", i, got[i].Scores.CVSSv3Score.V, got[i-1].Scores.CVSSv3Score.V)
			}
		}
	})
	t.Run("lenient fields", func(t *testing.T) {
		var numericRansom, textCWE, noCVE int
		for _, v := range fetchVulns(t, c, ignite.VulnerabilityQuery{Size: 1000}) {
			if v.Scores.RansomwareScore.IsNum {
				numericRansom++
			}
			for _, w := range v.CWEs {
				if strings.Contains(string(v.Raw), `"cwe_id":"CWE-`) && w.CWEID.Valid {
					textCWE++
				}
			}
			if len(v.CVEIDs) == 0 {
				noCVE++
			}
			if len(v.CVSSv3s) == 0 || v.CVSSv3s[0].VectorString == "" || len(v.CVSSv4s) == 0 || v.CVSSv2s[0].Vector() == "" {
				t.Fatalf("%d: CVSS missing", v.ID.V)
			}
		}
		if numericRansom == 0 || textCWE == 0 || noCVE == 0 {
			t.Fatalf("numeric ransomware %d, text cwe %d, no CVE %d: each should occur", numericRansom, textCWE, noCVE)
		}
	})
}

func TestVulnerabilityDetailPremiumAndNot(t *testing.T) {
	s, base := newSim(t, sim.Config{Seed: 5, Vulnerabilities: 300})
	ctx := context.Background()
	id := int64(400007)
	prem, err := newClient(t, base, tokAll).GetVulnerability(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(prem.Products) == 0 || len(prem.Products[0].Versions) == 0 || !strings.HasPrefix(prem.Products[0].Versions[0].CPEs[0].Name, "cpe:2.3:") {
		t.Fatalf("premium detail lacks versions and CPEs: %+v", prem.Products)
	}
	if len(prem.Changelog) == 0 || prem.Timelines.VendorResponseTime == nil {
		t.Fatalf("premium detail lacks detail-only fields")
	}
	thin, err := newClient(t, base, tokBasic).GetVulnerability(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(thin.Products) == 0 || len(thin.Products[0].Versions) != 0 || len(thin.Changelog) != 0 || thin.Title != prem.Title {
		t.Fatalf("non-premium detail should be the list-shaped record: %+v", thin.Products)
	}
	if err := s.SetNonPremiumDetail("forbidden"); err != nil {
		t.Fatal(err)
	}
	_, err = newClient(t, base, tokBasic).GetVulnerability(ctx, id)
	if ignite.ErrorClass(err) != ignite.ClassForbidden || ignite.ErrorCode(err) != "403" {
		t.Fatalf("non-premium forbidden: %v", err)
	}
	if _, err := newClient(t, base, tokAll).GetVulnerability(ctx, 999999999); ignite.ErrorClass(err) != ignite.ClassNotFound {
		t.Fatalf("unknown id: %v", err)
	}
	if n, err := ignite.ParseVulnerabilityID("FP-VULN-400007"); err != nil || n != 400007 {
		t.Fatalf("ParseVulnerabilityID: %d %v", n, err)
	}
}

func TestReportsAndEvents(t *testing.T) {
	s, base := newSim(t, sim.Config{Seed: 9, Reports: 250})
	c := newClient(t, base, tokAll)
	ctx := context.Background()
	since := simNow.Add(-200 * 24 * time.Hour)
	var got []ignite.Report
	p := c.Reports(ignite.ReportQuery{Limit: 40, Since: since, Sort: "updated_at:asc"})
	for p.More() {
		page, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Items...)
	}
	want := truth(t, s, "reports", url.Values{"since": {ignite.FormatTime(since)}, "sort": {"updated_at:asc"}})
	ids := make([]string, len(got))
	featured := 0
	for i, r := range got {
		ids[i] = r.ID
		if r.IsFeatured {
			featured++
		}
		if i > 0 && r.UpdatedAt.Before(got[i-1].UpdatedAt.Time) {
			t.Fatalf("not sorted by updated_at")
		}
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Fatalf("report ids differ (-want +got):\n%s", diff)
	}
	if featured == 0 || featured == len(got) {
		t.Fatalf("featured %d of %d", featured, len(got))
	}
	detail, err := c.GetReport(ctx, got[0].ID)
	if err != nil || detail.Title != got[0].Title || detail.PostedAt.IsZero() {
		t.Fatalf("detail: %v %+v", err, detail)
	}
	if _, err := c.GetReport(ctx, "AAAAAAAAAAAAAAAAAAAAAA"); ignite.ErrorClass(err) != ignite.ClassNotFound {
		t.Fatalf("unknown report: %v", err)
	}
	misp := map[string]bool{}
	for _, r := range got[:20] {
		var evIDs []string
		ep := c.Events(ignite.EventQuery{Report: r.ID, Limit: 1})
		for ep.More() {
			page, err := ep.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Items {
				evIDs = append(evIDs, e.FPID)
				for _, a := range e.Event.Attribute {
					misp[a.Type] = true
					if a.TypedValue() == "" || !a.Timestamp.IsSet() {
						t.Fatalf("attribute %+v", a)
					}
				}
			}
		}
		slices.Sort(evIDs)
		wantEv := truth(t, s, "events", url.Values{"report": {r.ID}})
		slices.Sort(wantEv)
		if diff := cmp.Diff(wantEv, evIDs); diff != "" {
			t.Fatalf("events of %s differ:\n%s", r.ID, diff)
		}
	}
	if len(misp) < 4 {
		t.Fatalf("events cover only MISP types %v", misp)
	}
	// Free text and updated_since.
	q := strings.ToLower(strings.Fields(got[0].Title)[0])
	textPage, err := c.ListReports(ctx, ignite.ReportQuery{Limit: 1000, Query: q, UpdatedSince: since})
	if err != nil {
		t.Fatal(err)
	}
	if textPage.Total == 0 || textPage.Total >= 250 || textPage.Total != len(truth(t, s, "reports", url.Values{"query": {q}, "updated_since": {ignite.FormatTime(since)}})) {
		t.Fatalf("query %q: total %d", q, textPage.Total)
	}
	for _, r := range textPage.Items {
		if !strings.Contains(strings.ToLower(r.Title), q) {
			t.Fatalf("%q does not contain %q", r.Title, q)
		}
	}
	// +00:00 is refused by the reports API with 400.
	_, err = c.ListReports(ctx, ignite.ReportQuery{Extra: url.Values{"since": {"2026-01-01T00:00:00+00:00"}}})
	if ignite.ErrorClass(err) != ignite.ClassInvalidRequest || ignite.ErrorCode(err) != "400" || !strings.Contains(err.Error(), "YYYY-MM-DDTHH:MM:SSZ") {
		t.Fatalf("+00:00: %v", err)
	}
}

func TestAuthAndEntitlements(t *testing.T) {
	_, base := newSim(t, sim.Config{Seed: 1, Indicators: 100, Vulnerabilities: 50, Reports: 10})
	ctx := context.Background()
	secret := "very-secret-token-value"
	bad := newClient(t, base, secret)
	_, err := bad.ListIndicators(ctx, ignite.IndicatorQuery{})
	var e *ignite.Error
	if !errors.As(err, &e) || e.Class != ignite.ClassUnauthorized || e.Code() != "401" || e.Message != "Invalid signature" {
		t.Fatalf("unknown token: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the token: %v", err)
	}
	limited := newClient(t, base, tokNoVulns)
	if _, err := limited.ListVulnerabilities(ctx, ignite.VulnerabilityQuery{}); ignite.ErrorClass(err) != ignite.ClassForbidden || ignite.ErrorCode(err) != "403" {
		t.Fatalf("vulnerabilities without entitlement: %v", err)
	}
	if _, err := limited.ListIndicators(ctx, ignite.IndicatorQuery{}); err != nil {
		t.Fatalf("indicators with entitlement: %v", err)
	}
	if _, err := limited.ListReports(ctx, ignite.ReportQuery{}); err != nil {
		t.Fatalf("reports with entitlement: %v", err)
	}
	// No Authorization header at all.
	res, err := http.Get(base + ignite.PathIndicators)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("no token: %d", res.StatusCode)
	}
}

func TestValidationErrors(t *testing.T) {
	_, base := newSim(t, sim.Config{Seed: 1, Indicators: 100, Vulnerabilities: 50})
	c := newClient(t, base, tokAll)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		call  func() error
		field string
	}{
		{"indicator size over 1000", func() error { _, err := c.ListIndicators(ctx, ignite.IndicatorQuery{Size: 1001}); return err }, "query.size"},
		{"size over 500 with embed", func() error {
			_, err := c.ListIndicators(ctx, ignite.IndicatorQuery{Size: 501, Embed: []string{"all"}})
			return err
		}, "query.size"},
		{"bad ioc type", func() error {
			_, err := c.ListIndicators(ctx, ignite.IndicatorQuery{IOCTypes: []string{"sha256"}})
			return err
		}, "query.ioc_types"},
		{"vulnerability size over 1000", func() error {
			_, err := c.ListVulnerabilities(ctx, ignite.VulnerabilityQuery{Size: 1001})
			return err
		}, "query.size"},
		{"bad severity", func() error {
			_, err := c.ListVulnerabilities(ctx, ignite.VulnerabilityQuery{Severity: []string{"urgent"}})
			return err
		}, "query.severity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var e *ignite.Error
			if !errors.As(err, &e) || e.Class != ignite.ClassInvalidRequest || e.Status != 422 {
				t.Fatalf("want 422 invalid request, got %v", err)
			}
			if len(e.Fields) == 0 || strings.Join(e.Fields[0].Loc, ".") != tc.field || e.Fields[0].Msg == "" {
				t.Fatalf("field errors %+v", e.Fields)
			}
			if e.Attempts != 1 {
				t.Fatalf("a 422 must not be retried: %d attempts", e.Attempts)
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	var got http.Header
	var rawQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, rawQuery = r.Header.Clone(), r.URL.RawQuery
		_, _ = w.Write([]byte(`{"items": [], "total": null, "pagination": {"next": null}}`))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, "tok-123", func(o *ignite.Options) { o.Version = "1.2.3" })
	after := time.Date(2026, 1, 2, 3, 4, 5, 678, time.FixedZone("x", 3600))
	if _, err := c.ListIndicators(context.Background(), ignite.IndicatorQuery{ModifiedAfter: after}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"Authorization": "Bearer tok-123", "X-Fp-Integrationplatform": "Flint", "X-Fp-Integrationplatformversion": "1.2.3",
		"X-Fp-Integrationversion": "1.2.3", "Accept": "application/json",
	} {
		if got.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, got.Get(k), want)
		}
	}
	if !strings.HasPrefix(got.Get("User-Agent"), "Flint/1.2.3") {
		t.Errorf("User-Agent %q", got.Get("User-Agent"))
	}
	if !strings.Contains(rawQuery, "modified_after=2026-01-02T02%3A04%3A05Z") {
		t.Errorf("date not sent as UTC YYYY-MM-DDTHH:MM:SSZ: %s", rawQuery)
	}
}

func TestClockAdvanceBringsNewAndChanged(t *testing.T) {
	s, base := newSim(t, sim.Config{Seed: 21, Indicators: 4000, Vulnerabilities: 2000})
	c := newClient(t, base, tokAll)
	start := simNow.Add(-61 * 24 * time.Hour)
	first := fetchIndicators(t, c, ignite.IndicatorQuery{ModifiedAfter: start, Sort: "modified_at:asc"})
	cursor := first[len(first)-1].ModifiedAt.Time
	s.Advance(3 * 24 * time.Hour)
	next := fetchIndicators(t, c, ignite.IndicatorQuery{ModifiedAfter: cursor.Truncate(time.Second), Sort: "modified_at:asc"})
	seen := map[string]ignite.Indicator{}
	for _, it := range first {
		seen[it.ID] = it
	}
	var newItems, changed int
	for _, it := range next {
		old, ok := seen[it.ID]
		switch {
		case !ok:
			newItems++
		case it.ModifiedAt.After(old.ModifiedAt.Time):
			changed++
			if len(it.Sightings) <= len(old.Sightings) {
				t.Fatalf("%s changed without a new sighting", it.ID)
			}
		case it.ID != first[len(first)-1].ID:
			t.Fatalf("%s re-read without a change", it.ID)
		}
	}
	if newItems == 0 || changed == 0 {
		t.Fatalf("after advancing: %d new, %d changed", newItems, changed)
	}
	want := truth(t, s, "indicators", url.Values{"modified_after": {ignite.FormatTime(cursor.Truncate(time.Second))}, "sort": {"modified_at:asc"}})
	if diff := cmp.Diff(want, indicatorIDs(next)); diff != "" {
		t.Fatalf("incremental ids differ:\n%s", diff)
	}

	// A vulnerability without a CVE gains one when the clock passes its update.
	id, at, ok := s.VulnerabilityGainingCVE(365 * 24 * time.Hour)
	if !ok {
		t.Fatal("no vulnerability gains a CVE within a year")
	}
	before, err := c.GetVulnerability(context.Background(), int64(id))
	if err != nil || len(before.CVEIDs) != 0 {
		t.Fatalf("before: %v %v", err, before.CVEIDs)
	}
	s.Advance(at.Sub(s.Clock()))
	after, err := c.GetVulnerability(context.Background(), int64(id))
	if err != nil || len(after.CVEIDs) != 1 || !strings.HasPrefix(after.CVEIDs[0], "CVE-") || after.Title != before.Title {
		t.Fatalf("after: %v %v", err, after.CVEIDs)
	}
	if !after.Timelines.LastModifiedAt.After(before.Timelines.LastModifiedAt.Time) {
		t.Fatalf("gaining a CVE must update last_modified_at")
	}
}
