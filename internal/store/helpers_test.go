package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store/storetest"
)

// clock is a settable clock for store tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// forEachDB runs f against a fresh SQLite file and a fresh PostgreSQL
// database (when TEST_POSTGRES_DSN is set; FLINT_REQUIRE_POSTGRES=1 makes
// its absence a failure, as in CI).
func forEachDB(t *testing.T, f func(t *testing.T, s *Store, c *clock)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		c := &clock{t: epoch}
		s := MustOpen(t, Options{DSN: filepath.Join(t.TempDir(), "flint.db"), Now: c.Now})
		f(t, s, c)
	})
	t.Run("postgres", func(t *testing.T) {
		c := &clock{t: epoch}
		s := MustOpen(t, Options{DSN: NewPostgresDB(t), Now: c.Now})
		f(t, s, c)
	})
}

// MustOpen opens a store and closes it when the test ends.
func MustOpen(tb testing.TB, opts Options) *Store {
	tb.Helper()
	s, err := Open(context.Background(), opts)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// NewPostgresDB creates an empty database on the test server (storetest).
func NewPostgresDB(tb testing.TB) string { return storetest.NewPostgresDB(tb) }

// MustLease acquires the lease of a channel for a minute.
func MustLease(tb testing.TB, s *Store, channel int64) Lease {
	tb.Helper()
	l, err := s.AcquireLease(context.Background(), channel, "test", time.Minute)
	if err != nil {
		tb.Fatalf("acquire lease: %v", err)
	}
	return l
}

// MustApply writes a page and returns its counts.
func MustApply(tb testing.TB, s *Store, l Lease, p Page) Counts {
	tb.Helper()
	c, err := s.ApplyPage(context.Background(), l, p)
	if err != nil {
		tb.Fatalf("apply page: %v", err)
	}
	return c
}

var (
	prodIndicators = intel.Provenance{ChannelID: 1, Instance: "prod", Channel: "indicators"}
	labReports     = intel.Provenance{ChannelID: 2, Instance: "lab", Channel: "reports"}
	prodVulns      = intel.Provenance{ChannelID: 3, Instance: "prod", Channel: "vulnerabilities"}
)

// ipv4 returns the i-th test indicator, reported at the given time.
func ipv4(i int, reported time.Time) intel.Object {
	return intel.Object{
		Type: intel.IPv4, Value: fmt.Sprintf("198.%d.%d.%d", 18+i>>16&1, i>>8&255, i&255),
		TLP: intel.TLPAmber, Confidence: 80, Score: intel.ScoreMalicious, Tags: []string{"malware:emotet"},
		FirstSeen: reported.Add(-time.Hour), LastSeen: reported, Reported: reported,
		ValidUntil: reported.Add(90 * 24 * time.Hour), OriginalID: fmt.Sprintf("fp-%d", i),
	}
}

func ipv4Page(src intel.Provenance, from, n int, reported time.Time, cursor string) Page {
	p := Page{Source: src, Collection: src.Instance + " Indicators", Cursor: cursor}
	for i := from; i < from+n; i++ {
		p.Objects = append(p.Objects, ipv4(i, reported))
	}
	return p
}

func count(tb testing.TB, s *Store, q Query) int64 {
	tb.Helper()
	n, err := s.Count(context.Background(), q)
	if err != nil {
		tb.Fatalf("count: %v", err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }
