package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flintcti/flint/internal/bench"
)

// BenchAPICmd measures the REST API over HTTP: the store is loaded like
// bench store, `flint serve` runs on it as a child process, and this
// process is the load generator.
type BenchAPICmd struct {
	Indicators      int           `default:"1000000" help:"Indicators to store."`
	Vulnerabilities int           `default:"300000" help:"Vulnerabilities to store."`
	Rate            int           `default:"1000" help:"Single lookups per second, sent open-loop."`
	Duration        time.Duration `default:"20s" help:"How long to send single lookups."`
	Bulk            int           `default:"10" help:"Bulk lookups of 10,000 values to time."`
	Searches        int           `default:"100" help:"Vulnerability searches by product to time."`
	Keep            bool          `help:"Keep the temporary SQLite file (and reuse it with --db next time)."`
}

// Run runs the benchmark.
func (c *BenchAPICmd) Run(ctx context.Context, e *env) error {
	res, err := bench.API(ctx, bench.APIConfig{Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities, Rate: c.Rate, Duration: c.Duration,
		Bulk: c.Bulk, Searches: c.Searches, Keep: c.Keep}, e.bench("api"))
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "single lookups at %.0f/s among %d indicators: %d requests, %d errors; p50 %.2f ms, p99 %.2f ms, max %.1f ms\n",
		res.LookupRate, res.Indicators, res.LookupRequests, res.LookupErrors, res.LookupP50Ms, res.LookupP99Ms, res.LookupMaxMs)
	fmt.Fprintf(e.stdout, "bulk lookup of 10,000 values: p50 %.0f ms, max %.0f ms\n", res.BulkP50Ms, res.BulkMaxMs)
	fmt.Fprintf(e.stdout, "vulnerability search by product among %d: p50 %.1f ms, p99 %.1f ms; server peak RSS %.0f MB\n",
		res.Vulnerabilities, res.ProductSearchP50, res.ProductSearchP99, res.ServerPeakRSSMB)
	return nil
}
