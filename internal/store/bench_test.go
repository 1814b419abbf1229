package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/bench/gen"
	"github.com/flintcti/flint/internal/intel"
)

// benchDBs runs a benchmark on SQLite, and on PostgreSQL when TEST_POSTGRES_DSN is set.
func benchDBs(b *testing.B, f func(b *testing.B, s *Store)) {
	b.Run("sqlite", func(b *testing.B) {
		f(b, MustOpen(b, Options{DSN: filepath.Join(b.TempDir(), "flint.db")}))
	})
	b.Run("postgres", func(b *testing.B) {
		f(b, MustOpen(b, Options{DSN: NewPostgresDB(b)}))
	})
}

func benchPage(from, n int, reported time.Time) Page {
	p := Page{Source: prodIndicators, Collection: "prod Indicators", Cursor: fmt.Sprint(from + n)}
	p.Objects = make([]intel.Object, n)
	for i := range p.Objects {
		p.Objects[i] = gen.Indicator(from+i, reported, intel.IPv4)
	}
	return p
}

const benchPageSize = 500

// BenchmarkApplyPageNew writes pages of 500 new indicators.
func BenchmarkApplyPageNew(b *testing.B) {
	benchDBs(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		l := MustLease(b, s, 1)
		pages := make([]Page, b.N)
		for i := range pages {
			pages[i] = benchPage(i*benchPageSize, benchPageSize, epoch)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.ApplyPage(ctx, l, pages[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*benchPageSize)/b.Elapsed().Seconds(), "indicators/s")
	})
}

// BenchmarkApplyPageUnchanged re-reads pages of 500 stored, unchanged indicators.
func BenchmarkApplyPageUnchanged(b *testing.B) {
	benchDBs(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		l := MustLease(b, s, 1)
		const stored = 100 * benchPageSize
		for i := 0; i < stored; i += benchPageSize {
			MustApply(b, s, l, benchPage(i, benchPageSize, epoch))
		}
		if err := s.Optimize(ctx); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c, err := s.ApplyPage(ctx, l, benchPage(i*benchPageSize%stored, benchPageSize, epoch))
			if err != nil {
				b.Fatal(err)
			}
			if c.Unchanged != benchPageSize {
				b.Fatalf("counts %+v", c)
			}
		}
		b.ReportMetric(float64(b.N*benchPageSize)/b.Elapsed().Seconds(), "indicators/s")
	})
}
