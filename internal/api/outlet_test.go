package api_test

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/outlet"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/store/storetest"
)

// get fetches a blocklist with the headers given (the OpenAPI check does
// not read text bodies).
func (e *env) get(path string, header map[string]string) resp {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, body}
}

func lines(body []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// stored returns the values of the stored objects of the types, below a
// cap, leaving out those allowed (in the default ranges).
func (e *env) stored(types []intel.Type, maxTLP intel.TLP, keep func(o intel.Object) bool) []string {
	e.t.Helper()
	var out []string
	q := store.Query{Types: types, MaxTLP: maxTLP, Limit: 1000}
	for {
		res, err := e.store.Search(context.Background(), q)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, o := range res.Objects {
			if keep == nil || keep(o) {
				out = append(out, o.Value)
			}
		}
		if res.Next == "" {
			break
		}
		q.After = res.Next
	}
	slices.Sort(out)
	return out
}

func TestBlocklist(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, dialect string) { testBlocklistOn(t, dialect) })
}

func testBlocklistOn(t *testing.T, dialect string) {
	e := loadedOn(t, dialect)
	bearer := func(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + k} }
	// A page of the store's own: addresses in reserved ranges, which the
	// default allow-list keeps out of every blocklist.
	ctx := context.Background()
	l, err := e.store.AcquireLease(ctx, 999, "test", time.Minute)
	if err == nil {
		_, err = e.store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: 999, Instance: "t", Channel: "t"}, Collection: "reserved",
			Objects: []intel.Object{
				{Type: intel.IPv4, Value: "10.1.2.3", TLP: intel.TLPClear, Confidence: 90, Score: intel.ScoreMalicious, Reported: e.sim.Clock()},
				{Type: intel.IPv4, Value: "198.51.100.7", TLP: intel.TLPClear, Confidence: 90, Score: intel.ScoreMalicious, Reported: e.sim.Clock()},
				{Type: intel.IPv4, Value: "8.8.4.4", TLP: intel.TLPClear, Confidence: 90, Score: intel.ScoreMalicious, Reported: e.sim.Clock()},
			}})
	}
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("PUT", "/api/v1/lists/fw", e.admin, map[string]any{"types": []string{"ipv4", "domain", "url"}})
	if r.status != http.StatusOK {
		t.Fatalf("create list: %d %s", r.status, r.body)
	}
	defaults := outlet.NewAllowed(outlet.DefaultAllows)
	reserved := func(o intel.Object) bool { return !defaults.Contains(o.Type, o.Value) }
	types := []intel.Type{intel.Domain, intel.IPv4, intel.URL}
	r = e.get("/edl/fw", bearer(e.admin))
	want := e.stored(types, "", reserved)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") || len(want) < 10 {
		t.Fatalf("GET /edl/fw: %d %v (%d values wanted)", r.status, r.header, len(want))
	}
	if got := lines(r.body); !slices.Equal(got, want) || slices.Contains(got, "10.1.2.3") || slices.Contains(got, "198.51.100.7") ||
		!slices.Contains(got, "8.8.4.4") {
		t.Errorf("list has %d values, want %d (the stored ones but those in reserved ranges)", len(got), len(want))
	}
	etag, modified := r.header.Get("ETag"), r.header.Get("Last-Modified")

	// Refreshes of an unchanged list are 304s.
	if r := e.get("/edl/fw", map[string]string{"Authorization": "Bearer " + e.admin, "If-None-Match": etag}); r.status != http.StatusNotModified || len(r.body) != 0 {
		t.Errorf("If-None-Match: %d", r.status)
	}
	if r := e.get("/edl/fw", map[string]string{"Authorization": "Bearer " + e.admin, "If-Modified-Since": modified}); r.status != http.StatusNotModified {
		t.Errorf("If-Modified-Since: %d", r.status)
	}

	// Allowing a value takes it out, and changes the validator.
	victim := want[0]
	if r := e.do("POST", "/api/v1/allow", e.admin, map[string]any{"entry": victim, "note": "ours"}); r.status != http.StatusCreated {
		t.Fatalf("allow: %d %s", r.status, r.body)
	}
	r = e.get("/edl/fw", map[string]string{"Authorization": "Bearer " + e.admin, "If-None-Match": etag})
	if r.status != http.StatusOK || slices.Contains(lines(r.body), victim) || len(lines(r.body)) != len(want)-1 {
		t.Errorf("after allowing %s: %d, %d values", victim, r.status, len(lines(r.body)))
	}
	var allows struct {
		Allow []struct {
			Kind, Value string
			Default     bool
		}
	}
	e.do("GET", "/api/v1/allow", e.admin, nil).json(t, &allows)
	shown := 0
	for _, a := range allows.Allow {
		if a.Default {
			shown++
		}
	}
	if shown != len(outlet.DefaultAllows) {
		t.Errorf("%d default allow-list entries shown, want %d", shown, len(outlet.DefaultAllows))
	}

	// A firewall's key, bound to the list, with HTTP Basic: the list and
	// nothing else.
	var k service.CreatedKey
	e.do("POST", "/api/v1/keys", e.admin, map[string]any{"name": "pan-fw", "role": "analyst", "max_tlp": "amber", "list": "fw"}).json(t, &k)
	if k.List != "fw" {
		t.Fatalf("bound key: %+v", k.Key)
	}
	req, _ := http.NewRequest("GET", e.url+"/edl/fw", nil)
	req.SetBasicAuth("firewall", k.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// Indicators are red: an amber key's list holds none of them.
	notRed := e.stored(types, intel.TLPAmber, reserved)
	if got := lines(body); res.StatusCode != http.StatusOK || !slices.Equal(got, slices.DeleteFunc(notRed, func(v string) bool { return v == victim })) {
		t.Errorf("Basic, amber key: %d, %d values; want %d", res.StatusCode, len(got), len(notRed))
	}
	if r := e.do("GET", "/api/v1/objects", k.Token, nil); r.status != http.StatusForbidden {
		t.Errorf("a bound key searched the objects: %d", r.status)
	}
	e.do("PUT", "/api/v1/lists/other", e.admin, map[string]any{"types": []string{"ipv4"}})
	if r := e.get("/edl/other", bearer(k.Token)); r.status != http.StatusNotFound {
		t.Errorf("a key bound to fw read the list other: %d", r.status)
	}
	if r := e.get("/edl/fw", nil); r.status != http.StatusUnauthorized || !strings.Contains(strings.Join(r.header.Values("WWW-Authenticate"), " "), "Basic") {
		t.Errorf("no key: %d %v", r.status, r.header)
	}

	// Formats: PAN-OS URLs without their scheme; CSV with a header and
	// formula-safe cells; a limit; a minimum score.
	e.do("PUT", "/api/v1/lists/urls", e.admin, map[string]any{"types": []string{"url"}, "format": "paloalto"})
	for _, l := range lines(e.get("/edl/urls", bearer(e.admin)).body) {
		if strings.Contains(l, "://") {
			t.Errorf("PAN-OS list has a scheme: %s", l)
			break
		}
	}
	e.do("PUT", "/api/v1/lists/csv", e.admin, map[string]any{"types": []string{"domain"}, "format": "csv", "limit": 5, "min_score": "malicious"})
	r = e.get("/edl/csv", bearer(e.admin))
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	malicious := e.stored([]intel.Type{intel.Domain}, "", func(o intel.Object) bool { return o.Score == intel.ScoreMalicious })
	if err != nil || len(rows) != 1+min(5, len(malicious)) || len(malicious) < 5 || rows[0][0] != "value" ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv list: %v, %d rows (of %d malicious domains) %q", err, len(rows), len(malicious), rows)
	}
	for _, row := range rows[1:] {
		if row[1] != "domain" || row[3] != string(intel.ScoreMalicious) || row[8] == "" {
			t.Errorf("csv row %q", row)
		}
	}
	// Bad definitions name every bad field.
	r = e.do("PUT", "/api/v1/lists/Bad Name", e.admin, map[string]any{"types": []string{"ipv4", "cat"}, "format": "xml", "min_confidence": 101})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "name") || !strings.Contains(string(r.body), "cat") ||
		!strings.Contains(string(r.body), "xml") || !strings.Contains(string(r.body), "min_confidence") {
		t.Errorf("bad list: %d %s", r.status, r.body)
	}
	// An analyst may read lists but not define them.
	analyst := e.key("analyst", auth.Analyst, "")
	if r := e.do("PUT", "/api/v1/lists/mine", analyst, map[string]any{"types": []string{"ipv4"}}); r.status != http.StatusForbidden {
		t.Errorf("an analyst defined a list: %d", r.status)
	}
	// Removing the list revokes its keys.
	if r := e.do("DELETE", "/api/v1/lists/fw", e.admin, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := e.get("/edl/fw", bearer(k.Token)); r.status != http.StatusUnauthorized {
		t.Errorf("the key of a removed list: %d", r.status)
	}
}
