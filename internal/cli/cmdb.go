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
	"github.com/flintcti/flint/internal/store"
)

// CmdbCmd groups the CMDB commands.
type CmdbCmd struct {
	Match  CmdbMatchCmd  `cmd:"" help:"Which assets of a CMDB export are vulnerable, by which vulnerabilities, and how each match was made."`
	Import CmdbImportCmd `cmd:"" help:"Store a CMDB export as the inventory that new vulnerabilities are matched against (merged by asset and product, or --replace)."`
	Assets CmdbAssetsCmd `cmd:"" help:"List the stored inventory."`
}

// CmdbMatchCmd matches a CMDB file like POST /api/v1/cmdb/match.
type CmdbMatchCmd struct {
	File string `arg:"" help:"CSV with a header row naming any of asset, vendor, product, version, cpe; or JSON ({\"assets\": [...]}, or a .json list); '-' for standard input."`
}

// readAssets reads a CMDB export: CSV with a header row, or JSON
// ({"assets": [...]} or a list); "-" is standard input.
func readAssets(e *env, file string) ([]cmdb.Asset, error) {
	var r io.Reader = e.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("cmdb: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("cmdb: read %s: %w", file, err)
	}
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
			return nil, intel.Errorf(intel.EINVALID, "cmdb: %s is not JSON of assets: %v", file, err)
		}
		return wrapped.Assets, nil
	}
	return cmdb.ParseCSV(strings.NewReader(string(data)))
}

// Run matches the file.
func (c *CmdbMatchCmd) Run(ctx context.Context, e *env) error {
	assets, err := readAssets(e, c.File)
	if err != nil {
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

// CmdbImportCmd stores a CMDB export as the inventory.
type CmdbImportCmd struct {
	File    string `arg:"" help:"CSV with a header row naming asset_id (or asset) and any of vendor, product, version, cpe; or JSON ({\"assets\": [...]}, or a .json list); '-' for standard input."`
	Replace bool   `help:"Remove the stored rows the file lacks (default: merge, keeping them)."`
}

// Run imports the file.
func (c *CmdbImportCmd) Run(ctx context.Context, e *env) error {
	assets, err := readAssets(e, c.File)
	if err != nil {
		return err
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.Service.ImportInventory(ctx, e.operator(), assets, c.Replace)
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "inventory: %d rows read; %d added, %d updated, %d unchanged, %d removed\n",
		res.Rows, res.Added, res.Updated, res.Unchanged, res.Removed)
	fmt.Fprintf(e.stdout, "exposures: %d opened, %d reopened, %d resolved\n", res.Exposures.Opened, res.Exposures.Reopened, res.Exposures.Resolved)
	return nil
}

// CmdbAssetsCmd lists the stored inventory.
type CmdbAssetsCmd struct{}

// Run lists every row.
func (c *CmdbAssetsCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	all, err := collect(func(after int64) ([]store.InventoryRow, error) {
		return a.Service.Inventory(ctx, e.operator(), after, 1000)
	},
		func(r store.InventoryRow) int64 { return r.ID })
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(all)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ASSET ID\tASSET\tVENDOR\tPRODUCT\tVERSION\tCPE\tUPDATED")
	for _, r := range all {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(r.AssetID), printable(r.Name), printable(r.Vendor), printable(r.Product),
			printable(r.Version), printable(r.CPE), r.Updated.Format("2006-01-02 15:04"))
	}
	return w.Flush()
}

// collect reads every page of a listing of 1,000 items a page, each page
// after the id of the last item of the one before.
func collect[T any](page func(after int64) ([]T, error), id func(T) int64) ([]T, error) {
	var all []T
	for after := int64(0); ; {
		items, err := page(after)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if len(items) < 1000 {
			return all, nil
		}
		after = id(items[len(items)-1])
	}
}
