package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/flintcti/flint/internal/bench"
)

// BenchCmd groups the benchmarks.
type BenchCmd struct {
	Fetch     BenchFetchCmd     `cmd:"" help:"Fetch indicators from a simulator on loopback and report the rate and peak memory."`
	Store     BenchStoreCmd     `cmd:"" help:"Load the store with indicators and vulnerabilities; report write rates, lookup and search latency and size."`
	Ingest    BenchIngestCmd    `cmd:"" help:"Ingest indicators from a simulator into the store, end to end, next to the fetch-only rate."`
	API       BenchAPICmd       `cmd:"" name:"api" help:"Measure the REST API over HTTP: single lookups at a fixed rate, bulk lookups, vulnerability search."`
	Vulns     BenchVulnsCmd     `cmd:"" name:"vulns" help:"Backfill vulnerabilities with premium detail from a simulator at a rate limit, then read them again unchanged: requests and time."`
	Exposures BenchExposuresCmd `cmd:"" name:"exposures" help:"Backfill vulnerabilities into a fresh store without and with a stored inventory matched beside the poll, as serve does: the time matching adds."`
	Outlets   BenchOutletsCmd   `cmd:"" name:"outlets" help:"Serve a blocklist of every indicator, refresh it conditionally, and export everything as STIX, over HTTP."`
	Console   BenchConsoleCmd   `cmd:"" name:"console" help:"Time the console's pages (p50, p99, weight) on a large store."`
}

// BenchFetchCmd measures the client alone: the simulator runs in a child
// process so the peak RSS reported is the client's.
type BenchFetchCmd struct {
	Indicators int     `default:"1000000" help:"Indicators to fetch."`
	PageSize   int     `default:"1000" help:"Page size (at most 1000, 500 with --embed)."`
	Embed      bool    `help:"Ask for embed=all."`
	SimURL     string  `name:"sim-url" help:"Use this running simulator instead of starting one."`
	Token      string  `default:"flint-sim-token" help:"Token for --sim-url."`
	Rate       float64 `default:"-1" help:"Client rate limit in requests/s (-1: none)."`
}

// Run runs the benchmark.
func (c *BenchFetchCmd) Run(ctx context.Context, e *env) error {
	res, err := bench.Fetch(ctx, bench.FetchConfig{Indicators: c.Indicators, PageSize: c.PageSize, Embed: c.Embed, SimURL: c.SimURL,
		Token: c.Token, Rate: c.Rate}, e.bench("fetch"))
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "fetched %d indicators (%d invalid) in %d pages in %.1f s: %.0f indicators/s; peak RSS %.0f MB (client only)\n",
		res.Indicators, res.Invalid, res.Pages, res.Seconds, res.PerSecond, res.PeakRSSMB)
	fmt.Fprintf(e.stdout, "decode on one core: %.0f indicators/s, %.1f allocations per indicator\n", res.DecodePerSecond, res.DecodeAllocs)
	return nil
}

// bench is the benchmarks' environment from the global flags; progress
// goes to standard error, prefixed with the benchmark's name.
func (e *env) bench(name string) bench.Env {
	return bench.Env{DB: e.g.DB, DataDir: e.g.DataDir, Log: e.log, Version: Version,
		Progress: func(msg string) { fmt.Fprintf(e.stderr, "bench %s: %s\n", name, msg) }}
}

// BenchOutletsCmd measures the outlets over HTTP.
type BenchOutletsCmd struct {
	Indicators  int  `default:"1000000" help:"Indicators to store."`
	Conditional int  `default:"200" help:"Conditional refreshes (304) to time."`
	Keep        bool `help:"Keep the temporary SQLite file (and reuse it with --db next time)."`
}

// Run runs the benchmark.
func (c *BenchOutletsCmd) Run(ctx context.Context, e *env) error {
	res, err := bench.Outlets(ctx, bench.OutletsConfig{Indicators: c.Indicators, Conditional: c.Conditional, Keep: c.Keep}, e.bench("outlets"))
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "blocklist of %d entries: first byte %.1f ms, whole %.2f s; 304 p50 %.2f ms, p99 %.2f ms\n",
		res.ListEntries, res.ListFirstByteMs, res.ListWholeSeconds, res.NotModifiedP50Ms, res.NotModifiedP99Ms)
	fmt.Fprintf(e.stdout, "STIX export of %d indicators: %d STIX objects in %.1f s (%.0f indicators/s); server RSS grew %.0f MB while streaming (peak %.0f MB)\n",
		res.Indicators, res.ExportObjects, res.ExportSeconds, res.ExportPerSecond, res.ExportRSSGrowthMB, res.ServerPeakRSSMB)
	fmt.Fprintf(e.stdout, "TAXII walk by next: %d objects in %d pages in %.1f s (%.0f objects/s); page of 1,000 p50 %.1f ms, p99 %.1f ms; objects/{id} %.1f ms (the STIX id index built in %.1f s beforehand)\n",
		res.TAXIIObjects, res.TAXIIPages, res.TAXIISeconds, res.TAXIIPerSecond, res.TAXIIPageP50Ms, res.TAXIIPageP99Ms, res.TAXIIByIDMs, res.TAXIIIndexSecond)
	return nil
}

// BenchConsoleCmd times the console's pages.
type BenchConsoleCmd struct {
	Indicators      int  `default:"1000000" help:"Indicators to store."`
	Vulnerabilities int  `default:"300000" help:"Vulnerabilities to store."`
	Requests        int  `default:"100" help:"Timed requests per page."`
	Keep            bool `help:"Keep the temporary SQLite file (and reuse it with --db next time)."`
}

// Run runs the benchmark.
func (c *BenchConsoleCmd) Run(ctx context.Context, e *env) error {
	res, err := bench.Console(ctx, bench.ConsoleConfig{Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities, Requests: c.Requests, Keep: c.Keep},
		e.bench("console"))
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "console on %d indicators and %d vulnerabilities (%d requests a page):\n", res.Indicators, res.Vulnerabilities, c.Requests)
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PAGE\tP50 MS\tP99 MS\tBYTES")
	for _, p := range res.Pages {
		fmt.Fprintf(w, "%s\t%.1f\t%.1f\t%d\n", p.Page, p.P50Ms, p.P99Ms, p.Bytes)
	}
	return w.Flush()
}
