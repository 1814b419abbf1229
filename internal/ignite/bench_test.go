package ignite_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
)

// pageBody returns one page of size indicators as the simulator serves it.
func pageBody(b *testing.B, s *sim.Server, query string) []byte {
	b.Helper()
	req := httptest.NewRequest("GET", ignite.PathIndicators+"?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+sim.DefaultToken)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body, _ := io.ReadAll(rec.Body)
	return body
}

// BenchmarkDecodeIndicatorsPage measures the client's decoding of a
// 1000-indicator page on one goroutine.
func BenchmarkDecodeIndicatorsPage(b *testing.B) {
	for _, tc := range []struct{ name, query string }{
		{"plain", "size=1000&sort=modified_at:asc&modified_after=-60d"},
		{"embed=all", "size=500&sort=modified_at:asc&modified_after=-60d&embed=all"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := sim.New(sim.Config{Seed: 1, Indicators: 5000, Now: simNow})
			body := pageBody(b, s, tc.query)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				k, err := ignite.DecodeIndicatorsPage(body)
				if err != nil {
					b.Fatal(err)
				}
				n += k
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "indicators/s")
		})
	}
}

// BenchmarkFetchIndicators pages 100,000 indicators from the simulator over
// loopback HTTP (simulator and client in one process).
func BenchmarkFetchIndicators(b *testing.B) {
	s := sim.New(sim.Config{Seed: 1, Indicators: 100_000, Now: simNow})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c, err := ignite.New(ignite.Options{BaseURL: srv.URL, Token: sim.DefaultToken, RateLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		p := c.Indicators(ignite.IndicatorQuery{Size: 1000, Sort: "modified_at:asc", ModifiedAfter: simNow.Add(-61 * 24 * time.Hour)})
		for p.More() {
			page, err := p.Next(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			n += len(page.Items)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "indicators/s")
}

// BenchmarkSimServeIndicators measures the simulator alone: sequential
// 1000-item pages rendered to a recorder.
func BenchmarkSimServeIndicators(b *testing.B) {
	s := sim.New(sim.Config{Seed: 1, Indicators: 1_000_000, Now: simNow})
	h := s.Handler()
	from, n := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", ignite.PathIndicators+"?size=1000&sort=modified_at:asc&modified_after=-61d&from="+itoa(from), nil)
		req.Header.Set("Authorization", "Bearer "+sim.DefaultToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		from += 1000
		n += 1000
		if from >= 900_000 {
			from = 0
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "indicators/s")
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}
