package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/intel"
)

// A damaged SQLite file is found: a damaged header stops Open with what to
// do; damage inside is found by Check; Ready says damaged.
func TestDamagedDatabase(t *testing.T) {
	ctx := context.Background()
	build := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "flint.db")
		s, err := Open(ctx, Options{DSN: path})
		if err != nil {
			t.Fatal(err)
		}
		l := MustLease(t, s, 1)
		for i := range 20 {
			MustApply(t, s, l, ipv4Page(intel.Provenance{ChannelID: 1, Instance: "p", Channel: "indicators"}, i*500, 500, epoch, "c"))
		}
		if problems, err := s.Check(ctx); err != nil || len(problems) != 0 {
			t.Fatalf("a sound database: %v %v", problems, err)
		}
		s.Close()
		return path
	}
	overwrite := func(t *testing.T, path string, at int64, n int) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte(strings.Repeat("\xa5", n)), at); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("header", func(t *testing.T) {
		path := build(t)
		overwrite(t, path, 0, 100)
		_, err := Open(ctx, Options{DSN: path})
		if intel.ErrorCode(err) != EDAMAGED || !strings.Contains(err.Error(), "flint check") {
			t.Errorf("open a file with a damaged header: %v", err)
		}
	})
	t.Run("pages", func(t *testing.T) {
		path := build(t)
		fi, _ := os.Stat(path)
		overwrite(t, path, fi.Size()/2/4096*4096, 4096*4) // four pages in the middle
		s, err := Open(ctx, Options{DSN: path})
		if err != nil {
			if intel.ErrorCode(err) != EDAMAGED {
				t.Fatalf("open: %v", err)
			}
			return // the quick check found it already
		}
		defer s.Close()
		problems, err := s.Check(ctx)
		if err != nil || len(problems) == 0 {
			t.Errorf("four damaged pages: problems %v, %v", problems, err)
		}
	})
}

// A file damaged under a running store makes Ready say so.
func TestReadyOnADamagedFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flint.db")
	s, err := Open(ctx, Options{DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil { // the pages now live in the file alone
		t.Fatal(err)
	}
	s.rdb.SetMaxIdleConns(0) // a new connection reads the file again
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	f.WriteAt([]byte(strings.Repeat("\xa5", int(fi.Size()))), 0)
	f.Close()
	if err := s.Ready(ctx); !Damaged(err) {
		t.Errorf("Ready on a damaged file: %v", err)
	}
}
