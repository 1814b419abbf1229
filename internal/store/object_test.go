package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flintcti/flint/internal/intel"
)

func TestLookup(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		sha256 := strings.Repeat("ab", 32)
		md5 := strings.Repeat("cd", 16)
		objs := []intel.Object{
			ipv4(1, epoch),
			{Type: intel.Domain, Value: "evil.example", TLP: intel.TLPRed, Confidence: 70, Reported: epoch},
			{Type: intel.URL, Value: "http://evil.example/a", TLP: intel.TLPAmber, Confidence: 70, Reported: epoch},
			{Type: intel.File, Value: sha256, TLP: intel.TLPAmber, Confidence: 70, Reported: epoch, Score: intel.ScoreSuspicious,
				Details: intel.Details{Hashes: map[intel.HashAlgo]string{intel.SHA256: sha256, intel.MD5: md5}}},
		}
		MustApply(t, s, MustLease(t, s, 1), Page{Source: prodIndicators, Collection: "prod Indicators", Objects: objs, Cursor: "x"})

		res, err := s.Lookup(ctx, []string{"198.18.0.1", "evil[.]example", "hxxp://EVIL.example/a", strings.ToUpper(md5), sha256, "203.0.113.9", "%%%", "evil.example"})
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			Type  intel.Type
			Value string
			Found bool
			Err   bool
		}
		var got []row
		for _, r := range res {
			got = append(got, row{r.Type, r.Value, r.Found, r.Error != ""})
		}
		want := []row{
			{intel.IPv4, "198.18.0.1", true, false},
			{intel.Domain, "evil.example", true, false},
			{intel.URL, "http://evil.example/a", true, false},
			{intel.File, md5, true, false},
			{intel.File, sha256, true, false},
			{intel.IPv4, "203.0.113.9", false, false},
			{"", "", false, true},
			{intel.Domain, "evil.example", true, false},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("lookup (-want +got):\n%s", d)
		}
		if f := res[3].Object; f.Value != sha256 || f.Score != intel.ScoreSuspicious || len(f.Sources) != 1 || f.Collections[0] != "prod Indicators" {
			t.Errorf("md5 lookup found %+v", f)
		}
		if res[1].Object.TLP != intel.TLPRed || res[1].Object.ID != res[7].Object.ID {
			t.Errorf("domain lookups: %+v / %+v", res[1].Object, res[7].Object)
		}
		if _, err := s.Lookup(ctx, make([]string, MaxLookup+1)); intel.ErrorCode(err) != intel.EINVALID {
			t.Errorf("oversized lookup: %v", err)
		}
		if _, err := s.Get(ctx, 999999); intel.ErrorCode(err) != intel.ENOTFOUND {
			t.Errorf("get missing: %v", err)
		}
	})
}

// A value too long for a PostgreSQL btree entry is stored under a key made
// of its prefix and hash, and still found exactly and by prefix.
func TestLongValues(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		long := "http://evil.example/?q=" + strings.Repeat("x", 6000)
		other := long[:len(long)-1] + "y"
		objs := []intel.Object{
			{Type: intel.URL, Value: long, TLP: intel.TLPAmber, Confidence: 50, Reported: epoch},
			{Type: intel.URL, Value: other, TLP: intel.TLPAmber, Confidence: 50, Reported: epoch},
		}
		l := MustLease(t, s, 1)
		if got := MustApply(t, s, l, Page{Source: prodIndicators, Collection: "c", Objects: objs, Cursor: "1"}); got.New != 2 {
			t.Fatalf("counts %+v: values sharing a 512-byte prefix must stay distinct", got)
		}
		if got := MustApply(t, s, l, Page{Source: prodIndicators, Collection: "c", Objects: objs, Cursor: "2"}); got.Unchanged != 2 {
			t.Fatalf("re-read counts %+v", got)
		}
		res, err := s.Lookup(ctx, []string{long})
		if err != nil || !res[0].Found || res[0].Object.Value != long {
			t.Fatalf("lookup of a long value: %+v %v", res, err)
		}
		if n := count(t, s, Query{ValuePrefix: "http://evil.example/?q=xxx"}); n != 2 {
			t.Errorf("prefix search over long values: %d, want 2", n)
		}
		if n := count(t, s, Query{Value: other}); n != 1 {
			t.Errorf("exact search of a long value: %d, want 1", n)
		}
	})
}

