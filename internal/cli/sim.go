package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/flintcti/flint/internal/ignite/sim"
)

// SimCmd runs the Flashpoint Ignite simulator until interrupted.
type SimCmd struct {
	Listen           string        `default:"127.0.0.1:8931" help:"Address to listen on (port 0 picks a free one)."`
	Seed             int64         `default:"1" help:"Seed of the generated data."`
	Reports          int           `default:"200" help:"Reports at the start."`
	Vulnerabilities  int           `default:"2000" help:"Vulnerabilities at the start."`
	Indicators       int           `default:"20000" help:"Indicators at the start."`
	Token            []string      `sep:"none" help:"Accepted token, VALUE[:DATASETS] with DATASETS a comma list of reports,vulnerabilities,indicators,premium (repeatable)."`
	Now              time.Time     `help:"Initial clock, RFC 3339 (default: now)."`
	Advance          time.Duration `help:"Advance the clock by this much at start."`
	Fault            []string      `sep:"none" help:"Fault, ENDPOINT:key=value,... e.g. indicators:status=429,retry_after=1,count=3 (repeatable; change at run time with PUT /_sim/faults/ENDPOINT)."`
	NonPremiumDetail string        `default:"thin" enum:"thin,forbidden" help:"Vulnerability detail for tokens without premium: thin or forbidden."`
	ReportBodyKB     int           `name:"report-body-kb" help:"Pad report bodies to this many KiB."`
	Window           time.Duration `help:"Spread each dataset over this period before the clock (default: 60 days for indicators, 365 for the others)."`
	MaxPage          int           `name:"max-page" help:"Answer at most this many items per list page whatever the size asked, with a next link to the rest (0: off; change at run time with PUT /_sim/modes)."`
	IgnoreSort       bool          `name:"ignore-sort" help:"Answer every list in its default order, newest first, whatever sort is asked (PUT /_sim/modes ignore_sort)."`
	NoTotal          bool          `name:"no-total" help:"Leave the total out of every list answer (PUT /_sim/modes no_total)."`
	UnstableOrder    bool          `name:"unstable-order" help:"Answer vulnerabilities in an order that changes whenever the data does (PUT /_sim/modes unstable_order)."`
}

// Run starts the simulator.
func (c *SimCmd) Run(ctx context.Context, e *env) error {
	s, err := c.build(e)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("sim: listen on %s: %w", c.Listen, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(e.stdout, "Flashpoint Ignite simulator listening on %s\n", base)
	for _, t := range s.Tokens() {
		fmt.Fprintf(e.stdout, "token %s\n", t)
	}
	st := s.State()
	fmt.Fprintf(e.stdout, "clock %s; %d reports, %d vulnerabilities, %d indicators; admin API at %s/_sim/state\n",
		st.Clock.Format(time.RFC3339), st.Counts["reports"], st.Counts["vulnerabilities"], st.Counts["indicators"], base)
	return serve(ctx, ln, s.Handler())
}

func (c *SimCmd) build(e *env) (*sim.Server, error) {
	cfg := sim.Config{
		Seed: c.Seed, Reports: c.Reports, Vulnerabilities: c.Vulnerabilities, Indicators: c.Indicators,
		Now: c.Now, NonPremiumDetail: c.NonPremiumDetail, ReportBodyBytes: c.ReportBodyKB << 10, Logger: e.log,
		IndicatorWindow: c.Window, VulnWindow: c.Window, ReportWindow: c.Window,
		Modes: sim.Modes{MaxPage: c.MaxPage, IgnoreSort: c.IgnoreSort, NoTotal: c.NoTotal, UnstableOrder: c.UnstableOrder},
	}
	if c.MaxPage < 0 {
		return nil, fmt.Errorf("%w: --max-page %d: want 0 (off) or more", errUsage, c.MaxPage)
	}
	for _, spec := range c.Token {
		t, err := sim.ParseToken(spec)
		if err != nil {
			return nil, fmt.Errorf("%w: --token: %v", errUsage, err)
		}
		cfg.Tokens = append(cfg.Tokens, t)
	}
	s := sim.New(cfg)
	if c.Advance > 0 {
		s.Advance(c.Advance)
	}
	for _, spec := range c.Fault {
		ep, f, err := sim.ParseFault(spec)
		if err != nil {
			return nil, fmt.Errorf("%w: --fault: %v", errUsage, err)
		}
		s.SetFault(ep, f)
	}
	return s, nil
}

// serve runs h on ln until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	return serveWith(ctx, ln, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second})
}

// serveWith serves until ctx ends, then shuts down gracefully (5 s).
func serveWith(ctx context.Context, ln net.Listener, srv *http.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
