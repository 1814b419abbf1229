package bench

import (
	"context"
	"strconv"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
)

// IngestConfig configures the end-to-end benchmark.
type IngestConfig struct {
	Indicators int    // to ingest
	PageSize   int    // items per page (the indicators channel asks for at most 500)
	Keep       bool   // keep the temporary data directory
	CPUProfile string // write a CPU profile of the ingest here
}

// IngestResult is what the end-to-end benchmark measures.
type IngestResult struct {
	Dialect            string  `json:"dialect"`
	Indicators         int     `json:"indicators"`
	Seconds            float64 `json:"seconds"`
	PerSecond          float64 `json:"indicators_per_second"`
	FetchOnlyPerSecond float64 `json:"fetch_only_per_second"`
	RatioToFetch       float64 `json:"ratio_to_fetch_only"`
	PeakRSSMB          float64 `json:"peak_rss_mb"`
	CPUSeconds         float64 `json:"cpu_seconds"` // of this process during the ingest (the simulator is another)
	Pages              int     `json:"pages"`
	Dir                string  `json:"data_dir,omitempty"` // kept, with Keep
}

// Ingest measures the whole pipeline: indicators from a simulator (a child
// process) on loopback, through the connector and the scheduler, into a
// fresh store, next to the fetch-only rate measured in the same run.
func Ingest(ctx context.Context, c IngestConfig, env Env) (IngestResult, error) {
	base, token, stop, err := StartSim(ctx, "--indicators", strconv.Itoa(c.Indicators), "--seed", "1", "--window", "336h")
	if err != nil {
		return IngestResult{}, err
	}
	defer stop()
	client, err := ignite.New(ignite.Options{BaseURL: base, Token: token, Version: env.Version, RateLimit: -1, Logger: env.Log})
	if err != nil {
		return IngestResult{}, err
	}
	start := time.Now().UTC().Add(-15 * 24 * time.Hour).Add(time.Minute)
	fetch, err := fetchWith(ctx, client, ignite.IndicatorQuery{Size: min(c.PageSize, 500), Sort: "modified_at:asc", ModifiedAfter: start,
		Embed: []string{"all"}}, c.Indicators)
	if err != nil {
		return IngestResult{}, err
	}
	env.progress("fetch only: %d indicators in %.1f s (%.0f/s)", fetch.Indicators, fetch.Seconds, fetch.PerSecond)

	p, err := newPipeline(ctx, env, "ingest", feed.Indicators, base, token, start, c.Keep)
	if err != nil {
		return IngestResult{}, err
	}
	defer p.close()
	p.scheduler.PageSize = c.PageSize
	p.scheduler.Client = func(o *ignite.Options) { o.RateLimit = -1 }
	stopProfile, err := StartProfile(c.CPUProfile)
	if err != nil {
		return IngestResult{}, err
	}
	defer stopProfile()
	t0, cpu0 := time.Now(), cpuSeconds()
	run, err := p.scheduler.Poll(ctx, p.channel, feed.TriggerManual)
	if err != nil {
		return IngestResult{}, err
	}
	secs := time.Since(t0).Seconds()
	n := run.New + run.Updated + run.Unchanged
	res := IngestResult{Dialect: string(p.store.Dialect()), Indicators: n, Seconds: secs, PerSecond: float64(n) / secs,
		FetchOnlyPerSecond: fetch.PerSecond, PeakRSSMB: peakRSSMB(), Pages: run.Pages, CPUSeconds: cpuSeconds() - cpu0}
	res.RatioToFetch = res.PerSecond / res.FetchOnlyPerSecond
	if c.Keep {
		res.Dir = p.dir
	}
	return res, nil
}
