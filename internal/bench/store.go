package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/bench/gen"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// StoreConfig configures the store benchmark: write rates of new and
// unchanged indicators, exact lookups among them, and vulnerability
// searches by product name and CVSS range.
type StoreConfig struct {
	Indicators      int // to store (a quarter each IPv4, domain, URL, SHA-256)
	Vulnerabilities int // to store, each affecting one to three products
	Reread          int // indicators to re-read unchanged
	Lookups         int // exact lookups to time (one value each, 10% unknown)
	Searches        int // searches of each kind to time
}

// StoreResult is what the store benchmark measures.
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

// pageLen is the number of objects per page the store benchmark writes.
const pageLen = 500

// indicatorValue is the value of the i-th indicator the store benchmark
// writes.
func indicatorValue(i int) string {
	return gen.Indicator(i, gen.Epoch, gen.Mixed...).Value
}

// Store runs the store benchmark on s, in process.
func Store(ctx context.Context, s *store.Store, c StoreConfig, env Env) (StoreResult, error) {
	res := StoreResult{Dialect: string(s.Dialect()), Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities}
	src := intel.Provenance{ChannelID: 1, Instance: "bench", Channel: "indicators"}
	lease, err := s.AcquireLease(ctx, 1, "bench", time.Hour)
	if err != nil {
		return res, err
	}
	page := func(from, n int) store.Page {
		p := store.Page{Source: src, Collection: "bench Indicators", Cursor: fmt.Sprint(from + n), Objects: make([]intel.Object, 0, n)}
		for i := from; i < from+n; i++ {
			p.Objects = append(p.Objects, gen.Indicator(i, gen.Epoch.Add(time.Duration(i)*time.Second), gen.Mixed...))
		}
		return p
	}
	start, last := time.Now(), time.Now()
	for i := 0; i < c.Indicators; i += pageLen {
		if _, err := s.ApplyPage(ctx, lease, page(i, min(pageLen, c.Indicators-i))); err != nil {
			return res, err
		}
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			env.progress("%d indicators stored (%.0f/s)", i+pageLen, float64(i+pageLen)/time.Since(start).Seconds())
		}
	}
	res.NewPerSecond = float64(c.Indicators) / time.Since(start).Seconds()
	if err := s.Optimize(ctx); err != nil {
		return res, err
	}

	reread := min(c.Reread, c.Indicators)
	start = time.Now()
	for i := 0; i < reread; i += pageLen {
		counts, err := s.ApplyPage(ctx, lease, page(i, min(pageLen, reread-i)))
		if err != nil {
			return res, err
		}
		if counts.Unchanged != min(pageLen, reread-i) {
			return res, fmt.Errorf("bench: re-read page at %d: %+v, want all unchanged", i, counts)
		}
	}
	res.UnchangedPerSecond = float64(reread) / time.Since(start).Seconds()

	size, err := s.Size(ctx)
	if err != nil {
		return res, err
	}
	res.BytesPerMillion = float64(size) * 1e6 / float64(max(1, c.Indicators))

	r := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, c.Lookups)
	for k := 0; k < c.Lookups; k++ {
		v := indicatorValue(r.IntN(max(1, c.Indicators)))
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
	env.progress("indicators: %.0f new/s, %.0f unchanged/s, lookup p99 %.0f µs", res.NewPerSecond, res.UnchangedPerSecond, res.LookupP99Micros)

	vsrc := intel.Provenance{ChannelID: 2, Instance: "bench", Channel: "vulnerabilities"}
	vlease, err := s.AcquireLease(ctx, 2, "bench", time.Hour)
	if err != nil {
		return res, err
	}
	start = time.Now()
	for i := 0; i < c.Vulnerabilities; i += pageLen {
		p := store.Page{Source: vsrc, Collection: "bench Vulnerabilities", Cursor: fmt.Sprint(i)}
		for j := i; j < min(i+pageLen, c.Vulnerabilities); j++ {
			v, sw, rels := gen.Vulnerability(j, r)
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
		return store.Query{Product: gen.ProductWords(r.IntN(gen.Products))}
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
		return store.Query{Vendor: strings.ToLower(gen.Vendors[k%len(gen.Vendors)]), CVSSv3: store.Range{Min: f(9)}}
	})
	if err != nil {
		return res, err
	}
	res.ProductSearchP50Ms, res.ProductSearchP99Ms = ms(pct(prod, 50)), ms(pct(prod, 99))
	res.CVSSSearchP50Ms, res.CVSSSearchP99Ms = ms(pct(cvss, 50)), ms(pct(cvss, 99))
	res.VendorCVSSSearchP99Ms = ms(pct(both, 99))
	return res, nil
}
