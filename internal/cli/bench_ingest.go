package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/flintcti/flint/internal/bench"
)

// BenchIngestCmd measures the whole pipeline: indicators from a simulator
// (a child process) on loopback, through the connector and the scheduler,
// into the store, next to the fetch-only rate measured in the same run.
type BenchIngestCmd struct {
	Indicators int    `default:"1000000" help:"Indicators to ingest."`
	PageSize   int    `default:"500" help:"Items per page (the indicators channel asks for at most 500, the API's limit with embed)."`
	Keep       bool   `help:"Keep the temporary data directory."`
	CPUProfile string `name:"cpuprofile" help:"Write a CPU profile of the ingest to this file."`
}

// Run runs the benchmark.
func (c *BenchIngestCmd) Run(ctx context.Context, e *env) error {
	res, err := bench.Ingest(ctx, bench.IngestConfig{Indicators: c.Indicators, PageSize: c.PageSize, Keep: c.Keep, CPUProfile: c.CPUProfile},
		e.bench("ingest"))
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "%s: ingested %d indicators in %d pages in %.1f s: %.0f indicators/s (%.0f%% of the fetch-only %.0f/s); peak RSS %.0f MB; %.1f CPU-seconds\n",
		res.Dialect, res.Indicators, res.Pages, res.Seconds, res.PerSecond, 100*res.RatioToFetch, res.FetchOnlyPerSecond, res.PeakRSSMB, res.CPUSeconds)
	if res.Dir != "" {
		fmt.Fprintf(e.stdout, "data directory kept: %s\n", res.Dir)
	}
	return nil
}
