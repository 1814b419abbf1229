package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// exposures lists the exposures through the command line.
func exposures(t *testing.T, dir string, args ...string) []store.Exposure {
	t.Helper()
	var out []store.Exposure
	if err := json.Unmarshal([]byte(mustCLI(t, dir, "", append([]string{"--json", "exposures"}, args...)...)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// vulnerableProduct takes a first look at the simulator's data (it is
// deterministic) for a vulnerability, above TLP:CLEAR, that lists an
// affected and a fixed version of a product.
func vulnerableProduct(t *testing.T, cfg sim.Config) (intel.Object, intel.ProductRef) {
	t.Helper()
	_, probeURL := upstream(t, cfg)
	probe := t.TempDir()
	mustCLI(t, probe, sim.DefaultToken+"\n", "instance", "add", "main", "--base-url", probeURL)
	mustCLI(t, probe, "", "channel", "set", "main", "vulnerabilities", "--enable", "--schedule", "manual")
	mustCLI(t, probe, "", "channel", "poll", "main", "vulnerabilities")
	var vulns []intel.Object
	if err := json.Unmarshal([]byte(mustCLI(t, probe, "", "--json", "vuln", "search", "--limit", "1000")), &struct {
		Objects *[]intel.Object `json:"objects"`
	}{&vulns}); err != nil {
		t.Fatal(err)
	}
	var vuln intel.Object
	var prod intel.ProductRef
	for _, v := range vulns {
		for _, p := range v.Vulnerability.Products {
			if len(p.Versions) > 0 && len(p.Fixed) > 0 && v.TLP != intel.TLPClear && prod.Product == "" {
				vuln, prod = v, p
			}
		}
	}
	if prod.Product == "" {
		t.Fatalf("no vulnerability among %d lists an affected and a fixed version of a product", len(vulns))
	}
	return vuln, prod
}

// The stored inventory is matched when a poll brings vulnerabilities and
// when it is imported: a match opens an exposure with how and why; it can
// be acknowledged; a version moved to a fixed one resolves it, and back
// reopens it; a dismissal needs a reason and outlasts matching; a capped
// reader sees no exposure of a vulnerability above its cap.
func TestExposures(t *testing.T) {
	cfg := sim.Config{Seed: 9, Reports: 1, Vulnerabilities: 150, Indicators: 1, VulnWindow: 20 * 24 * time.Hour,
		Now: time.Now().UTC().Truncate(time.Second)}
	vuln, prod := vulnerableProduct(t, cfg)

	// The inventory first, then a poll: serve's matching after the poll
	// opens the exposure.
	_, up := upstream(t, cfg)
	dir := t.TempDir()
	mustCLI(t, dir, sim.DefaultToken+"\n", "instance", "add", "main", "--base-url", up)
	mustCLI(t, dir, "", "channel", "set", "main", "vulnerabilities", "--enable", "--schedule", "auto", "--interval", "10080")
	file := filepath.Join(dir, "cmdb.csv")
	inventory := func(version string) string {
		os.WriteFile(file, []byte(fmt.Sprintf("asset_id,asset,vendor,product,version\nsrv-1,web-01,%s,%s,%s\n", prod.Vendor, prod.Product, version)), 0o600)
		return mustCLI(t, dir, "", "cmdb", "import", file)
	}
	if out := inventory(prod.Versions[0]); !strings.Contains(out, "exposures: 0 opened") {
		t.Fatalf("an import before any vulnerability: %s", out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Open(ctx, dir, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Scheduler.Addresses = &ignite.AddrPolicy{AllowLoopback: true}
	ch, _ := a.Store.Channel(ctx, "main", feed.Vulnerabilities)
	a.Store.SaveHealth(ctx, ch.ID, ch.Health, time.Now().Add(-time.Second)) // due now
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	op := auth.Operator("test")
	var open []store.Exposure
	for {
		if open, err = a.Service.Exposures(ctx, op, store.ExposureQuery{AssetID: "srv-1", Limit: 1000}); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(open, func(e store.Exposure) bool { return e.Vuln == vuln.Value }) {
			break
		}
		select {
		case err := <-ran:
			t.Fatalf("serve ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	<-ran
	i := slices.IndexFunc(open, func(e store.Exposure) bool { return e.Vuln == vuln.Value })
	x := open[i]
	if x.State != store.ExposureOpen || x.How != "product_version" || !strings.Contains(x.Reason, "listed as affected") ||
		x.AssetID != "srv-1" || x.Asset != "web-01" {
		t.Fatalf("the exposure: %+v", x)
	}
	id := fmt.Sprint(x.ID)

	// Acknowledged, once.
	if out := mustCLI(t, dir, "", "exposures", "ack", id); !strings.Contains(out, "acknowledged") {
		t.Errorf("ack: %s", out)
	}
	if _, errs, code := cli(t, dir, "", "exposures", "ack", id); code == 0 || !strings.Contains(errs, "not open") {
		t.Errorf("ack twice: %d %s", code, errs)
	}
	state := func() store.Exposure {
		for _, e := range exposures(t, dir, "--asset", "srv-1") {
			if e.ID == x.ID {
				return e
			}
		}
		t.Fatalf("exposure %d is gone", x.ID)
		return store.Exposure{}
	}
	// The version moves to a fixed one: resolved; back: open again.
	inventory(prod.Fixed[0])
	if e := state(); e.State != store.ExposureResolved || !strings.Contains(e.StateReason, "no longer matches") {
		t.Errorf("after moving to the fixed version %s: %+v", prod.Fixed[0], e)
	}
	if got := exposures(t, dir, "--state", "resolved"); !slices.ContainsFunc(got, func(e store.Exposure) bool { return e.ID == x.ID }) {
		t.Errorf("--state resolved lists %+v", got)
	}
	inventory(prod.Versions[0])
	if e := state(); e.State != store.ExposureOpen {
		t.Errorf("after moving back: %+v", e)
	}
	// Dismissed with a reason, which matching again keeps.
	if _, errs, code := cli(t, dir, "", "exposures", "dismiss", id, "--reason", " "); code == 0 || !strings.Contains(errs, "reason") {
		t.Errorf("dismiss without a reason: %d %s", code, errs)
	}
	mustCLI(t, dir, "", "exposures", "dismiss", id, "--reason", "the service is not exposed")
	mustCLI(t, dir, "", "exposures", "rematch")
	if e := state(); e.State != store.ExposureDismissed || e.StateReason != "the service is not exposed" || e.StateBy == "" {
		t.Errorf("after dismissing and matching again: %+v", e)
	}
	// A reader capped below the vulnerability's TLP sees nothing of it.
	capped := &auth.Principal{Name: "k", Role: auth.Analyst, MaxTLP: intel.TLPClear}
	if got, err := a.Service.Exposures(context.Background(), capped, store.ExposureQuery{Limit: 1000}); err != nil ||
		slices.ContainsFunc(got, func(e store.Exposure) bool { return e.ID == x.ID }) {
		t.Errorf("a clear-capped reader sees the %s exposure: %v", vuln.TLP, err)
	}
	if _, err := a.Service.AcknowledgeExposure(context.Background(), capped, x.ID); intel.ErrorCode(err) != intel.ENOTFOUND {
		t.Errorf("a clear-capped reader acts on it: %v", err)
	}
	// Each change is audited.
	recs, _, _ := a.Service.AuditTrail(context.Background(), op, 0, 100)
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
	}
	for _, want := range []string{"exposure.acknowledge", "exposure.dismiss", "inventory.import"} {
		if !slices.Contains(actions, want) {
			t.Errorf("no %s in the audit trail: %v", want, actions)
		}
	}
}