func TestSearch(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		day := 24 * time.Hour
		var objs []intel.Object
		for i := 0; i < 30; i++ {
			o := intel.Object{Type: intel.Domain, Value: fmt.Sprintf("host%02d.evil.example", i), TLP: intel.TLPGreen,
				Confidence: 50, Reported: epoch, LastSeen: epoch.Add(time.Duration(i) * day), ValidUntil: epoch.Add(time.Duration(i) * day)}
			if i%3 == 0 {
				o.Tags = []string{"malware:emotet"}
				o.TLP = intel.TLPRed
			}
			if i%5 == 0 {
				o.Tags = append(o.Tags, "actor:ta542")
			}
			objs = append(objs, o)
		}
		MustApply(t, s, MustLease(t, s, 1), Page{Source: prodIndicators, Collection: "Alpha", Objects: objs[:20], Cursor: "1"})
		MustApply(t, s, MustLease(t, s, 2), Page{Source: labReports, Collection: "Beta", Objects: objs[20:], Cursor: "1"})
		MustApply(t, s, MustLease(t, s, 3), Page{Source: prodVulns, Collection: "Vulns", Cursor: "1", Objects: []intel.Object{
			{Type: intel.Report, Value: "r1", Name: "Ransomware operators exploit VPN appliances", Description: "Initial access brokers sell access",
				TLP: intel.TLPAmber, Confidence: 80, Reported: epoch},
			{Type: intel.Report, Value: "r2", Name: "Phishing kit update", Description: "Credential harvesting via VPN lures",
				TLP: intel.TLPAmber, Confidence: 80, Reported: epoch},
		}})
		c.Add(10*day + time.Hour)

		tests := []struct {
			name string
			q    Query
			want int64
		}{
			{"all", Query{}, 32},
			{"type", Query{Types: []intel.Type{intel.Domain}}, 30},
			{"two types", Query{Types: []intel.Type{intel.Domain, intel.Report}}, 32},
			{"exact", Query{Value: "host07.evil.example"}, 1},
			{"prefix", Query{ValuePrefix: "host1"}, 10},
			{"prefix with type", Query{Types: []intel.Type{intel.Domain}, ValuePrefix: "host2"}, 10},
			{"substring", Query{ValueContains: "t0"}, 10},
			{"tag", Query{Tags: []string{"malware:emotet"}}, 10},
			{"two tags", Query{Tags: []string{"malware:emotet", "actor:ta542"}}, 2},
			{"collection", Query{Collection: "beta"}, 10},
			{"tlp", Query{TLPs: []intel.TLP{intel.TLPRed}}, 10},
			{"tlp two", Query{TLPs: []intel.TLP{intel.TLPRed, intel.TLPAmber}}, 12},
			{"channel", Query{ChannelID: 2}, 10},
			{"instance", Query{Instance: "prod"}, 22},
			{"last seen range", Query{LastSeenAfter: epoch.Add(5 * day), LastSeenBefore: epoch.Add(15 * day)}, 10},
			{"valid until range", Query{ValidUntilBefore: epoch.Add(3 * day)}, 3},
			{"deprecated", Query{Deprecated: ptr(true)}, 11},
			{"live", Query{Deprecated: ptr(false)}, 21},
			{"modified", Query{ModifiedAfter: epoch.Add(time.Second)}, 0},
			{"text", Query{Text: "vpn"}, 2},
			{"text stemmed, all words", Query{Text: "exploiting appliance"}, 1},
			{"text with operators is plain", Query{Text: `"harvesting" OR NEAR(`}, 0},
			{"combined", Query{Types: []intel.Type{intel.Domain}, Tags: []string{"malware:emotet"}, Collection: "Alpha", Deprecated: ptr(false)}, 3},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := count(t, s, tt.q); got != tt.want {
					t.Errorf("count = %d, want %d", got, tt.want)
				}
				res, err := s.Search(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(res.Objects)) != tt.want {
					t.Errorf("search returned %d objects, want %d", len(res.Objects), tt.want)
				}
			})
		}

		// Keyset pages cover every object once, in id order, even while new objects arrive.
		seen := map[int64]bool{}
		var last int64
		q := Query{Limit: 7}
		for pages := 0; ; pages++ {
			res, err := s.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Objects {
				if seen[o.ID] || o.ID <= last {
					t.Fatalf("object %d twice or out of order", o.ID)
				}
				seen[o.ID], last = true, o.ID
				if len(o.Sources) == 0 || len(o.Collections) == 0 {
					t.Fatalf("object %d returned without sources or collections", o.ID)
				}
			}
			if pages == 1 {
				MustApply(t, s, MustLease(t, s, 4), ipv4Page(intel.Provenance{ChannelID: 4, Instance: "x", Channel: "indicators"}, 0, 3, epoch, "1"))
			}
			if res.Next == "" {
				break
			}
			q.After = res.Next
		}
		if len(seen) != 35 {
			t.Errorf("paged through %d objects, want 35", len(seen))
		}

		for name, q := range map[string]Query{
			"bad cursor": {After: "zzz"},
			"bad limit":  {Limit: 5000},
			"bad type":   {Types: []intel.Type{"btc"}},
			"bad tlp":    {TLPs: []intel.TLP{"pink"}},
			"empty cvss": {CVSSv3: Range{Min: ptr(9.0), Max: ptr(7.0)}},
		} {
			if _, err := s.Search(ctx, q); intel.ErrorCode(err) != intel.EINVALID {
				t.Errorf("%s: %v, want EINVALID", name, err)
			}
		}
	})
}

