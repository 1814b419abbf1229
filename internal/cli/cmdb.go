package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
)

// CmdbCmd groups the CMDB commands.
type CmdbCmd struct {
	Match CmdbMatchCmd `cmd:"" help:"Which assets of a CMDB export are vulnerable, by which vulnerabilities, and how each match was made."`
}

// CmdbMatchCmd matches a CMDB file like POST /api/v1/cmdb/match.
type CmdbMatchCmd struct {
	File string `arg:"" help:"CSV with a header row naming any of asset, vendor, product, version, cpe; or JSON ({\"assets\": [...]}, or a .json list); '-' for standard input."`
}

// Run matches the file.
func (c *CmdbMatchCmd) Run(ctx context.Context, e *env) error {
	var r io.Reader = e.stdin
	if c.File != "-" {
		f, err := os.Open(c.File)
		if err != nil {
			return fmt.Errorf("cmdb: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return fmt.Errorf("cmdb: read %s: %w", c.File, err)
	}
	var assets []cmdb.Asset
	if t := strings.TrimSpace(string(data)); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		var wrapped struct {
			Assets []cmdb.Asset `json:"assets"`
		}
		if strings.HasPrefix(t, "[") {
			err = json.Unmarshal(data, &wrapped.Assets)
		} else {
			err = json.Unmarshal(data, &wrapped)
		}
		if err != nil {
			return intel.Errorf(intel.EINVALID, "cmdb: %s is not JSON of assets: %v", c.File, err)
		}
		assets = wrapped.Assets
	} else if assets, err = cmdb.ParseCSV(strings.NewReader(string(data))); err != nil {
		return err
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	m, err := a.Service.MatchCMDB(ctx, e.operator(), assets)
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(m)
	}
	res, sum := m.Results, m.Summary
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ASSET\tVULNERABILITY\tCVSS3\tSEVERITY\tHOW\tREASON")
	for _, r := range res {
		name := r.Asset.Asset
		if name == "" {
			name = strings.TrimSpace(r.Asset.Product + " " + r.Asset.Version + " " + r.Asset.CPE)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "%s\t-\t\t\terror\t%s\n", name, r.Error)
		}
		for _, m := range r.Matches {
			cvss := "-"
			if m.CVSSv3 != nil {
				cvss = fmt.Sprintf("%.1f", *m.CVSSv3)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", name, m.Value, cvss, orDash(m.Severity), m.How, m.Reason)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d assets, %d vulnerable, %d matches, %d not matched for an error\n", sum.Assets, sum.Vulnerable, sum.Matches, sum.Errors)
	return nil
}
