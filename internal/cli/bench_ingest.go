package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
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

// IngestResult is what bench ingest measures.
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
}

// Run runs the benchmark.
func (c *BenchIngestCmd) Run(ctx context.Context, e *env) error {
	base, token, stop, err := startSimProcess(ctx, "--indicators", strconv.Itoa(c.Indicators), "--seed", "1", "--window", "336h")
	if err != nil {
		return err
	}
	defer stop()
	client, err := ignite.New(ignite.Options{BaseURL: base, Token: token, Version: Version, RateLimit: -1, Logger: e.log})
	if err != nil {
		return err
	}
	start := time.Now().UTC().Add(-15 * 24 * time.Hour).Add(time.Minute)
	fetch, err := BenchFetch(ctx, client, ignite.IndicatorQuery{Size: min(c.PageSize, 500), Sort: "modified_at:asc", ModifiedAfter: start, Embed: []string{"all"}}, c.Indicators)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "bench ingest: fetch only: %d indicators in %.1f s (%.0f/s)\n", fetch.Indicators, fetch.Seconds, fetch.PerSecond)

	a, ch, dir, cleanup, err := benchChannel(ctx, e, "ingest", feed.Indicators, base, token, start, c.Keep)
	if err != nil {
		return err
	}
	defer cleanup()
	a.Scheduler.PageSize = c.PageSize
	a.Scheduler.Client = func(o *ignite.Options) { o.RateLimit = -1 }
	stopProfile, err := startProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	t0, cpu0 := time.Now(), cpuSeconds()
	run, err := a.Scheduler.Poll(ctx, ch, feed.TriggerManual)
	if err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	n := run.New + run.Updated + run.Unchanged
	res := IngestResult{Dialect: string(a.Store.Dialect()), Indicators: n, Seconds: secs, PerSecond: float64(n) / secs,
		FetchOnlyPerSecond: fetch.PerSecond, PeakRSSMB: peakRSSMB(), Pages: run.Pages, CPUSeconds: cpuSeconds() - cpu0}
	res.RatioToFetch = res.PerSecond / res.FetchOnlyPerSecond
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "%s: ingested %d indicators in %d pages in %.1f s: %.0f indicators/s (%.0f%% of the fetch-only %.0f/s); peak RSS %.0f MB; %.1f CPU-seconds\n",
		res.Dialect, res.Indicators, res.Pages, res.Seconds, res.PerSecond, 100*res.RatioToFetch, res.FetchOnlyPerSecond, res.PeakRSSMB, res.CPUSeconds)
	if c.Keep {
		fmt.Fprintf(e.stdout, "data directory kept: %s\n", filepath.Clean(dir))
	}
	return nil
}

// benchChannel opens a fresh store in a temporary directory (or the one
// --db names), creates an instance of the simulator at base with only the
// channel kind enabled (manual, from start), and returns the channel; the
// simulator is on loopback, which the scheduler may reach. cleanup closes
// the store and removes the directory unless keep.
func benchChannel(ctx context.Context, e *env, name string, kind feed.Kind, base, token string, start time.Time, keep bool) (a *App, ch feed.Channel, dir string, cleanup func(), err error) {
	if dir, err = os.MkdirTemp("", "flint-bench-"+name+"-"); err != nil {
		return nil, ch, "", nil, err
	}
	remove := func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}
	if a, err = Open(ctx, dir, e.g.DB, e.log); err != nil {
		remove()
		return nil, ch, "", nil, err
	}
	cleanup = func() { a.Close(); remove() }
	settings := map[feed.Kind]feed.Settings{}
	for _, k := range feed.Kinds() {
		s := feed.DefaultSettings("bench", k, time.Now())
		s.StartAt, s.Enabled, s.Schedule = start, k == kind, feed.Manual
		settings[k] = s
	}
	instance := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) // unique when --db names a shared database
	if _, err = a.Store.CreateInstance(ctx, feed.Instance{Name: instance, BaseURL: base, VerifyTLS: true}, token, a.Seal, settings); err == nil {
		ch, err = a.Store.Channel(ctx, instance, kind)
	}
	if err != nil {
		cleanup()
		return nil, ch, "", nil, err
	}
	a.Scheduler.Addresses = &ignite.AddrPolicy{AllowLoopback: true}
	return a, ch, dir, cleanup, nil
}
