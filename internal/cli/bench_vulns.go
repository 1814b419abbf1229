package cli

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

// BenchVulnsCmd measures what a vulnerabilities backfill costs the
// upstream: a simulator (a child process) with premium detail, the channel
// polled through the scheduler into a fresh store at a given rate limit,
// then read again from its start with nothing changed.
type BenchVulnsCmd struct {
	Vulnerabilities int     `default:"100000" help:"Vulnerabilities in the simulator."`
	Rate            float64 `default:"20" help:"The client's rate limit in requests a second (20 is its default); 0 turns it off."`
	Keep            bool    `help:"Keep the temporary data directory."`
}

// VulnsPass is one poll of bench vulns.
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

// VulnsResult is what bench vulns measures.
type VulnsResult struct {
	Dialect         string    `json:"dialect"`
	Vulnerabilities int       `json:"vulnerabilities"`
	Rate            float64   `json:"rate"`
	Backfill        VulnsPass `json:"backfill"`
	Reread          VulnsPass `json:"reread_unchanged"`
}

// Run runs the benchmark.
func (c *BenchVulnsCmd) Run(ctx context.Context, e *env) error {
	if c.Vulnerabilities < 1 || c.Rate < 0 {
		return fmt.Errorf("--vulnerabilities %d, --rate %g: want at least 1 vulnerability and a rate of 0 (off) or more", c.Vulnerabilities, c.Rate)
	}
	base, token, stop, err := startSimProcess(ctx, "--vulnerabilities", strconv.Itoa(c.Vulnerabilities), "--indicators", "1",
		"--reports", "1", "--seed", "1", "--window", "336h")
	if err != nil {
		return err
	}
	defer stop()
	start := time.Now().UTC().Add(-15 * 24 * time.Hour).Add(time.Minute)
	a, ch, _, cleanup, err := benchChannel(ctx, e, "vulns", feed.Vulnerabilities, base, token, start, c.Keep)
	if err != nil {
		return err
	}
	defer cleanup()
	name := ch.Instance
	rate := c.Rate
	a.Scheduler.Client = func(o *ignite.Options) {
		o.RateLimit = rate
		if rate == 0 {
			o.RateLimit = -1
		}
	}
	res := VulnsResult{Dialect: string(a.Store.Dialect()), Vulnerabilities: c.Vulnerabilities, Rate: c.Rate}
	if res.Backfill, err = c.pass(ctx, e, a, ch, base); err != nil {
		return err
	}
	// Back to the start, nothing changed upstream (the simulator's clock
	// stands still): every record is listed again.
	l, err := a.Store.AcquireLease(ctx, ch.ID, "bench", time.Minute)
	if err != nil {
		return err
	}
	_, err = a.Store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: ch.ID, Instance: name, Channel: string(ch.Kind)},
		Collection: ch.Settings.Collection, Cursor: `{"since":"` + start.Format(time.RFC3339Nano) + `"}`})
	_ = a.Store.ReleaseLease(ctx, l)
	if err != nil {
		return err
	}
	if ch, err = a.Store.Channel(ctx, name, feed.Vulnerabilities); err != nil {
		return err
	}
	if res.Reread, err = c.pass(ctx, e, a, ch, base); err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	for _, p := range []struct {
		name string
		v    VulnsPass
	}{{"backfill", res.Backfill}, {"re-read, nothing changed", res.Reread}} {
		line := fmt.Sprintf("%s: %s: %d listed, %d objects new or updated, %d records unchanged; %d requests (%d list, %d detail), %.2f beyond the lists per 1,000 listed; %.1f s",
			res.Dialect, p.name, p.v.Listed, p.v.Stored, p.v.Unchanged, p.v.Requests, p.v.ListRequests, p.v.DetailRequests, p.v.ExtraPerThousand, p.v.Seconds)
		if p.v.ExpectedSeconds > 0 {
			line += fmt.Sprintf(" (%.1f s at %g requests/s: %+.1f%%)", p.v.ExpectedSeconds, c.Rate, 100*(p.v.Seconds/p.v.ExpectedSeconds-1))
		}
		fmt.Fprintln(e.stdout, line)
	}
	return nil
}

// pass polls the channel once and counts the simulator's requests.
func (c *BenchVulnsCmd) pass(ctx context.Context, e *env, a *App, ch feed.Channel, base string) (VulnsPass, error) {
	before, err := simRequests(base)
	if err != nil {
		return VulnsPass{}, err
	}
	t0 := time.Now()
	run, err := a.Scheduler.Poll(ctx, ch, feed.TriggerManual)
	if err != nil {
		return VulnsPass{}, err
	}
	secs := time.Since(t0).Seconds()
	after, err := simRequests(base)
	if err != nil {
		return VulnsPass{}, err
	}
	p := VulnsPass{Seconds: secs, Listed: run.Listed, Requests: run.Requests, Stored: run.New + run.Updated, Unchanged: run.Unchanged,
		ListRequests:   after[sim.EPVulnerabilities] - before[sim.EPVulnerabilities],
		DetailRequests: after[sim.EPVulnerability] - before[sim.EPVulnerability]}
	if p.Listed > 0 {
		p.ExtraPerThousand = 1000 * float64(p.Requests-p.ListRequests) / float64(p.Listed)
	}
	if c.Rate > 0 {
		p.ExpectedSeconds = float64(p.Requests) / c.Rate
	}
	return p, nil
}

// simRequests reads the simulator's request counts by endpoint.
func simRequests(base string) (map[string]int, error) {
	resp, err := http.Get(base + "/_sim/state")
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
