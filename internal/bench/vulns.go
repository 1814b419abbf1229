package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// VulnsConfig configures the vulnerabilities benchmark.
type VulnsConfig struct {
	Vulnerabilities int     // in the simulator
	Rate            float64 // the client's rate limit in requests a second; 0 turns it off
	Keep            bool    // keep the temporary data directory
}

// VulnsPass is one poll of the vulnerabilities benchmark.
type VulnsPass struct {
	Seconds         float64 `json:"seconds"`
	Listed          int     `json:"listed"`
	ListRequests    int     `json:"list_requests"`
	DetailRequests  int     `json:"detail_requests"`
	Requests        int     `json:"requests"`
	ExpectedSeconds float64 `json:"expected_seconds,omitempty"` // requests / rate, with a rate limit
	// ExtraPerThousand is the requests beyond the list pages for each
	// 1,000 vulnerabilities listed.
	ExtraPerThousand float64 `json:"extra_requests_per_1000_listed"`
	Stored           int     `json:"new_or_updated"`
	Unchanged        int     `json:"unchanged"`
}

// VulnsResult is what the vulnerabilities benchmark measures.
type VulnsResult struct {
	Dialect         string    `json:"dialect"`
	Vulnerabilities int       `json:"vulnerabilities"`
	Rate            float64   `json:"rate"`
	Backfill        VulnsPass `json:"backfill"`
	Reread          VulnsPass `json:"reread_unchanged"`
}

// Vulns measures what a vulnerabilities backfill costs the upstream: a
// simulator (a child process) with premium detail, the channel polled
// through the scheduler into a fresh store at the rate limit, then read
// again from its start with nothing changed.
func Vulns(ctx context.Context, c VulnsConfig, env Env) (VulnsResult, error) {
	if c.Vulnerabilities < 1 || c.Rate < 0 {
		return VulnsResult{}, fmt.Errorf("%d vulnerabilities at a rate of %g: want at least 1 vulnerability and a rate of 0 (off) or more", c.Vulnerabilities, c.Rate)
	}
	base, token, stop, err := StartSim(ctx, "--vulnerabilities", strconv.Itoa(c.Vulnerabilities), "--indicators", "1",
		"--reports", "1", "--seed", "1", "--window", "336h")
	if err != nil {
		return VulnsResult{}, err
	}
	defer stop()
	start := time.Now().UTC().Add(-15 * 24 * time.Hour).Add(time.Minute)
	p, err := newPipeline(ctx, env, "vulns", feed.Vulnerabilities, base, token, start, c.Keep)
	if err != nil {
		return VulnsResult{}, err
	}
	defer p.close()
	rate := c.Rate
	p.scheduler.Client = func(o *ignite.Options) {
		o.RateLimit = rate
		if rate == 0 {
			o.RateLimit = -1
		}
	}
	ch := p.channel
	res := VulnsResult{Dialect: string(p.store.Dialect()), Vulnerabilities: c.Vulnerabilities, Rate: c.Rate}
	if res.Backfill, err = vulnsPass(ctx, p, ch, base, c.Rate); err != nil {
		return res, err
	}
	// Back to the start, nothing changed upstream (the simulator's clock
	// stands still): every record is listed again.
	l, err := p.store.AcquireLease(ctx, ch.ID, "bench", time.Minute)
	if err != nil {
		return res, err
	}
	_, err = p.store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: ch.ID, Instance: ch.Instance, Channel: string(ch.Kind)},
		Collection: ch.Settings.Collection, Cursor: `{"since":"` + start.Format(time.RFC3339Nano) + `"}`})
	_ = p.store.ReleaseLease(ctx, l)
	if err != nil {
		return res, err
	}
	if ch, err = p.store.ChannelByID(ctx, ch.ID); err != nil {
		return res, err
	}
	res.Reread, err = vulnsPass(ctx, p, ch, base, c.Rate)
	return res, err
}

// vulnsPass polls the channel once and counts the simulator's requests.
func vulnsPass(ctx context.Context, p *pipeline, ch feed.Channel, base string, rate float64) (VulnsPass, error) {
	before, err := simRequests(ctx, base)
	if err != nil {
		return VulnsPass{}, err
	}
	t0 := time.Now()
	run, err := p.scheduler.Poll(ctx, ch, feed.TriggerManual)
	if err != nil {
		return VulnsPass{}, err
	}
	secs := time.Since(t0).Seconds()
	after, err := simRequests(ctx, base)
	if err != nil {
		return VulnsPass{}, err
	}
	v := VulnsPass{Seconds: secs, Listed: run.Listed, Requests: run.Requests, Stored: run.New + run.Updated, Unchanged: run.Unchanged,
		ListRequests:   after[sim.EPVulnerabilities] - before[sim.EPVulnerabilities],
		DetailRequests: after[sim.EPVulnerability] - before[sim.EPVulnerability]}
	if v.Listed > 0 {
		v.ExtraPerThousand = 1000 * float64(v.Requests-v.ListRequests) / float64(v.Listed)
	}
	if rate > 0 {
		v.ExpectedSeconds = float64(v.Requests) / rate
	}
	return v, nil
}

// simRequests reads the simulator's request counts by endpoint.
func simRequests(ctx context.Context, base string) (map[string]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_sim/state", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st sim.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("bench: simulator state: %w", err)
	}
	return sim.ByEndpoint(st.Requests), nil
}
