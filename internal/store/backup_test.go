package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/intel"
)

// Backup refuses to overwrite, and on PostgreSQL names the tools that back
// it up; the SQLite copy is a store that opens with what was committed.
func TestBackupRefusals(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "copy.db")
		if s.Dialect() == Postgres {
			_, err := s.Backup(ctx, path)
			if intel.ErrorCode(err) != intel.EINVALID || !strings.Contains(err.Error(), "pg_dump") {
				t.Fatalf("backup of PostgreSQL: %v", err)
			}
			return
		}
		os.WriteFile(path, []byte("keep me"), 0o600)
		if _, err := s.Backup(ctx, path); intel.ErrorCode(err) != intel.ECONFLICT {
			t.Fatalf("over an existing file: %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "keep me" {
			t.Fatal("the existing file was changed")
		}
		path = filepath.Join(filepath.Dir(path), "copy2.db")
		n, err := s.Backup(ctx, path)
		if err != nil || n == 0 {
			t.Fatalf("backup: %d %v", n, err)
		}
		c, err := Open(ctx, Options{DSN: path})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if problems, err := c.Check(ctx); err != nil || len(problems) > 0 {
			t.Fatalf("check: %v %v", problems, err)
		}
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*partial*"))
		if len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
}
