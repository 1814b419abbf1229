package bench

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/flintcti/flint/internal/store"
)

// The store benchmark runs end to end on a small store and reports every
// figure (it fails itself when a re-read is not all unchanged or a lookup
// misses).
func TestStoreBenchmarkSmall(t *testing.T) {
	s, err := store.Open(context.Background(), store.Options{DSN: filepath.Join(t.TempDir(), "flint.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var msgs []string
	res, err := Store(t.Context(), s, StoreConfig{Indicators: 2000, Vulnerabilities: 300, Reread: 1000, Lookups: 50, Searches: 3},
		Env{Progress: func(m string) { msgs = append(msgs, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.NewPerSecond <= 0 || res.UnchangedPerSecond <= 0 || res.LookupP99Micros <= 0 || res.BytesPerMillion <= 0 ||
		res.VulnPerSecond <= 0 || res.ProductSearchP99Ms <= 0 || res.CVSSSearchP99Ms <= 0 || len(msgs) == 0 {
		t.Errorf("result %+v, progress %q", res, msgs)
	}
	n, err := s.Count(t.Context(), store.Query{})
	if err != nil || n < 2300 {
		t.Errorf("%d objects stored (%v); want the 2,000 indicators, 300 vulnerabilities and their products", n, err)
	}
}