func vuln(cve string, v2, v3, v4, epss float64, severity, maturity string, products ...intel.ProductRef) intel.Object {
	return intel.Object{Type: intel.Vulnerability, Value: cve, Name: cve + " title", Description: "A flaw in " + cve,
		TLP: intel.TLPAmber, Confidence: 100, Reported: epoch,
		Details: intel.Details{Vulnerability: &intel.VulnerabilityDetail{
			FlashpointID: 400000 + int64(len(cve)), CVEIDs: []string{cve},
			CVSSv2: &intel.CVSS{Version: "2.0", Score: v2}, CVSSv3: &intel.CVSS{Version: "3.1", Score: v3},
			CVSSv4: &intel.CVSS{Version: "4.0", Score: v4}, EPSS: &epss, Severity: severity, ExploitMaturity: maturity,
			Products: products,
		}}}
}

func TestVulnerabilitySearch(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		exchange := intel.ProductRef{Vendor: "Microsoft", Product: "Exchange Server", Versions: []string{"2019 CU12"}}
		windows := intel.ProductRef{Vendor: "Microsoft", Product: "Windows 11"}
		fortios := intel.ProductRef{Vendor: "Fortinet", Product: "FortiOS", CPEs: []string{"cpe:2.3:o:fortinet:fortios:7.2.0:*:*:*:*:*:*:*"}}
		vulns := []intel.Object{
			vuln("CVE-2024-0001", 7.5, 9.8, 9.3, 0.97, "Critical", "high", exchange),
			vuln("CVE-2024-0002", 5.0, 6.1, 5.5, 0.02, "medium", "proof-of-concept", windows, exchange),
			vuln("CVE-2024-0003", 10, 9.1, 8.7, 0.50, "critical", "functional", fortios),
			vuln("CVE-2024-0004", 2.1, 3.3, 2.0, 0.001, "low", "unproven"),
		}
		var objs []intel.Object
		var rels []intel.Relationship
		for _, v := range vulns {
			objs = append(objs, v)
			for _, p := range v.Vulnerability.Products {
				sw := intel.Object{Type: intel.Software, Value: strings.ToLower(p.Vendor + ":" + p.Product), Name: p.Product,
					TLP: intel.TLPAmber, Confidence: 100, Reported: epoch,
					Details: intel.Details{Software: &intel.SoftwareDetail{Vendor: p.Vendor, Product: p.Product, Versions: p.Versions, CPEs: p.CPEs}}}
				objs = append(objs, sw)
				rels = append(rels, intel.Relationship{Source: v.Ref(), Type: intel.RelHas, Target: sw.Ref()})
			}
		}
		got := MustApply(t, s, MustLease(t, s, 3), Page{Source: prodVulns, Collection: "prod Vulnerabilities", Objects: objs, Relationships: rels, Cursor: "v"})
		if got != (Counts{New: 7, Relationships: 4}) {
			t.Errorf("counts = %+v (software shared by two vulnerabilities is one object)", got)
		}

		names := func(q Query) []string {
			t.Helper()
			res, err := s.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, o := range res.Objects {
				out = append(out, o.Value)
			}
			return out
		}
		tests := []struct {
			name string
			q    Query
			want []string
		}{
			{"product partial, any case", Query{Product: "exchange"}, []string{"CVE-2024-0001", "CVE-2024-0002"}},
			{"product", Query{Product: "WINDOWS"}, []string{"CVE-2024-0002"}},
			{"vendor", Query{Vendor: "micro"}, []string{"CVE-2024-0001", "CVE-2024-0002"}},
			{"vendor and product", Query{Vendor: "fortinet", Product: "fortios"}, []string{"CVE-2024-0003"}},
			{"cvss v3 range", Query{CVSSv3: Range{Min: ptr(9.0)}}, []string{"CVE-2024-0001", "CVE-2024-0003"}},
			{"cvss v3 closed range", Query{CVSSv3: Range{Min: ptr(6.1), Max: ptr(9.1)}}, []string{"CVE-2024-0002", "CVE-2024-0003"}},
			{"cvss v2", Query{CVSSv2: Range{Min: ptr(10.0)}}, []string{"CVE-2024-0003"}},
			{"cvss v4", Query{CVSSv4: Range{Max: ptr(5.5)}}, []string{"CVE-2024-0002", "CVE-2024-0004"}},
			{"severity, any case", Query{Severities: []string{"CRITICAL"}}, []string{"CVE-2024-0001", "CVE-2024-0003"}},
			{"epss", Query{EPSS: Range{Min: ptr(0.5)}}, []string{"CVE-2024-0001", "CVE-2024-0003"}},
			{"exploit maturity", Query{ExploitMaturities: []string{"high", "functional"}}, []string{"CVE-2024-0001", "CVE-2024-0003"}},
			{"combined", Query{Vendor: "microsoft", CVSSv3: Range{Min: ptr(7.0)}}, []string{"CVE-2024-0001"}},
			{"text", Query{Text: "flaw", Severities: []string{"low"}}, []string{"CVE-2024-0004"}},
			{"nothing", Query{Product: "nginx"}, nil},
			{"has CVE", Query{HasCVE: ptr(true)}, []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0004"}},
			{"without CVE", Query{HasCVE: ptr(false)}, nil},
			{"by CVSS v3, highest first", Query{Sort: "-cvss3"}, []string{"CVE-2024-0001", "CVE-2024-0003", "CVE-2024-0002", "CVE-2024-0004"}},
			{"by EPSS, filtered", Query{Sort: "-epss", Vendor: "microsoft"}, []string{"CVE-2024-0001", "CVE-2024-0002"}},
			{"TLP cap below amber", Query{Types: []intel.Type{intel.Vulnerability}, MaxTLP: intel.TLPGreen}, nil},
			{"TLP cap at amber", Query{Product: "exchange", MaxTLP: intel.TLPAmber}, []string{"CVE-2024-0001", "CVE-2024-0002"}},
		}
		for _, tt := range tests {
			if d := cmp.Diff(tt.want, names(tt.q)); d != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, d)
			}
		}

		// A sorted search pages with its own cursor, each object once (ties,
		// here unknown publication times, in id order).
		for sort, want := range map[string][]string{
			"-cvss2":    {"CVE-2024-0003", "CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0004"},
			"cvss3":     {"CVE-2024-0004", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0001"},
			"published": {"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0004"},
		} {
			var paged []string
			q := Query{Sort: sort, Limit: 1}
			for range 10 {
				res, err := s.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range res.Objects {
					paged = append(paged, o.Value)
				}
				if res.Next == "" {
					break
				}
				q.After = res.Next
			}
			if d := cmp.Diff(want, paged); d != "" {
				t.Errorf("paged by %s (-want +got):\n%s", sort, d)
			}
		}
		for _, bad := range []Query{{Sort: "cvss"}, {Sort: "-cvss3", After: "o12"}, {After: "s1_2"}} {
			if _, err := s.Search(ctx, bad); intel.ErrorCode(err) != intel.EINVALID {
				t.Errorf("%+v: %v, want EINVALID", bad, err)
			}
		}

		// Every product at once, and the vulnerabilities of some of them (CMDB matching).
		prods, err := s.Products(ctx)
		if err != nil || len(prods) != 3 {
			t.Fatalf("products: %+v %v", prods, err)
		}
		var exID int64
		for _, p := range prods {
			if p.Vendor == "microsoft" && p.Product == "exchange server" {
				exID = p.ID
			}
		}
		vs, err := s.VulnerabilitiesOf(ctx, []int64{exID}, "")
		var ofExchange []string
		for _, v := range vs {
			ofExchange = append(ofExchange, v.Value)
			if v.Vulnerability == nil || len(v.Vulnerability.Products) == 0 {
				t.Errorf("%s without its products", v.Value)
			}
		}
		slices.Sort(ofExchange)
		if err != nil || !slices.Equal(ofExchange, []string{"CVE-2024-0001", "CVE-2024-0002"}) {
			t.Errorf("vulnerabilities of Exchange: %v %v", ofExchange, err)
		}
		if vs, err := s.VulnerabilitiesOf(ctx, []int64{exID}, intel.TLPGreen); err != nil || len(vs) != 0 {
			t.Errorf("capped at green: %d %v", len(vs), err)
		}

		// Which products a vulnerability affects, and which vulnerabilities a product has.
		v1, err := s.GetByRef(ctx, intel.Ref{Type: intel.Vulnerability, Value: "CVE-2024-0001"})
		if err != nil {
			t.Fatal(err)
		}
		if v1.Vulnerability == nil || v1.Vulnerability.CVSSv3.Score != 9.8 || *v1.Vulnerability.EPSS != 0.97 {
			t.Errorf("details not kept: %+v", v1.Vulnerability)
		}
		rel, err := s.Related(ctx, v1.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(rel) != 1 || rel[0].Relationship != "has" || rel[0].Object.Value != "microsoft:exchange server" {
			t.Errorf("related to CVE-2024-0001: %+v", rel)
		}
		ex, err := s.GetByRef(ctx, intel.Ref{Type: intel.Software, Value: "microsoft:exchange server"})
		if err != nil {
			t.Fatal(err)
		}
		rel, err = s.Related(ctx, ex.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		var back []string
		for _, r := range rel {
			back = append(back, r.Relationship+" "+r.Object.Value)
		}
		if d := cmp.Diff([]string{"affected-by CVE-2024-0001", "affected-by CVE-2024-0002"}, back); d != "" {
			t.Errorf("related to Exchange (-want +got):\n%s", d)
		}
		cols, err := s.Collections(ctx)
		if err != nil || len(cols) != 1 || cols[0].Name != "prod Vulnerabilities" || cols[0].Objects != 7 {
			t.Errorf("collections = %+v, %v", cols, err)
		}
		for tlp, want := range map[intel.TLP]int64{intel.TLPGreen: 0, intel.TLPAmber: 7, intel.TLPRed: 7} {
			cols, err := s.CollectionsUpTo(ctx, tlp)
			if err != nil || len(cols) != 1 || cols[0].Objects != want {
				t.Errorf("collections up to %s = %+v, %v; want %d objects", tlp, cols, err, want)
			}
		}
	})
}

