package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// BenchStoreCmd measures the store in process: write rates of new and
// unchanged indicators, exact lookups among a million, and vulnerability
// searches by product name and CVSS range, on SQLite or PostgreSQL.
type BenchStoreCmd struct {
	Indicators      int    `default:"1000000" help:"Indicators to store."`
	Vulnerabilities int    `default:"300000" help:"Vulnerabilities to store (each affects one to three products)."`
	Reread          int    `default:"100000" help:"Indicators to re-read unchanged."`
	Lookups         int    `default:"20000" help:"Exact lookups to time (one value each, 10% unknown)."`
	Searches        int    `default:"200" help:"Searches of each kind to time."`
	Keep            bool   `help:"Keep the temporary SQLite file."`
	CPUProfile      string `name:"cpuprofile" help:"Write a CPU profile of the run to this file."`
}

// StoreResult is what bench store measures.
type StoreResult struct {
	Dialect               string  `json:"dialect"`
	Indicators            int     `json:"indicators"`
	NewPerSecond          float64 `json:"new_indicators_per_second"`
	UnchangedPerSecond    float64 `json:"unchanged_indicators_per_second"`
	LookupP50Micros       float64 `json:"lookup_p50_us"`
	LookupP99Micros       float64 `json:"lookup_p99_us"`
	BytesPerMillion       float64 `json:"bytes_per_million_indicators"`
	Vulnerabilities       int     `json:"vulnerabilities"`
	VulnPerSecond         float64 `json:"vulnerabilities_per_second"`
	ProductSearchP50Ms    float64 `json:"product_search_p50_ms"`
	ProductSearchP99Ms    float64 `json:"product_search_p99_ms"`
	CVSSSearchP50Ms       float64 `json:"cvss_search_p50_ms"`
	CVSSSearchP99Ms       float64 `json:"cvss_search_p99_ms"`
	VendorCVSSSearchP99Ms float64 `json:"vendor_cvss_search_p99_ms"`
}

// Run runs the benchmark.
func (c *BenchStoreCmd) Run(ctx context.Context, e *env) error {
	dsn := e.g.DB // the global --db; by default a fresh SQLite file in a temporary directory
	if dsn == "" {
		dir, err := os.MkdirTemp("", "flint-bench-store-")
		if err != nil {
			return err
		}
		if !c.Keep {
			defer os.RemoveAll(dir)
		}
		dsn = filepath.Join(dir, "flint.db")
		fmt.Fprintf(e.stderr, "bench store: SQLite file %s\n", dsn)
	}
	stopProfile, err := startProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	s, err := store.Open(ctx, store.Options{DSN: dsn, Logger: e.log})
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := BenchStore(ctx, s, c, func(msg string) { fmt.Fprintln(e.stderr, "bench store: "+msg) })
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "%s: %d indicators: %.0f new/s, %.0f unchanged/s; lookup p50 %.0f µs, p99 %.0f µs; %.0f MB per million indicators\n",
		res.Dialect, res.Indicators, res.NewPerSecond, res.UnchangedPerSecond, res.LookupP50Micros, res.LookupP99Micros, res.BytesPerMillion/1e6)
	fmt.Fprintf(e.stdout, "%s: %d vulnerabilities (%.0f/s): product search p50 %.1f ms, p99 %.1f ms; CVSS v3 range p50 %.1f ms, p99 %.1f ms; vendor+CVSS p99 %.1f ms\n",
		res.Dialect, res.Vulnerabilities, res.VulnPerSecond, res.ProductSearchP50Ms, res.ProductSearchP99Ms, res.CVSSSearchP50Ms, res.CVSSSearchP99Ms, res.VendorCVSSSearchP99Ms)
	return nil
}

const benchPage = 500

var benchEpoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// benchIndicator is the i-th indicator: a distinct IPv4, domain, URL or
// SHA-256 with the tags, score and times of a Flashpoint indicator.
func benchIndicator(i int) intel.Object {
	var t intel.Type
	var v string
	switch i % 4 {
	case 0:
		t, v = intel.IPv4, fmt.Sprintf("%d.%d.%d.%d", 11+(i>>24)&63, (i>>16)&255, (i>>8)&255, i&255)
	case 1:
		t, v = intel.Domain, fmt.Sprintf("host-%d.example-%d.com", i, i%9973)
	case 2:
		t, v = intel.URL, fmt.Sprintf("http://cdn-%d.example.net/path/%d/payload.bin", i%7919, i)
	default:
		t, v = intel.File, fmt.Sprintf("%016x%016x%016x%016x", uint64(i)*0x9e3779b97f4a7c15, uint64(i), uint64(i)^0xabcdef, uint64(i)*31)
	}
	reported := benchEpoch.Add(time.Duration(i) * time.Second)
	return intel.Object{Type: t, Value: v, TLP: intel.TLPAmber, Confidence: 80, Score: intel.ScoreMalicious,
		Tags:      []string{"malware:emotet", "source:flashpoint", "type:loader"},
		FirstSeen: reported.Add(-time.Hour), LastSeen: reported, Reported: reported,
		ValidUntil: reported.Add(90 * 24 * time.Hour), OriginalID: fmt.Sprintf("ind-%09d", i)}
}

