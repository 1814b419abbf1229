package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/outlet"
)

// The blocklist and allow-list commands define what /edl serves; a
// firewall's key reads its list and nothing else.
func TestEdlAndAllowCommands(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := cli(t, dir, "", "edl", "add", "fw", "--type", "ipv4,domain", "--type", "url", "--min-score", "suspicious",
		"--max-tlp", "AMBER", "--exclude-deprecated", "--format", "paloalto")
	if code != 0 || !strings.Contains(out, "/edl/fw") {
		t.Fatalf("edl add: %d %s %s", code, out, errs)
	}
	if _, errs, code := cli(t, dir, "", "edl", "add", "Bad Name", "--type", "cats", "--format", "xml"); code == 0 ||
		!strings.Contains(errs, "name") || !strings.Contains(errs, "cats") || !strings.Contains(errs, "xml") {
		t.Errorf("bad list: %d %s", code, errs)
	}
	out, _, code = cli(t, dir, "", "--json", "edl", "list")
	var ls []outlet.List
	if code != 0 || json.Unmarshal([]byte(out), &ls) != nil || len(ls) != 1 || ls[0].Format != outlet.PaloAlto || ls[0].MaxTLP != "amber" ||
		!ls[0].ExcludeDeprecated || len(ls[0].Types) != 3 || ls[0].MinScore != "suspicious" {
		t.Fatalf("edl list: %d %s", code, out)
	}
	out, errs, code = cli(t, dir, "", "edl", "key", "fw")
	token := strings.TrimSpace(out)
	if code != 0 || !auth.LooksLikeKey(token) || !strings.Contains(errs, "/edl/fw") {
		t.Fatalf("edl key: %d %q %s", code, out, errs)
	}
	out, _, _ = cli(t, dir, "", "--json", "apikey", "list")
	var keys []auth.Key
	if json.Unmarshal([]byte(out), &keys) != nil || len(keys) != 1 || keys[0].List != "fw" || keys[0].MaxTLP != "amber" {
		t.Errorf("the firewall's key: %s", out)
	}
	if _, errs, code := cli(t, dir, "", "edl", "key", "nosuch"); code == 0 || !strings.Contains(errs, "nosuch") {
		t.Errorf("a key for a list that does not exist: %d %s", code, errs)
	}

	// allow: the defaults shown, one added and removed.
	out, _, _ = cli(t, dir, "", "allow", "list")
	if !strings.Contains(out, "10.0.0.0/8") || !strings.Contains(out, "true") {
		t.Errorf("allow list lacks the defaults:\n%s", out)
	}
	out, errs, code = cli(t, dir, "", "--json", "allow", "add", "*.corp.example", "--note", "ours")
	var a outlet.Allow
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || a.Kind != outlet.AllowDomain || a.Value != "corp.example" {
		t.Fatalf("allow add: %d %s %s", code, out, errs)
	}
	if _, errs, code := cli(t, dir, "", "allow", "add", "what is this"); code == 0 || !strings.Contains(errs, "CIDR") {
		t.Errorf("allow add nonsense: %d %s", code, errs)
	}
	if _, errs, code := cli(t, dir, "", "allow", "remove", "999999"); code == 0 || !strings.Contains(errs, "999999") {
		t.Errorf("allow remove of no entry: %d %s", code, errs)
	}
	if out, errs, code := cli(t, dir, "", "allow", "remove", strings.TrimSpace(jsonID(out))); code != 0 {
		t.Errorf("allow remove: %d %s %s", code, out, errs)
	}

	// Removing the list revokes its key.
	if _, errs, code := cli(t, dir, "", "edl", "remove", "fw"); code != 0 {
		t.Fatalf("edl remove: %d %s", code, errs)
	}
	out, _, _ = cli(t, dir, "", "--json", "apikey", "list")
	if json.Unmarshal([]byte(out), &keys) != nil || len(keys) != 1 || keys[0].Revoked == nil {
		t.Errorf("the removed list's key is not revoked: %s", out)
	}
}

// jsonID is the id of a JSON object.
func jsonID(s string) string {
	var v struct{ ID json.Number }
	_ = json.Unmarshal([]byte(s), &v)
	return v.ID.String()
}
