package cli

import (
	"fmt"
	"net"
	"time"

	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
)

// DemoCmd runs Flint against a built-in simulator. For now it starts the
// simulator, reads each channel's endpoint once with the Ignite client and
// prints what it saw; storage and the daemon join it as they land.
type DemoCmd struct {
	Listen string `default:"127.0.0.1:0" help:"Address of the built-in simulator."`
	Once   bool   `help:"Exit after the first read instead of serving until interrupted."`
}

// Run runs the demo.
func (c *DemoCmd) Run(e *env) error {
	s := sim.New(sim.Config{Seed: 1, Logger: e.log})
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("demo: listen on %s: %w", c.Listen, err)
	}
	base := "http://" + ln.Addr().String()
	errc := make(chan error, 1)
	go func() { errc <- serve(e.ctx, ln, s.Handler()) }()

	client, err := ignite.New(ignite.Options{BaseURL: base, Token: sim.DefaultToken, Version: Version, Logger: e.log})
	if err != nil {
		return err
	}
	since := s.Clock().Add(-15 * 24 * time.Hour)
	fmt.Fprintf(e.stdout, "Flashpoint Ignite simulator: %s (token %s)\n", base, sim.DefaultToken)

	reports, err := client.ListReports(e.ctx, ignite.ReportQuery{Limit: 100, Since: since, Sort: "updated_at:asc"})
	if err != nil {
		return err
	}
	featured, events := 0, 0
	for _, r := range reports.Items {
		if r.IsFeatured {
			featured++
		}
	}
	if len(reports.Items) > 0 {
		ev, err := client.ListEvents(e.ctx, ignite.EventQuery{Report: reports.Items[0].ID, Limit: 100})
		if err != nil {
			return err
		}
		events = len(ev.Items)
	}
	fmt.Fprintf(e.stdout, "reports updated in the last 15 days: %d (first page %d, %d featured; %d events on the first)\n",
		reports.Total, len(reports.Items), featured, events)

	vulns, err := client.ListVulnerabilities(e.ctx, ignite.VulnerabilityQuery{Size: 100, UpdatedAfter: since})
	if err != nil {
		return err
	}
	noCVE := 0
	for _, v := range vulns.Items {
		if len(v.CVEIDs) == 0 {
			noCVE++
		}
	}
	fmt.Fprintf(e.stdout, "vulnerabilities updated in the last 15 days: %d (first page %d, %d without a CVE)\n", vulns.Total, len(vulns.Items), noCVE)

	n := 0
	p := client.Indicators(ignite.IndicatorQuery{Size: 1000, Sort: "modified_at:asc", ModifiedAfter: since})
	for p.More() {
		page, err := p.Next(e.ctx)
		if err != nil {
			return err
		}
		n += len(page.Items)
	}
	fmt.Fprintf(e.stdout, "indicators modified in the last 15 days: %d, in %d pages\n", n, p.Pages())
	if c.Once {
		return nil
	}
	fmt.Fprintf(e.stdout, "simulator keeps running at %s until interrupted (try %s/_sim/state)\n", base, base)
	return <-errc
}
