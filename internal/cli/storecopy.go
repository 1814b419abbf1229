package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/flintcti/flint/internal/store"
)

// StoreCmd groups the commands that work on the store as a whole.
type StoreCmd struct {
	Copy StoreCopyCmd `cmd:"" help:"Copy this SQLite store into an empty PostgreSQL database, to move a deployment to PostgreSQL."`
}

// StoreCopyCmd copies the SQLite store to PostgreSQL.
type StoreCopyCmd struct {
	To string `required:"" env:"FLINT_STORE_COPY_TO" help:"The PostgreSQL database to copy into (postgres://…; FLINT_STORE_COPY_TO keeps its password off the command line). It must hold no intelligence, instances, keys or users."`
}

// Run copies the store and says how to go on from the copy.
func (c *StoreCopyCmd) Run(ctx context.Context, e *env) error {
	if !strings.HasPrefix(c.To, "postgres://") && !strings.HasPrefix(c.To, "postgresql://") {
		return fmt.Errorf("%w: --to must be a postgres:// URL", errUsage)
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.Store.Dialect() != store.SQLite {
		return fmt.Errorf("%w: the store to copy is %s: store copy moves a SQLite store (give its --data-dir or --db)", errUsage, a.Where())
	}
	dst, err := store.Open(ctx, store.Options{DSN: c.To, Logger: e.log})
	if err != nil {
		return err
	}
	defer dst.Close()
	counts, err := a.Store.CopyTo(ctx, dst, func(t store.TableCount) {
		if t.Rows > 0 {
			fmt.Fprintf(e.stderr, "copied %-22s %d rows\n", t.Table, t.Rows)
		}
	})
	if err != nil {
		return err
	}
	var total int64
	for _, t := range counts {
		total += t.Rows
	}
	fmt.Fprintf(e.stdout, "copied %s to PostgreSQL: %d tables, %d rows\n", a.Where(), len(counts), total)
	fmt.Fprintf(e.stderr, "the instances' tokens stay sealed with this data directory's key: run flint with --db postgres://… and the same "+
		"key (the data directory's %s, or FLINT_SECRET_KEY) and polling goes on from each channel's cursor; "+
		"what the SQLite store receives from now on is not copied\n", "secret.key")
	return nil
}
