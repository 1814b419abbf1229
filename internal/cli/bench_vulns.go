package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/flintcti/flint/internal/bench"
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

// Run runs the benchmark.
func (c *BenchVulnsCmd) Run(ctx context.Context, e *env) error {
	res, err := bench.Vulns(ctx, bench.VulnsConfig{Vulnerabilities: c.Vulnerabilities, Rate: c.Rate, Keep: c.Keep}, e.bench("vulns"))
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	for _, p := range []struct {
		name string
		v    bench.VulnsPass
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

// BenchExposuresCmd measures what matching a stored inventory costs a
// vulnerabilities backfill.
type BenchExposuresCmd struct {
	Vulnerabilities int    `default:"100000" help:"Vulnerabilities in the simulator."`
	Assets          int    `default:"10000" help:"Rows of the stored inventory."`
	CPUProfile      string `name:"cpuprofile" help:"Write a CPU profile of the matching to this file."`
}

// Run runs the benchmark.
func (c *BenchExposuresCmd) Run(ctx context.Context, e *env) error {
	res, err := bench.Exposures(ctx, bench.ExposuresConfig{Vulnerabilities: c.Vulnerabilities, Assets: c.Assets, CPUProfile: c.CPUProfile}, e.bench("exposures"))
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "%s: backfill of %d vulnerabilities: %.1f s without an inventory, %.1f s with %d assets (poll %.1f s with matching beside it, then %.1f s for the rest; %d exposures): %+.1f%%\n",
		res.Dialect, res.Vulnerabilities, res.Without, res.With, res.Assets, res.Poll, res.Match, res.Exposures, 100*(res.Ratio-1))
	return nil
}