// Replicas that start together migrate once: the session lock serialises them.
func TestConcurrentMigrations(t *testing.T) {
	dsn := NewPostgresDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), Options{DSN: dsn})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Options{}); intel.ErrorCode(err) != intel.EINVALID {
		t.Errorf("no DSN: %v", err)
	}
	if _, err := Open(ctx, Options{DSN: ":memory:"}); err == nil || !strings.Contains(err.Error(), "file path") {
		t.Errorf("in-memory SQLite: %v", err)
	}
	_, err := Open(ctx, Options{DSN: "postgres://flint:s3cret-pw@127.0.0.1:1/x?connect_timeout=2"})
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("unreachable PostgreSQL: %v (the password must not appear)", err)
	}
}

// More distinct statement texts than the statement cache holds, from many
// goroutines at once: none fails (a full cache runs texts unprepared and
// never closes a statement in use).
func TestManyStatementTextsConcurrently(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		MustApply(t, s, MustLease(t, s, 1), ipv4Page(prodIndicators, 0, 50, epoch, "c1"))
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 1 + g; n <= stmtCacheMax+60; n += 8 {
					values := make([]string, n)
					for i := range values {
						values[i] = fmt.Sprintf("198.51.100.%d", i%256)
					}
					res, err := s.Lookup(ctx, values)
					if err != nil {
						errs <- fmt.Errorf("lookup of %d values: %w", n, err)
						return
					}
					if len(res) != n {
						errs <- fmt.Errorf("lookup of %d values: %d answers", n, len(res))
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// A statement handed out stays usable however many texts come after it.
func TestStatementCacheNeverClosesAStatementInUse(t *testing.T) {
	s := MustOpen(t, Options{DSN: filepath.Join(t.TempDir(), "flint.db")})
	ctx := context.Background()
	var c stmtCache
	first, err := c.get(ctx, s.rdb, `SELECT 0`)
	if err != nil || first == nil {
		t.Fatal(err)
	}
	for i := 1; i <= stmtCacheMax+10; i++ {
		st, err := c.get(ctx, s.rdb, fmt.Sprintf(`SELECT %d`, i))
		if err != nil {
			t.Fatal(err)
		}
		if (st == nil) != (i >= stmtCacheMax) {
			t.Fatalf("text %d: cached %v with the cache at %d", i, st != nil, len(c.m))
		}
	}
	var n int
	if err := first.QueryRowContext(ctx).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the first statement after the cache filled: %v", err)
	}
	c.close()
}

// A bulk lookup is answered in shards; the answers keep the order asked.
func TestBulkLookupInOrder(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		lease := MustLease(t, s, 1)
		for from := 0; from < 3000; from += 500 {
			MustApply(t, s, lease, ipv4Page(prodIndicators, from, 500, epoch, fmt.Sprint(from)))
		}
		want := ipv4Page(prodIndicators, 0, 3000, epoch, "").Objects
		values := make([]string, 0, 6000)
		for i := range 3000 {
			values = append(values, want[i].Value, fmt.Sprintf("203.0.113.%d", i%250)) // known, unknown
		}
		res, err := s.Lookup(context.Background(), values)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != len(values) {
			t.Fatalf("%d answers for %d values", len(res), len(values))
		}
		for i, r := range res {
			known := i%2 == 0
			if r.Query != values[i] || r.Found != known || (known && (r.Object == nil || r.Object.Value != values[i] || len(r.Object.Sources) != 1)) {
				t.Fatalf("answer %d for %q: %+v", i, values[i], r)
			}
		}
	})
}

