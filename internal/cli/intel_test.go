package cli

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// The intelligence commands give the API's answers, straight from the store.
func TestLookupSearchAndKeyCommands(t *testing.T) {
	s := sim.New(sim.Config{Seed: 3, Reports: 5, Vulnerabilities: 80, Indicators: 300, Now: time.Now().UTC().Truncate(time.Second),
		IndicatorWindow: 10 * 24 * time.Hour, VulnWindow: 10 * 24 * time.Hour, ReportWindow: 10 * 24 * time.Hour})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	dir := t.TempDir()
	if _, errs, code := cli(t, dir, sim.DefaultToken+"\n", "instance", "add", "main", "--base-url", srv.URL); code != 0 {
		t.Fatal(errs)
	}
	for _, ch := range []string{"indicators", "vulnerabilities"} {
		if _, errs, code := cli(t, dir, "", "channel", "set", "main", ch, "--enable"); code != 0 {
			t.Fatal(errs)
		}
		if _, errs, code := cli(t, dir, "", "channel", "poll", "main", ch); code != 0 {
			t.Fatal(errs)
		}
	}

	// search --json pages like the API.
	out, errs, code := cli(t, dir, "", "--json", "search", "--type", "ipv4,domain", "--limit", "1000")
	var res store.Result
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Objects) == 0 {
		t.Fatalf("search: %d %s %s", code, out, errs)
	}
	for _, o := range res.Objects {
		if o.Type != intel.IPv4 && o.Type != intel.Domain {
			t.Fatalf("search --type ipv4,domain gave %s", o.Type)
		}
	}
	known := res.Objects[0]
	if _, errs, code := cli(t, dir, "", "search", "--limit", "0"); code == 0 || !strings.Contains(errs, "limit") {
		t.Errorf("limit 0: %d %s", code, errs)
	}

	// lookup: arguments or standard input; the API's answer per value.
	out, _, code = cli(t, dir, "", "--json", "lookup", known.Value, "192.0.2.77")
	var lk struct{ Results []service.LookupAnswer }
	if code != 0 || json.Unmarshal([]byte(out), &lk) != nil || len(lk.Results) != 2 || !lk.Results[0].Known || lk.Results[1].Known ||
		lk.Results[0].ObjectID != known.ID || len(lk.Results[0].Sources) != 1 {
		t.Fatalf("lookup: %d %s", code, out)
	}
	out, _, code = cli(t, dir, known.Value+"\n\nexample.invalid\n", "lookup")
	if code != 0 || !strings.Contains(out, known.Value) || !strings.Contains(out, "yes") || !strings.Contains(out, "example.invalid") {
		t.Errorf("lookup from stdin: %d %s", code, out)
	}
	// --fail-unknown: status 3 when a value is unknown or invalid, 0 when all are known.
	if _, _, code = cli(t, dir, "", "lookup", "--fail-unknown", known.Value, "192.0.2.77"); code != 3 {
		t.Errorf("lookup --fail-unknown with an unknown value: exit %d", code)
	}
	if _, _, code = cli(t, dir, "", "lookup", "--fail-unknown", known.Value); code != 0 {
		t.Errorf("lookup --fail-unknown with known values: exit %d", code)
	}
	out, _, _ = cli(t, dir, "", "lookup", "not a value at all")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasSuffix(lines[0], "WHY INVALID") ||
		strings.Count(lines[1], " - ") < 5 {
		t.Errorf("an invalid value's reason is not in its own column:\n%s", out)
	}

	// export stix: a bundle to standard output, or written whole into a bundleFile.
	out, errs, code = cli(t, dir, "", "export", "stix", "--type", "ipv4")
	var bundle struct {
		Type    string
		Objects []struct{ Type, ID string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &bundle) != nil || bundle.Type != "bundle" || !strings.Contains(errs, "exported") {
		t.Fatalf("export stix: %d %.300s %s", code, out, errs)
	}
	indicators := 0
	for _, o := range bundle.Objects {
		if o.Type == "indicator" {
			indicators++
		}
	}
	ipv4, _, _ := cli(t, dir, "", "--json", "search", "--type", "ipv4", "--limit", "1000")
	var ipv4s store.Result
	if json.Unmarshal([]byte(ipv4), &ipv4s) != nil || indicators != len(ipv4s.Objects) || indicators == 0 {
		t.Errorf("export stix --type ipv4: %d indicators for %d ipv4 objects", indicators, len(ipv4s.Objects))
	}
	bundleFile := filepath.Join(t.TempDir(), "bundle.json")
	if _, errs, code := cli(t, dir, "", "export", "stix", "-o", bundleFile); code != 0 {
		t.Fatalf("export stix -o: %d %s", code, errs)
	}
	if raw, err := os.ReadFile(bundleFile); err != nil || json.Unmarshal(raw, &bundle) != nil || len(bundle.Objects) <= indicators {
		t.Errorf("export stix -o: %v, %d objects", err, len(bundle.Objects))
	}
	if fi, err := os.Stat(bundleFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the bundle bundleFile: %v, mode %v; want 0600 (it may hold TLP:RED intelligence)", err, fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Dir(bundleFile)); len(entries) != 1 {
		t.Errorf("export left %d files beside the bundle", len(entries)-1)
	}
	if _, errs, code := cli(t, dir, "", "export", "stix", "--type", "nonsense", "-o", bundleFile+"2"); code == 0 || !strings.Contains(errs, "nonsense") {
		t.Errorf("export stix with a bad type: %d %s", code, errs)
	} else if _, err := os.Stat(bundleFile + "2"); !os.IsNotExist(err) {
		t.Errorf("a refused export wrote its bundleFile: %v", err)
	}

	// vuln search.
	out, errs, code = cli(t, dir, "", "--json", "vuln", "search", "--min-cvss3", "7", "--sort=-cvss3")
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Objects) == 0 {
		t.Fatalf("vuln search: %d %s %s", code, out, errs)
	}
	for _, o := range res.Objects {
		if o.Vulnerability.CVSSv3 == nil || o.Vulnerability.CVSSv3.Score < 7 {
			t.Fatalf("vuln search --min-cvss3 7 gave %s", o.Value)
		}
	}
	if _, errs, code := cli(t, dir, "", "vuln", "search", "--min-cvss3", "eleven"); code == 0 || !strings.Contains(errs, "min_cvss3") {
		t.Errorf("bad cvss: %d %s", code, errs)
	}

	// cmdb match: a product of a stored vulnerability, by name only.
	var prod string
	for _, o := range res.Objects {
		if len(o.Vulnerability.Products) > 0 {
			prod = o.Vulnerability.Products[0].Product
			break
		}
	}
	file := filepath.Join(t.TempDir(), "cmdb.csv")
	if err := os.WriteFile(file, []byte("asset,product\nsrv-1,\""+prod+"\"\nsrv-2,nothing-like-it\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code = cli(t, dir, "", "cmdb", "match", file)
	if code != 0 || !strings.Contains(out, "srv-1") || !strings.Contains(out, "name_only") || !strings.Contains(out, "2 assets, 1 vulnerable") {
		t.Errorf("cmdb match: %d %s %s", code, out, errs)
	}
	if _, errs, code := cli(t, dir, "owner\nx\n", "cmdb", "match", "-"); code == 0 || !strings.Contains(errs, "neither product nor cpe") {
		t.Errorf("cmdb without product column: %d %s", code, errs)
	}

	// apikey: created once, listed without the key, revoked; each change audited.
	out, errs, code = cli(t, dir, "", "apikey", "create", "--name", "siem", "--role", "analyst", "--max-tlp", "green")
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, "flint_") || !strings.Contains(errs, "shown this once") {
		t.Fatalf("create: %d %q %s", code, out, errs)
	}
	out, _, _ = cli(t, dir, "", "apikey", "list")
	if strings.Contains(out, token) || !strings.Contains(out, "siem") || !strings.Contains(out, "green") {
		t.Errorf("list: %s", out)
	}
	if _, errs, code := cli(t, dir, "", "apikey", "create", "--name", "x", "--role", "root"); code == 0 || !strings.Contains(errs, "admin, feed-manager, analyst") {
		t.Errorf("bad role: %d %s", code, errs)
	}
	if out, _, code := cli(t, dir, "", "apikey", "revoke", "1"); code != 0 || !strings.Contains(out, "revoked") {
		t.Errorf("revoke: %d %s", code, out)
	}
	if out, _, code := cli(t, dir, "", "apikey", "revoke", "1"); code != 0 || !strings.Contains(out, "already revoked") {
		t.Errorf("revoke again: %d %s", code, out)
	}
	a, err := Open(t.Context(), dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	trail, err := a.Store.AuditTrail(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range trail {
		actions = append(actions, r.Action)
		if !strings.HasPrefix(r.Actor, "cli:") || strings.Contains(string(r.Detail), sim.DefaultToken) {
			t.Errorf("record %+v", r)
		}
	}
	if got := strings.Join(actions, ","); got != "key.revoke,key.create,channel.poll,channel.update,channel.poll,channel.update,instance.create" {
		t.Errorf("audit: %s", got)
	}
}
