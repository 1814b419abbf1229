package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// Matching after a poll takes only what the poll stored or changed: a new
// vulnerability opens its exposure without the others being matched again;
// one changed so that the asset's version is no longer affected resolves
// its exposure; nothing changed, nothing matched. Before any matching, it
// matches everything.
func TestMatchChanged(t *testing.T) {
	svc, c := newService(t)
	ctx := context.Background()
	op := auth.Operator("root")
	page := 0
	write := func(cve string, versions, fixed []string) {
		t.Helper()
		page++
		c.add(time.Minute)
		l, err := svc.Store.AcquireLease(ctx, 9, "test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		at := c.now()
		sw := intel.Object{Type: intel.Software, Value: "acme:widget", TLP: intel.TLPClear, Confidence: 100, Created: at, Modified: at,
			Details: intel.Details{Software: &intel.SoftwareDetail{Vendor: "Acme", Product: "Widget"}}}
		v := intel.Object{Type: intel.Vulnerability, Value: cve, TLP: intel.TLPAmber, Confidence: 100, Created: at, Modified: at,
			Details: intel.Details{Vulnerability: &intel.VulnerabilityDetail{Products: []intel.ProductRef{
				{Vendor: "Acme", Product: "Widget", Versions: versions, Fixed: fixed}}}}}
		if _, err := svc.Store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: 9, Instance: "t", Channel: "vulnerabilities"},
			Collection: "v", Cursor: cve + string(rune('a'+page)), Objects: []intel.Object{v, sw},
			Relationships: []intel.Relationship{{Source: v.Ref(), Type: intel.RelHas, Target: sw.Ref()}}}); err != nil {
			t.Fatal(err)
		}
		if err := svc.Store.ReleaseLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	state := func(cve string) string {
		t.Helper()
		xs, err := svc.Exposures(ctx, op, store.ExposureQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range xs {
			if x.Vuln == cve {
				return x.State
			}
		}
		return ""
	}
	write("CVE-2026-0001", []string{"1.0"}, nil)
	if _, err := svc.ImportInventory(ctx, op, []cmdb.Asset{{AssetID: "h1", Vendor: "Acme", Product: "Widget", Version: "1.0"},
		{AssetID: "h2", Vendor: "Acme", Product: "Widget", Version: "3.0"}}, false); err != nil {
		t.Fatal(err)
	}
	if s := state("CVE-2026-0001"); s != store.ExposureOpen {
		t.Fatalf("after the import: %q", s)
	}
	if n, err := svc.MatchChanged(ctx); err != nil || n != (store.ExposureCounts{}) {
		t.Fatalf("nothing changed since the import's matching: %+v %v", n, err)
	}
	write("CVE-2026-0002", []string{"1.0", "3.0"}, nil)
	n, err := svc.MatchChanged(ctx)
	if err != nil || n.Opened != 2 || n.Seen != 0 {
		t.Fatalf("a new vulnerability of both assets: %+v %v (the first is not matched again)", n, err)
	}
	write("CVE-2026-0001", []string{"0.9"}, []string{"1.0"}) // 1.0 is now the fix
	if n, err = svc.MatchChanged(ctx); err != nil || n.Resolved != 1 || n.Opened != 0 {
		t.Fatalf("a vulnerability changed: %+v %v", n, err)
	}
	if s := state("CVE-2026-0001"); s != store.ExposureResolved {
		t.Errorf("CVE-2026-0001 after 1.0 became its fix: %q", s)
	}
	if s := state("CVE-2026-0002"); s != store.ExposureOpen {
		t.Errorf("CVE-2026-0002: %q", s)
	}
}

// One matcher at a time across processes: while another holds the match
// lease, matching says so and matches nothing; once it is released, or has
// lapsed (its holder died), matching goes on; an import waits for it.
func TestMatchLease(t *testing.T) {
	svc, c := newService(t)
	svc.Holder = "this"
	ctx := context.Background()
	op := auth.Operator("root")
	if _, err := svc.ImportInventory(ctx, op, []cmdb.Asset{{AssetID: "h1", Vendor: "Acme", Product: "Widget", Version: "1.0"}}, false); err != nil {
		t.Fatal(err)
	}
	if ok, err := svc.Store.AcquireMatchLease(ctx, "other", 2*time.Minute); !ok || err != nil {
		t.Fatalf("the other process's lease: %v %v", ok, err)
	}
	if _, err := svc.MatchChanged(ctx); !errors.Is(err, service.ErrMatchBusy) {
		t.Fatalf("matching while another holds the lease: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := svc.RematchInventory(ctx); done <- err }()
	if err := svc.Store.ReleaseMatchLease(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the import's matching after the release: %v", err)
	}
	if _, err := svc.MatchChanged(ctx); err != nil {
		t.Fatalf("after the release: %v", err)
	}
	// A holder that died: its lease lapses.
	if ok, _ := svc.Store.AcquireMatchLease(ctx, "dead", 2*time.Minute); !ok {
		t.Fatal("a free lease was refused")
	}
	if _, err := svc.MatchChanged(ctx); !errors.Is(err, service.ErrMatchBusy) {
		t.Fatalf("while the dead holder's lease runs: %v", err)
	}
	c.add(3 * time.Minute)
	if _, err := svc.MatchChanged(ctx); err != nil {
		t.Fatalf("after the dead holder's lease lapsed: %v", err)
	}
}