// Text no database takes is refused by name before it reaches one (on
// PostgreSQL a NUL byte in text is an error; in FTS5 it ends the query).
func TestSearchRefusesControlCharacters(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		for _, q := range []Query{{Text: "a\x00b"}, {ValueContains: "\xff"}, {Product: "x\x00"}, {Tags: []string{"\x01"}}} {
			_, err := s.Search(context.Background(), q)
			if intel.ErrorCode(err) != intel.EINVALID || len(intel.Fields(err)) != 1 {
				t.Errorf("%+v: %v, want EINVALID naming the field", q, err)
			}
		}
		if _, err := s.Search(context.Background(), Query{Text: `" OR NEAR( *`}); err != nil {
			t.Errorf("FTS syntax as plain text: %v", err)
		}
	})
}

// A lookup finds a vulnerability by its CVE id (any case) or, when it has
// none, by its title; other text stays invalid, saying it is neither.
func TestLookupVulnerabilities(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		titled := vuln("Acme Portal login.php SQL Injection", 5, 6, 6, 0.1, "medium", "unproven")
		titled.Name, titled.Vulnerability.CVEIDs = titled.Value, nil
		MustApply(t, s, MustLease(t, s, 3), Page{Source: prodVulns, Collection: "prod Vulnerabilities", Cursor: "v",
			Objects: []intel.Object{vuln("CVE-2024-0001", 7.5, 9.8, 9.3, 0.97, "critical", "high"), titled}})
		res, err := s.Lookup(context.Background(), []string{"cve-2024-0001", " CVE-2024-0001 ", "Acme Portal login.php SQL Injection",
			"CVE-2024-9999", "no such vulnerability title"})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{true, true, true, false, false} {
			if res[i].Found != want {
				t.Errorf("%q: found %v, want %v (%+v)", res[i].Query, res[i].Found, want, res[i])
			}
		}
		if res[0].Type != intel.Vulnerability || res[0].Value != "CVE-2024-0001" || res[2].Object == nil || res[2].Object.Value != titled.Value {
			t.Errorf("answers %+v / %+v", res[0], res[2])
		}
		if res[3].Type != intel.Vulnerability || res[3].Error != "" {
			t.Errorf("an unknown CVE id is a vulnerability not found, not an invalid value: %+v", res[3])
		}
		if !strings.Contains(res[4].Error, "nor a known vulnerability title") {
			t.Errorf("free text: %+v", res[4])
		}
	})
}

