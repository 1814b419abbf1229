package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/flintcti/flint/internal/store"
)

// ExposureCmd groups the exposure commands; listing is the default.
type ExposureCmd struct {
	List    ExposureListCmd    `cmd:"" default:"withargs" help:"List exposures: vulnerabilities matching the stored inventory."`
	Ack     ExposureAckCmd     `cmd:"" help:"Acknowledge an open exposure (seen, to be fixed)."`
	Dismiss ExposureDismissCmd `cmd:"" help:"Dismiss an exposure, with a reason (a false match, an accepted risk)."`
	Rematch ExposureRematchCmd `cmd:"" help:"Match the stored inventory against the vulnerabilities now (serve does it after each poll that changed something)."`
}

// ExposureListCmd lists exposures.
type ExposureListCmd struct {
	State []string `help:"Only these states (repeat or comma-separate): open, acknowledged, resolved, dismissed."`
	Asset string   `help:"Only this asset id."`
}

// Run lists every exposure that matches.
func (c *ExposureListCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	var states []string
	for _, s := range c.State {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				states = append(states, strings.ToLower(p))
			}
		}
	}
	all, err := collect(func(after int64) ([]store.Exposure, error) {
		return a.Service.Exposures(ctx, e.operator(), store.ExposureQuery{States: states, AssetID: c.Asset, After: after, Limit: 1000})
	}, func(x store.Exposure) int64 { return x.ID })
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(all)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tASSET ID\tPRODUCT\tVERSION\tVULNERABILITY\tCVSS3\tSTATE\tHOW\tFIRST SEEN\tREASON")
	for _, x := range all {
		cvss := ""
		if x.CVSSv3 != nil {
			cvss = fmt.Sprintf("%.1f", *x.CVSSv3)
		}
		why := x.Reason
		if x.StateReason != "" {
			why = x.StateReason
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, printable(x.AssetID), printable(x.Product), printable(x.Version),
			printable(x.Vuln), cvss, x.State, x.How, x.FirstSeen.Format("2006-01-02 15:04"), printable(why))
	}
	return w.Flush()
}

// ExposureAckCmd acknowledges an exposure.
type ExposureAckCmd struct {
	ID int64 `arg:"" help:"The exposure's id."`
}

// Run acknowledges it.
func (c *ExposureAckCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	x, err := a.Service.AcknowledgeExposure(ctx, e.operator(), c.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "exposure %d (%s, %s): %s\n", x.ID, printable(x.AssetID), printable(x.Vuln), x.State)
	return nil
}

// ExposureDismissCmd dismisses an exposure.
type ExposureDismissCmd struct {
	ID     int64  `arg:"" help:"The exposure's id."`
	Reason string `required:"" help:"Why (1–500 characters): kept with the exposure and in the audit trail."`
}

// Run dismisses it.
func (c *ExposureDismissCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	x, err := a.Service.DismissExposure(ctx, e.operator(), c.ID, c.Reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "exposure %d (%s, %s): %s\n", x.ID, printable(x.AssetID), printable(x.Vuln), x.State)
	return nil
}

// ExposureRematchCmd matches the inventory now.
type ExposureRematchCmd struct{}

// Run matches and says what changed.
func (c *ExposureRematchCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	n, err := a.Service.RematchInventory(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "exposures: %d opened, %d reopened, %d resolved, %d still open or handled\n", n.Opened, n.Reopened, n.Resolved, n.Seen)
	return nil
}