var benchVendors = []string{"Microsoft", "Apple", "Google", "Oracle", "Cisco", "Adobe", "IBM", "Fortinet", "Palo Alto Networks", "VMware",
	"Citrix", "SAP", "Atlassian", "Ivanti", "Juniper", "F5", "Mozilla", "Apache", "Linux", "Red Hat"}

var benchProducts = []string{"Server", "Client", "Gateway", "Manager", "Agent", "Portal", "Studio", "Exchange", "Office", "Browser",
	"Firewall", "VPN", "Database", "Router", "Switch", "Kernel", "Runtime", "Console", "Connect", "Workspace"}

// benchProduct returns one of 20 × 20 × 25 = 10,000 products.
func benchProduct(j int) (string, string) {
	j %= 10000
	return benchVendors[j%20], fmt.Sprintf("%s %s %d", benchVendors[j%20], benchProducts[(j/20)%20], j/400)
}

func benchVulnerability(i int, r *rand.Rand) (intel.Object, []intel.Object, []intel.Relationship) {
	cve := fmt.Sprintf("CVE-%d-%05d", 2000+i/100000, i%100000)
	v3, v2, v4, epss := float64(r.IntN(101))/10, float64(r.IntN(101))/10, float64(r.IntN(101))/10, r.Float64()
	sev := []string{"none", "low", "medium", "high", "critical"}[min(4, int(v3/2.25))]
	o := intel.Object{Type: intel.Vulnerability, Value: cve, Name: "Flaw " + cve, Description: "A vulnerability in a product.",
		TLP: intel.TLPAmber, Confidence: 100, Reported: benchEpoch.Add(time.Duration(i) * time.Second),
		Details: intel.Details{Vulnerability: &intel.VulnerabilityDetail{FlashpointID: int64(400000 + i), CVEIDs: []string{cve},
			CVSSv2: &intel.CVSS{Version: "2.0", Score: v2}, CVSSv3: &intel.CVSS{Version: "3.1", Score: v3}, CVSSv4: &intel.CVSS{Version: "4.0", Score: v4},
			EPSS: &epss, Severity: sev, ExploitMaturity: []string{"unproven", "proof-of-concept", "functional", "high"}[r.IntN(4)]}}}
	var sw []intel.Object
	var rels []intel.Relationship
	for k := 0; k < 1+r.IntN(3); k++ {
		vendor, product := benchProduct(r.IntN(10000))
		s := intel.Object{Type: intel.Software, Value: strings.ToLower(vendor + ":" + product), Name: product, TLP: intel.TLPAmber,
			Confidence: 100, Reported: benchEpoch, Details: intel.Details{Software: &intel.SoftwareDetail{Vendor: vendor, Product: product}}}
		sw = append(sw, s)
		rels = append(rels, intel.Relationship{Source: o.Ref(), Type: intel.RelHas, Target: s.Ref()})
	}
	return o, sw, rels
}

