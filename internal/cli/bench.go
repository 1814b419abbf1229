package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flintcti/flint/internal/ignite"
)

// BenchCmd groups the benchmarks.
type BenchCmd struct {
	Fetch  BenchFetchCmd  `cmd:"" help:"Fetch indicators from a simulator on loopback and report the rate and peak memory."`
	Store  BenchStoreCmd  `cmd:"" help:"Load the store with indicators and vulnerabilities; report write rates, lookup and search latency and size."`
	Ingest BenchIngestCmd `cmd:"" help:"Ingest indicators from a simulator into the store, end to end, next to the fetch-only rate."`
	API    BenchAPICmd    `cmd:"" name:"api" help:"Measure the REST API over HTTP: single lookups at a fixed rate, bulk lookups, vulnerability search."`
	Vulns  BenchVulnsCmd  `cmd:"" name:"vulns" help:"Backfill vulnerabilities with premium detail from a simulator at a rate limit, then read them again unchanged: requests and time."`
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

// FetchResult is what bench fetch measures.
type FetchResult struct {
	Indicators      int     `json:"indicators"`
	Invalid         int     `json:"invalid"`
	Pages           int     `json:"pages"`
	Seconds         float64 `json:"seconds"`
	PerSecond       float64 `json:"indicators_per_second"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	DecodePerSecond float64 `json:"decode_per_second_one_core"`
	DecodeAllocs    float64 `json:"decode_allocs_per_indicator"`
	GOMAXPROCS      int     `json:"gomaxprocs"`
}

// Run runs the benchmark.
func (c *BenchFetchCmd) Run(ctx context.Context, e *env) error {
	base, token := c.SimURL, c.Token
	windowStart := time.Now().Add(-61 * 24 * time.Hour)
	if base == "" {
		var stop func()
		var err error
		base, token, stop, err = startSimProcess(ctx, "--indicators", strconv.Itoa(c.Indicators), "--seed", "1")
		if err != nil {
			return err
		}
		defer stop()
	}
	client, err := ignite.New(ignite.Options{BaseURL: base, Token: token, Version: Version, RateLimit: c.Rate, Logger: e.log})
	if err != nil {
		return err
	}
	q := ignite.IndicatorQuery{Size: c.PageSize, Sort: "modified_at:asc", ModifiedAfter: windowStart}
	if c.Embed {
		q.Embed = []string{"all"}
	}
	res, err := BenchFetch(ctx, client, q, c.Indicators)
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

// BenchFetch pages through q until limit indicators are fetched, then
// measures decoding of one recorded page on one goroutine.
func BenchFetch(ctx context.Context, client *ignite.Client, q ignite.IndicatorQuery, limit int) (FetchResult, error) {
	res := FetchResult{GOMAXPROCS: runtime.GOMAXPROCS(0)}
	start := time.Now()
	p := client.Indicators(q)
	for p.More() && res.Indicators+res.Invalid < limit {
		page, err := p.Next(ctx)
		if err != nil {
			return res, err
		}
		res.Pages++
		res.Indicators += len(page.Items)
		res.Invalid += len(page.Invalid)
	}
	res.Seconds = time.Since(start).Seconds()
	res.PerSecond = float64(res.Indicators) / res.Seconds
	res.PeakRSSMB = peakRSSMB()

	page, err := client.ListIndicators(ctx, ignite.IndicatorQuery{Size: q.Size, Sort: "modified_at:asc", ModifiedAfter: q.ModifiedAfter, Embed: q.Embed})
	if err != nil {
		return res, err
	}
	raw := make([]json.RawMessage, len(page.Items))
	for i := range page.Items {
		raw[i] = page.Items[i].Raw
	}
	body, _ := json.Marshal(map[string]any{"items": raw, "total": nil, "pagination": map[string]any{"next": nil}})
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	dstart, decoded := time.Now(), 0
	for time.Since(dstart) < 2*time.Second {
		n, err := ignite.DecodeIndicatorsPage(body)
		if err != nil {
			return res, err
		}
		decoded += n
	}
	runtime.ReadMemStats(&ms1)
	res.DecodePerSecond = float64(decoded) / time.Since(dstart).Seconds()
	res.DecodeAllocs = float64(ms1.Mallocs-ms0.Mallocs) / float64(decoded)
	return res, nil
}

func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

// cpuSeconds is the CPU time (user and system) this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// startSimProcess runs `flint sim` as a child on a free loopback port and
// returns its base URL and token.
func startSimProcess(ctx context.Context, args ...string) (base, token string, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", "", nil, err
	}
	cmd := exec.CommandContext(ctx, exe, append([]string{"sim", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", "", nil, fmt.Errorf("bench: start simulator: %w", err)
	}
	stop = func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Flashpoint Ignite simulator listening on "); ok {
			base = rest
		}
		if rest, ok := strings.CutPrefix(line, "token "); ok && token == "" {
			token, _, _ = strings.Cut(rest, ":")
			break
		}
	}
	if base == "" || token == "" {
		stop()
		return "", "", nil, fmt.Errorf("bench: the simulator did not report its address")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }() // keep the child from blocking on a full pipe
	return base, token, stop, nil
}

// startProfile writes a CPU profile to path until the returned stop is
// called; with an empty path it does nothing.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
