package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// A limit is shared by every store over one database: two PostgreSQL
// "replicas" together get the burst once, and each reservation takes the
// next slot whichever replica asks. (The rates are so slow that no slot
// frees itself while the test runs.)
func TestSharedRateLimits(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) { sharedRateLimits(t, dialect) })
	}
}

func sharedRateLimits(t *testing.T, dialect string) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "flint.db")
	if dialect == "postgres" {
		dsn = NewPostgresDB(t)
	}
	s := MustOpen(t, Options{DSN: dsn})
	replicas := []*Store{s}
	if s.Dialect() == Postgres {
		replicas = append(replicas, MustOpen(t, Options{DSN: dsn}))
	}
	r := Rate{PerSecond: 0.001, Burst: 4} // one slot in 1,000 s
	allowed := 0
	for i := range 10 {
		ok, err := replicas[i%len(replicas)].Allow(ctx, "apikey:1", r)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		}
	}
	if allowed != 4 {
		t.Errorf("allowed %d of 10 with a burst of 4", allowed)
	}
	if ok, _ := s.Allow(ctx, "apikey:2", r); !ok {
		t.Error("another key shares the first's limit")
	}
	// Reservations: the burst at once, then one slot every 100 s.
	slow := Rate{PerSecond: 0.01, Burst: 2}
	var waits []time.Duration
	for i := range 6 {
		d, err := replicas[i%len(replicas)].Reserve(ctx, "upstream:1", slow)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, d)
	}
	for i, d := range waits {
		want := time.Duration(max(i-1, 0)) * 100 * time.Second // the first two at once
		if d > want || d < want-30*time.Second {
			t.Errorf("reservation %d waits %v, want about %v", i, d, want)
		}
	}
}
