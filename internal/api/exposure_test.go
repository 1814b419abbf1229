package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// The inventory and its exposures over the API: import (JSON and CSV),
// list, acknowledge, dismiss; every answer as the document says; a capped
// key sees no exposure above its cap.
func TestInventoryAndExposuresAPI(t *testing.T) {
	e := newEnv(t)
	e.addInstance("main", "good")
	e.poll("main", feed.Vulnerabilities)
	res, err := e.store.Search(context.Background(), store.Query{Types: []intel.Type{intel.Vulnerability}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var vuln intel.Object
	var prod intel.ProductRef
	for _, o := range res.Objects {
		for _, p := range o.Vulnerability.Products {
			if len(p.Versions) > 0 && o.TLP != intel.TLPClear && prod.Product == "" {
				vuln, prod = o, p
			}
		}
	}
	if prod.Product == "" {
		t.Fatal("no vulnerability with a versioned product")
	}
	manager, analyst := e.key("fm", auth.FeedManager, ""), e.key("an", auth.Analyst, "")
	capped := e.key("capped", auth.Analyst, intel.TLPClear)

	r := e.do("POST", "/api/v1/inventory", manager, map[string]any{"assets": []map[string]string{
		{"asset_id": "srv-1", "asset": "web-01", "vendor": prod.Vendor, "product": prod.Product, "version": prod.Versions[0]}}})
	var imp struct {
		Added     int `json:"added"`
		Exposures struct {
			Opened int `json:"opened"`
		} `json:"exposures"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &imp) != nil || imp.Added != 1 || imp.Exposures.Opened < 1 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	// A CSV with a bad replace value, and one with a bad row: nothing stored.
	req := func(path, body string) resp {
		t.Helper()
		hr, _ := http.NewRequest("POST", e.url+path, strings.NewReader(body))
		hr.Header.Set("Content-Type", "text/csv")
		hr.Header.Set("Authorization", "Bearer "+manager)
		res, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return resp{res.StatusCode, res.Header, raw}
	}
	if r := req("/api/v1/inventory?replace=maybe", "asset_id,product\nsrv-2,x\n"); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.body), "replace") {
		t.Errorf("replace=maybe: %d %s", r.status, r.body)
	}
	if r := req("/api/v1/inventory?replace=true", "asset_id,product\n,x\n"); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.body), "row 1") {
		t.Errorf("a bad row: %d %s", r.status, r.body)
	}
	var inv struct {
		Items []store.InventoryRow `json:"items"`
	}
	if r := e.do("GET", "/api/v1/inventory", analyst, nil); r.status != http.StatusOK || json.Unmarshal(r.body, &inv) != nil ||
		len(inv.Items) != 1 || inv.Items[0].Version != prod.Versions[0] {
		t.Fatalf("inventory: %d %s", r.status, r.body)
	}

	var list struct {
		Items []store.Exposure `json:"items"`
	}
	r = e.do("GET", "/api/v1/exposures?state=open&asset_id=srv-1", analyst, nil)
	if r.status != http.StatusOK || json.Unmarshal(r.body, &list) != nil || len(list.Items) == 0 {
		t.Fatalf("exposures: %d %s", r.status, r.body)
	}
	var x store.Exposure
	for _, it := range list.Items {
		if it.VulnID == vuln.ID {
			x = it
		}
	}
	if x.ID == 0 || x.How != "product_version" || x.State != "open" {
		t.Fatalf("no open exposure of %s: %s", vuln.Value, r.body)
	}
	path := fmt.Sprintf("/api/v1/exposures/%d", x.ID)
	if r := e.do("POST", path+"/acknowledge", capped, nil); r.status != http.StatusNotFound {
		t.Errorf("a clear-capped key acknowledges a %s exposure: %d", vuln.TLP, r.status)
	}
	if r := e.do("GET", "/api/v1/exposures", capped, nil); strings.Contains(string(r.body), fmt.Sprintf(`"id":%d,`, x.ID)) {
		t.Errorf("a clear-capped key lists it: %s", r.body)
	}
	if r := e.do("POST", path+"/acknowledge", analyst, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"acknowledged"`) {
		t.Errorf("acknowledge: %d %s", r.status, r.body)
	}
	if r := e.do("POST", path+"/acknowledge", analyst, nil); r.status != http.StatusConflict {
		t.Errorf("acknowledge twice: %d %s", r.status, r.body)
	}
	if r := e.do("POST", path+"/dismiss", analyst, map[string]string{"reason": ""}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("dismiss without a reason: %d %s", r.status, r.body)
	}
	if r := e.do("POST", path+"/dismiss", analyst, map[string]string{"reason": "not exposed"}); r.status != http.StatusOK ||
		!strings.Contains(string(r.body), `"dismissed"`) {
		t.Errorf("dismiss: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/exposures?state=nope", analyst, nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("state=nope: %d %s", r.status, r.body)
	}
}
