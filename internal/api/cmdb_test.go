package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
)

type cmdbAnswer struct {
	Results []cmdb.Result
	Summary cmdb.Summary
}

func (e *env) cmdbCSV(key, body string) (int, cmdbAnswer, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/api/v1/cmdb/match", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	e.checkSpec(req, res, raw)
	var out cmdbAnswer
	if res.StatusCode == http.StatusOK {
		resp{body: raw}.json(e.t, &out)
	}
	return res.StatusCode, out, raw
}

func has(ms []cmdb.Match, id int64) (cmdb.Match, bool) {
	for _, m := range ms {
		if m.VulnerabilityID == id {
			return m, true
		}
	}
	return cmdb.Match{}, false
}

func TestCMDBMatch(t *testing.T) {
	e := loaded(t)
	analyst := e.key("analyst", auth.Analyst, "")
	// A vulnerability of the simulator with an affected and a fixed version.
	var v intel.Object
	var p intel.ProductRef
	for _, o := range e.all("/api/v1/vulnerabilities?limit=1000", analyst) {
		for _, pr := range o.Vulnerability.Products {
			if len(pr.CPEs) > 0 && len(pr.Fixed) > 0 && len(pr.Versions) > 0 {
				v, p = o, pr
			}
		}
	}
	if v.ID == 0 {
		t.Fatal("no vulnerability with CPEs and a fixed version in the simulator's data")
	}
	var csv bytes.Buffer
	csv.WriteString("asset,vendor,product,version,cpe,owner\n")
	fmt.Fprintf(&csv, "by-cpe,,,,%s,ops\n", p.CPEs[0])
	fmt.Fprintf(&csv, "by-version,%s,\"%s\",%s,,ops\n", p.Vendor, p.Product, p.Versions[len(p.Versions)-1])
	fmt.Fprintf(&csv, "fixed,%s,\"%s\",%s,,ops\n", p.Vendor, p.Product, p.Fixed[0])
	fmt.Fprintf(&csv, "no-version,,\"%s\",,,ops\n", strings.ToUpper(p.Product))
	csv.WriteString("unknown,Nobody,Nothing,1.0,,ops\n")
	csv.WriteString("broken,,,,cpe:bad,ops\n")
	status, ans, raw := e.cmdbCSV(analyst, csv.String())
	if status != http.StatusOK || len(ans.Results) != 6 {
		t.Fatalf("match: %d %s", status, raw)
	}
	want := map[string]string{"by-cpe": cmdb.ByCPE, "by-version": cmdb.ByProductVersion, "no-version": cmdb.ByName}
	for _, r := range ans.Results {
		m, ok := has(r.Matches, v.ID)
		switch name := r.Asset.Asset; name {
		case "fixed", "unknown":
			if ok {
				t.Errorf("%s matched %s: %+v", name, v.Value, m)
			}
		case "broken":
			if r.Error == "" || len(r.Matches) != 0 {
				t.Errorf("broken CPE: %+v", r)
			}
		default:
			if !ok || m.How != want[name] || m.Reason == "" || m.Value != v.Value {
				t.Errorf("%s: %+v (found %v), want %s of %s", name, m, ok, want[name], v.Value)
			}
		}
	}
	if ans.Summary.Assets != 6 || ans.Summary.Errors != 1 || ans.Summary.Vulnerable < 3 {
		t.Errorf("summary %+v", ans.Summary)
	}
	// The same as JSON.
	r := e.do("POST", "/api/v1/cmdb/match", analyst, map[string]any{"assets": []cmdb.Asset{{Asset: "x", CPE: p.CPEs[0]}}})
	var js cmdbAnswer
	r.json(t, &js)
	if m, ok := has(js.Results[0].Matches, v.ID); r.status != http.StatusOK || !ok || m.How != cmdb.ByCPE {
		t.Errorf("JSON: %s", r.body)
	}
	// Capped below the vulnerabilities' green, nothing matches.
	clear := e.key("public", auth.Analyst, intel.TLPClear)
	if _, ans, raw := e.cmdbCSV(clear, csv.String()); ans.Summary.Matches != 0 {
		t.Errorf("clear-capped key: %s", raw)
	}
	for body, want := range map[string]string{"": "empty", "host\nx\n": "neither product nor cpe"} {
		status, _, raw := e.cmdbCSV(analyst, body)
		if status != http.StatusUnprocessableEntity || !strings.Contains(string(raw), want) {
			t.Errorf("%q: %d %s", body, status, raw)
		}
	}
	if r := e.do("POST", "/api/v1/cmdb/match", analyst, `{"assets": []}`); r.status != http.StatusUnprocessableEntity {
		t.Errorf("no assets: %d", r.status)
	}
}
