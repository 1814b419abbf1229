package bench

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"time"

	"github.com/flintcti/flint/internal/ignite"
)

// FetchConfig configures the client benchmark.
type FetchConfig struct {
	Indicators int     // to fetch
	PageSize   int     // at most 1000, 500 with Embed
	Embed      bool    // ask for embed=all
	SimURL     string  // a running simulator; "" starts one
	Token      string  // for SimURL
	Rate       float64 // the client's rate limit in requests/s; -1: none
}

// FetchResult is what the client benchmark measures.
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

// Fetch measures the client alone: the simulator runs in a child process,
// so the peak RSS is the client's.
func Fetch(ctx context.Context, c FetchConfig, env Env) (FetchResult, error) {
	base, token := c.SimURL, c.Token
	windowStart := time.Now().Add(-61 * 24 * time.Hour)
	if base == "" {
		var stop func()
		var err error
		if base, token, stop, err = StartSim(ctx, "--indicators", strconv.Itoa(c.Indicators), "--seed", "1"); err != nil {
			return FetchResult{}, err
		}
		defer stop()
	}
	client, err := ignite.New(ignite.Options{BaseURL: base, Token: token, Version: env.Version, RateLimit: c.Rate, Logger: env.log()})
	if err != nil {
		return FetchResult{}, err
	}
	q := ignite.IndicatorQuery{Size: c.PageSize, Sort: "modified_at:asc", ModifiedAfter: windowStart}
	if c.Embed {
		q.Embed = []string{"all"}
	}
	return fetchWith(ctx, client, q, c.Indicators)
}

// fetchWith pages through q until limit indicators are fetched, then
// measures decoding of one recorded page on one goroutine.
func fetchWith(ctx context.Context, client *ignite.Client, q ignite.IndicatorQuery, limit int) (FetchResult, error) {
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
