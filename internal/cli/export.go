package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/flintcti/flint/internal/service"
)

// ExportCmd groups the exports.
type ExportCmd struct {
	Stix ExportStixCmd `cmd:"" name:"stix" help:"Write the intelligence matching the filters as one STIX 2.1 bundle (streamed: any size)."`
}

// ExportStixCmd writes a STIX 2.1 bundle like GET /api/v1/stix.
type ExportStixCmd struct {
	objectFilters
	Output string `short:"o" help:"Write the bundle to this file (written whole or not at all); default: standard output."`
}

// Run exports the bundle.
func (c *ExportStixCmd) Run(ctx context.Context, e *env) error {
	q, err := service.ObjectQuery(c.values())
	if err != nil {
		return err
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	var w io.Writer = e.stdout
	var tmp *os.File
	if c.Output != "" && c.Output != "-" {
		// Into a file beside the target, renamed when the bundle is whole:
		// a failed export leaves no half bundle under the name asked for.
		if tmp, err = os.CreateTemp(filepath.Dir(c.Output), "."+filepath.Base(c.Output)+".*"); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer os.Remove(tmp.Name()) // after the rename, nothing is left to remove
		defer tmp.Close()
		w = tmp
	}
	res, err := a.Service.ExportSTIX(ctx, e.operator(), q, w)
	if err != nil {
		return err
	}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Rename(tmp.Name(), c.Output); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	fmt.Fprintf(e.stderr, "exported %d objects as %d STIX objects\n", res.Objects, res.STIXObjects)
	return nil
}