// BenchStore runs the store benchmark on s.
func BenchStore(ctx context.Context, s *store.Store, c *BenchStoreCmd, progress func(string)) (StoreResult, error) {
	res := StoreResult{Dialect: string(s.Dialect()), Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities}
	src := intel.Provenance{ChannelID: 1, Instance: "bench", Channel: "indicators"}
	lease, err := s.AcquireLease(ctx, 1, "bench", time.Hour)
	if err != nil {
		return res, err
	}
	page := func(from, n int) store.Page {
		p := store.Page{Source: src, Collection: "bench Indicators", Cursor: fmt.Sprint(from + n), Objects: make([]intel.Object, 0, n)}
		for i := from; i < from+n; i++ {
			p.Objects = append(p.Objects, benchIndicator(i))
		}
		return p
	}
	start, last := time.Now(), time.Now()
	for i := 0; i < c.Indicators; i += benchPage {
		if _, err := s.ApplyPage(ctx, lease, page(i, min(benchPage, c.Indicators-i))); err != nil {
			return res, err
		}
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			progress(fmt.Sprintf("%d indicators stored (%.0f/s)", i+benchPage, float64(i+benchPage)/time.Since(start).Seconds()))
		}
	}
	res.NewPerSecond = float64(c.Indicators) / time.Since(start).Seconds()
	if err := s.Optimize(ctx); err != nil {
		return res, err
	}

	reread := min(c.Reread, c.Indicators)
	start = time.Now()
	for i := 0; i < reread; i += benchPage {
		counts, err := s.ApplyPage(ctx, lease, page(i, min(benchPage, reread-i)))
		if err != nil {
			return res, err
		}
		if counts.Unchanged != min(benchPage, reread-i) {
			return res, fmt.Errorf("bench: re-read page at %d: %+v, want all unchanged", i, counts)
		}
	}
	res.UnchangedPerSecond = float64(reread) / time.Since(start).Seconds()

	if res.BytesPerMillion, err = dbSize(ctx, s); err != nil {
		return res, err
	}
	res.BytesPerMillion = res.BytesPerMillion * 1e6 / float64(max(1, c.Indicators))

	r := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, c.Lookups)
	for k := 0; k < c.Lookups; k++ {
		v := benchIndicator(r.IntN(max(1, c.Indicators))).Value
		unknown := k%10 == 0
		if unknown {
			v = fmt.Sprintf("203.0.113.%d", k%250)
		}
		t0 := time.Now()
		out, err := s.Lookup(ctx, []string{v})
		lat = append(lat, time.Since(t0))
		if err != nil {
			return res, err
		}
		if out[0].Found == unknown && c.Indicators > 0 {
			return res, fmt.Errorf("bench: lookup %q found=%v", v, out[0].Found)
		}
	}
	res.LookupP50Micros, res.LookupP99Micros = pct(lat, 50).Seconds()*1e6, pct(lat, 99).Seconds()*1e6
	progress(fmt.Sprintf("indicators: %.0f new/s, %.0f unchanged/s, lookup p99 %.0f µs", res.NewPerSecond, res.UnchangedPerSecond, res.LookupP99Micros))

	vsrc := intel.Provenance{ChannelID: 2, Instance: "bench", Channel: "vulnerabilities"}
	vlease, err := s.AcquireLease(ctx, 2, "bench", time.Hour)
	if err != nil {
		return res, err
	}
	start = time.Now()
	for i := 0; i < c.Vulnerabilities; i += benchPage {
		p := store.Page{Source: vsrc, Collection: "bench Vulnerabilities", Cursor: fmt.Sprint(i)}
		for j := i; j < min(i+benchPage, c.Vulnerabilities); j++ {
			v, sw, rels := benchVulnerability(j, r)
			p.Objects = append(append(p.Objects, v), sw...)
			p.Relationships = append(p.Relationships, rels...)
		}
		if _, err := s.ApplyPage(ctx, vlease, p); err != nil {
			return res, err
		}
	}
	res.VulnPerSecond = float64(c.Vulnerabilities) / time.Since(start).Seconds()
	if err := s.Optimize(ctx); err != nil {
		return res, err
	}
	timeSearch := func(q func(k int) store.Query) ([]time.Duration, error) {
		var out []time.Duration
		for k := 0; k < c.Searches; k++ {
			t0 := time.Now()
			if _, err := s.Search(ctx, q(k)); err != nil {
				return nil, err
			}
			out = append(out, time.Since(t0))
		}
		return out, nil
	}
	f := func(v float64) *float64 { return &v }
	prod, err := timeSearch(func(k int) store.Query {
		_, product := benchProduct(r.IntN(10000))
		words := strings.Fields(product)
		return store.Query{Product: strings.ToLower(words[len(words)-2] + " " + words[len(words)-1])} // e.g. "exchange 7"
	})
	if err != nil {
		return res, err
	}
	cvss, err := timeSearch(func(k int) store.Query {
		lo := float64(r.IntN(90)) / 10
		return store.Query{CVSSv3: store.Range{Min: f(lo), Max: f(lo + 1)}}
	})
	if err != nil {
		return res, err
	}
	both, err := timeSearch(func(k int) store.Query {
		return store.Query{Vendor: strings.ToLower(benchVendors[k%20]), CVSSv3: store.Range{Min: f(9)}}
	})
	if err != nil {
		return res, err
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 }
	res.ProductSearchP50Ms, res.ProductSearchP99Ms = ms(pct(prod, 50)), ms(pct(prod, 99))
	res.CVSSSearchP50Ms, res.CVSSSearchP99Ms = ms(pct(cvss, 50)), ms(pct(cvss, 99))
	res.VendorCVSSSearchP99Ms = ms(pct(both, 99))
	return res, nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// dbSize returns the database's size on disk in bytes.
func dbSize(ctx context.Context, s *store.Store) (float64, error) {
	n, err := s.Size(ctx)
	return float64(n), err
}
