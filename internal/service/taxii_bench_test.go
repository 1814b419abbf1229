package service_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/bench"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/taxii"
)

// A walk of a collection of 50,000 indicators by next, in pages of 1,000
// (flint bench outlets measures it over HTTP at 1,000,000).
func BenchmarkTAXIIPage(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{DSN: filepath.Join(b.TempDir(), "f.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := bench.Store(ctx, s, bench.StoreConfig{Indicators: 50000, Lookups: 1}, bench.Env{}); err != nil {
		b.Fatal(err)
	}
	svc := &service.Service{Store: s}
	p := auth.Operator("x")
	id := taxii.CollectionID("bench Indicators")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next := ""
		for {
			pg, err := svc.TAXIIObjects(ctx, p, id, taxii.Filter{Limit: 1000, Next: next})
			if err != nil {
				b.Fatal(err)
			}
			if !pg.More {
				break
			}
			next = pg.Next
		}
	}
}

// Building the STIX id index of 50,000 indicators.
func BenchmarkIndexSTIX(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := store.Open(ctx, store.Options{DSN: filepath.Join(b.TempDir(), "f.db")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bench.Store(ctx, s, bench.StoreConfig{Indicators: 50000, Lookups: 1}, bench.Env{}); err != nil {
			b.Fatal(err)
		}
		svc := &service.Service{Store: s}
		b.StartTimer()
		if err := svc.IndexSTIX(ctx); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
