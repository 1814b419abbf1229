package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flintcti/flint/internal/bench"
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
	stopProfile, err := bench.StartProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	s, err := store.Open(ctx, store.Options{DSN: dsn, Logger: e.log})
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := bench.Store(ctx, s, bench.StoreConfig{Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities, Reread: c.Reread,
		Lookups: c.Lookups, Searches: c.Searches}, e.bench("store"))
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
