package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flintcti/flint/internal/secret"
)

// BackupCmd copies a SQLite store while it is in use.
type BackupCmd struct {
	File string `arg:"" help:"The copy to write (must not exist)."`
}

// Run writes the backup and says what else a restore needs: the key that
// seals the instances' tokens, which is not in the database.
func (c *BackupCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	n, err := a.Store.Backup(ctx, c.File)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: a consistent copy of %s (%d bytes; integrity ok)\n", c.File, a.Where(), n)
	key := filepath.Join(a.DataDir, secret.KeyFile)
	if os.Getenv(secret.KeyEnv) != "" {
		key = "$" + secret.KeyEnv
	}
	fmt.Fprintf(e.stderr, "the instances' tokens in it are sealed with %s, which the copy does not hold: keep that key too, "+
		"apart from the copy (to restore: put the copy as flint.db in a data directory with the key)\n", key)
	return nil
}
