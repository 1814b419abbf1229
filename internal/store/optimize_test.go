package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/bench/gen"
	"github.com/flintcti/flint/internal/intel"
)

// After Optimize, every read connection plans with the new statistics, not
// only the one that gathered them. A read connection that served lookups
// before a load of vulnerabilities kept planning a vulnerability search by
// the figures it had loaded then, and scanned every object (70 ms instead
// of 3 at 100,000 indicators, 150 at 200,000).
func TestOptimizeReachesEveryReadConnection(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, Options{DSN: filepath.Join(t.TempDir(), "flint.db")})
	l := MustLease(t, s, 1)
	for i := 0; i < 100000; i += 500 {
		p := Page{Source: prodIndicators, Collection: "c", Cursor: fmt.Sprint(i)}
		for j := i; j < i+500; j++ {
			p.Objects = append(p.Objects, gen.Indicator(j, gen.Epoch, gen.Mixed...))
		}
		MustApply(t, s, l, p)
	}
	if err := s.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 100; k++ { // the read connections load the schema and these statistics
		if _, err := s.Lookup(ctx, []string{gen.Indicator(k*7, gen.Epoch, gen.Mixed...).Value}); err != nil {
			t.Fatal(err)
		}
	}
	vl := MustLease(t, s, 2)
	r := rand.New(rand.NewPCG(1, 2))
	src := intel.Provenance{ChannelID: 2, Instance: "prod", Channel: "vulnerabilities"}
	for i := 0; i < 30000; i += 500 {
		p := Page{Source: src, Collection: "v", Cursor: fmt.Sprint(i)}
		for j := i; j < i+500; j++ {
			v, sw, rels := gen.Vulnerability(j, r)
			p.Objects = append(append(p.Objects, v), sw...)
			p.Relationships = append(p.Relationships, rels...)
		}
		MustApply(t, s, vl, p)
	}
	if err := s.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	lo, hi := 5.0, 6.0
	if _, err := s.Search(ctx, Query{CVSSv3: Range{Min: &lo, Max: &hi}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ { // the pool's connections, the most recently used first
		conn, err := s.rdb.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		rows, err := conn.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT o.id FROM objects o JOIN vulnerabilities v ON v.object_id = o.id
			WHERE +v.cvss_v3 >= ? AND +v.cvss_v3 <= ? ORDER BY v.object_id LIMIT 101`, 5.0, 6.0)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
		}
		rows.Close()
		if plan := strings.Join(steps, "; "); !strings.HasPrefix(plan, "SCAN v;") {
			t.Errorf("read connection %d plans %q after Optimize; want it to walk the vulnerabilities (SCAN v), as the new statistics say", i, plan)
		}
	}
}
