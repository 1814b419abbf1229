package store

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/flintcti/flint/internal/intel"
)

// On SQLite, a poll that begins its next page transaction as soon as it
// commits does not keep another channel's transaction waiting: they take
// turns, first come first served (SQLite's own lock, taken by polling, let
// a busy channel starve another past the busy timeout).
func TestPageTransactionsTakeTurns(t *testing.T) {
	c := &clock{t: epoch}
	s := MustOpen(t, Options{DSN: filepath.Join(t.TempDir(), "flint.db"), Now: c.Now})
	ctx := context.Background()
	busy, other := MustLease(t, s, 1), MustLease(t, s, 2)
	srcBusy := intel.Provenance{ChannelID: 1, Instance: "prod", Channel: "indicators"}
	srcOther := intel.Provenance{ChannelID: 2, Instance: "prod", Channel: "reports"}

	var done atomic.Int64 // transactions the busy channel has committed
	stop := make(chan struct{})
	chained := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				chained <- nil
				return
			default:
			}
			w, err := s.BeginPages(ctx, busy)
			if err == nil {
				_, err = w.Apply(ctx, ipv4Page(srcBusy, i*50, 50, c.Now(), strconv.Itoa(i)))
			}
			if err == nil {
				err = w.Commit(ctx)
			}
			if err != nil {
				chained <- err
				return
			}
			done.Add(1)
		}
	}()
	for done.Load() < 3 { // the busy channel is chaining transactions
		select {
		case err := <-chained:
			t.Fatal(err)
		default:
		}
	}
	before := done.Load()
	w, err := s.BeginPages(ctx, other)
	if err != nil {
		t.Fatalf("the other channel could not begin: %v", err)
	}
	waited := done.Load() - before
	if _, err := w.Apply(ctx, ipv4Page(srcOther, 100000, 10, c.Now(), "x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if err := <-chained; err != nil {
		t.Fatal(err)
	}
	// The transaction in progress when it asked, and at most one begun as
	// it asked.
	if waited > 2 {
		t.Errorf("the other channel waited while the busy one committed %d transactions", waited)
	}
}
