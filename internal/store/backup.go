package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flintcti/flint/internal/intel"
)

// Backup writes a consistent copy of a SQLite store to path while it is in
// use: VACUUM INTO reads one snapshot (WAL lets polls go on writing
// meanwhile, and a page transaction is in the copy whole or not at all, with
// its cursor), into a file beside path that is checked (PRAGMA
// integrity_check) before it takes path's name. path must not exist. It
// returns the copy's size. A PostgreSQL store is backed up with its own
// tools (pg_dump, pg_basebackup).
func (s *Store) Backup(ctx context.Context, path string) (int64, error) {
	if s.dialect == Postgres {
		return 0, intel.Errorf(intel.EINVALID, "backup copies a SQLite store; back a PostgreSQL store up with pg_dump "+
			"(a logical copy: pg_dump -Fc) or pg_basebackup (a physical one, with WAL archiving for point-in-time recovery)")
	}
	if path == "" {
		return 0, intel.Errorf(intel.EINVALID, "backup: no file given")
	}
	if _, err := os.Lstat(path); err == nil {
		return 0, intel.Errorf(intel.ECONFLICT, "backup: %s exists: give a new file name (a backup never overwrites)", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	dir := filepath.Dir(path)
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".partial-"+rand.Text()[:8])
	defer os.Remove(tmp)
	// The copy is made by SQLite, with the process's umask: created first,
	// owner only, so that it never exists readable by others.
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	f.Close()
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO $1`, tmp); err != nil {
		return 0, fmt.Errorf("store: backup into %s: %w", path, err)
	}
	if err := checkFile(ctx, tmp); err != nil {
		return 0, fmt.Errorf("store: backup: the copy failed its integrity check: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	// A hard link, not a rename: it fails rather than replace a file that
	// appeared at path meanwhile.
	if err := os.Link(tmp, path); err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	return fi.Size(), syncFile(dir)
}

// checkFile runs SQLite's integrity check on a database file nothing else
// uses.
func checkFile(ctx context.Context, path string) error {
	db, err := openSQLite(path, true)
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return errors.New(res)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
