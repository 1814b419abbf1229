package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/store"
)

// values lists every object of a store as "type value", sorted.
func values(t *testing.T, st *store.Store) []string {
	t.Helper()
	var out []string
	q := store.Query{Limit: 1000}
	for {
		res, err := st.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			out = append(out, string(o.Type)+" "+o.Value)
		}
		if res.Next == "" {
			break
		}
		q.After = res.Next
	}
	slices.Sort(out)
	return out
}

// flint backup copies a SQLite store while a poll writes to it: the copy
// opens, passes the integrity check, and its cursor matches its data —
// polling on from the copy ends with exactly what the original holds.
func TestBackupWhilePolling(t *testing.T) {
	_, up := upstream(t, sim.Config{Seed: 5, Reports: 1, Vulnerabilities: 1, Indicators: 3000, IndicatorWindow: 10 * 24 * time.Hour})
	dir := t.TempDir()
	mustCLI(t, dir, sim.DefaultToken+"\n", "instance", "add", "main", "--base-url", up)
	mustCLI(t, dir, "", "channel", "set", "main", "indicators", "--enable", "--schedule", "manual")
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	open := func(dir string) *App {
		a, err := Open(ctx, dir, "", log)
		if err != nil {
			t.Fatal(err)
		}
		a.Scheduler.Addresses = &ignite.AddrPolicy{AllowLoopback: true}
		a.Scheduler.PageSize = 100
		return a
	}
	a := open(dir)
	defer a.Close()
	ch, err := a.Store.Channel(ctx, "main", feed.Indicators)
	if err != nil {
		t.Fatal(err)
	}
	// The poll's first page with objects is committed before the backup
	// starts; the next two are written while the backup runs; the one
	// after waits for it to end, so that the copy is taken mid-poll.
	firstPage, backupStarted, backupDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	pages := 0
	a.Scheduler.OnPage = func(run feed.PollRun) {
		if run.New == 0 {
			return
		}
		pages++
		switch pages {
		case 1:
			close(firstPage)
			<-backupStarted
		case 3:
			<-backupDone
		}
	}
	polled := make(chan error, 1)
	go func() {
		_, err := a.Scheduler.Poll(ctx, ch, feed.TriggerManual)
		polled <- err
	}()
	<-firstPage
	copyFile := filepath.Join(t.TempDir(), "backup.db")
	close(backupStarted)
	out, errs, code := cli(t, dir, "", "backup", copyFile)
	close(backupDone)
	if code != 0 || !strings.Contains(out, "integrity ok") || !strings.Contains(errs, secret.KeyFile) {
		t.Fatalf("backup: %d %s %s", code, out, errs)
	}
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(copyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v %v", fi, err)
	}
	if _, errs, code := cli(t, dir, "", "backup", copyFile); code == 0 || !strings.Contains(errs, "exists") {
		t.Errorf("a backup over an existing file: %d %s", code, errs)
	}
	want := values(t, a.Store)
	if len(want) < 3000 {
		t.Fatalf("the original holds %d objects", len(want))
	}

	// Restore: the copy as flint.db beside the key.
	rdir := t.TempDir()
	os.Rename(copyFile, filepath.Join(rdir, "flint.db"))
	key, _ := os.ReadFile(filepath.Join(dir, secret.KeyFile))
	os.WriteFile(filepath.Join(rdir, secret.KeyFile), key, 0o600)
	b := open(rdir)
	defer b.Close()
	if problems, err := b.Store.Check(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("check of the copy: %v %v", problems, err)
	}
	held := values(t, b.Store)
	bch, _ := b.Store.Channel(ctx, "main", feed.Indicators)
	runs, _ := b.Store.Polls(ctx, bch.ID, 10)
	if len(held) == 0 || len(held) >= len(want) || len(runs) != 1 || bch.Cursor == "" || runs[0].New != len(held) {
		t.Fatalf("the copy holds %d of %d objects, cursor %q, runs %+v", len(held), len(want), bch.Cursor, runs)
	}
	// Polling on from the copy's cursor ends where the original is.
	if _, err := b.Scheduler.Poll(ctx, bch, feed.TriggerManual); err != nil {
		t.Fatal(err)
	}
	if got := values(t, b.Store); !slices.Equal(got, want) {
		t.Errorf("polled on from the copy: %d objects, the original %d", len(got), len(want))
	}
}