// A hash carried by an object that is no file (an extracted config, say)
// finds that object in a lookup.
func TestLookupHashesOfOtherObjects(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		md5, sha1 := strings.Repeat("e1", 16), strings.Repeat("f2", 20)
		cfg := intel.Object{Type: intel.ExtractedConfig, Value: `{"c2":"evil.example"}`, TLP: intel.TLPAmber, Confidence: 80, Reported: epoch,
			Details: intel.Details{Hashes: map[intel.HashAlgo]string{intel.MD5: md5, intel.SHA1: strings.ToUpper(sha1)}}}
		MustApply(t, s, MustLease(t, s, 1), Page{Source: prodIndicators, Collection: "prod Indicators", Objects: []intel.Object{cfg}, Cursor: "x"})
		res, err := s.Lookup(context.Background(), []string{md5, sha1})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if !r.Found || r.Object.Type != intel.ExtractedConfig {
				t.Errorf("%s: %+v", r.Query, r)
			}
		}
	})
}

// A search by vendor finds a vulnerability through a vendor-only software
// object (a vendor of the record that none of its products names).
func TestVendorOnlySoftware(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		v := vuln("CVE-2026-0007", 5, 6, 6, 0.1, "medium", "unproven")
		sw := intel.Object{Type: intel.Software, Value: "initech:", Name: "Initech", TLP: intel.TLPAmber, Confidence: 100, Reported: epoch,
			Details: intel.Details{Software: &intel.SoftwareDetail{Vendor: "Initech"}}}
		MustApply(t, s, MustLease(t, s, 3), Page{Source: prodVulns, Collection: "prod Vulnerabilities", Cursor: "v",
			Objects: []intel.Object{v, sw}, Relationships: []intel.Relationship{{Source: v.Ref(), Type: intel.RelHas, Target: sw.Ref()}}})
		res, err := s.Search(context.Background(), Query{Vendor: "initech"})
		if err != nil || len(res.Objects) != 1 || res.Objects[0].Value != "CVE-2026-0007" {
			t.Errorf("vendor search: %+v %v", res.Objects, err)
		}
		if res, err := s.Search(context.Background(), Query{Product: "initech"}); err != nil || len(res.Objects) != 0 {
			t.Errorf("a vendor-only entry matched a product search: %+v %v", res.Objects, err)
		}
	})
}
