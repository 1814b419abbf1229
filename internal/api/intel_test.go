package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/indicator"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// loaded polls all three channels of an instance, each channel marking what
// it brings with its own TLP: reports clear, vulnerabilities green,
// indicators red.
func loaded(t *testing.T) *env { return loadedOn(t, "sqlite") }

// loadedOn is loaded on a store of the dialect.
func loadedOn(t *testing.T, dialect string) *env {
	e := newEnvOn(t, dialect)
	e.addInstance("main", "good")
	for k, tlp := range map[feed.Kind]intel.TLP{feed.Reports: intel.TLPClear, feed.Vulnerabilities: intel.TLPGreen, feed.Indicators: intel.TLPRed} {
		ch, err := e.store.Channel(context.Background(), "main", k)
		if err != nil {
			t.Fatal(err)
		}
		ch.Settings.TLP = tlp
		if err := e.store.SaveChannel(context.Background(), ch); err != nil {
			t.Fatal(err)
		}
		e.poll("main", k)
	}
	return e
}

type objectPage struct {
	Objects []intel.Object `json:"objects"`
	Next    string         `json:"next"`
}

// all pages through a search, returning every object.
func (e *env) all(path, key string) []intel.Object {
	e.t.Helper()
	var out []intel.Object
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	next := ""
	for range 1000 {
		p := path
		if next != "" {
			p += sep + "cursor=" + url.QueryEscape(next)
		}
		r := e.do("GET", p, key, nil)
		if r.status != http.StatusOK {
			e.t.Fatalf("GET %s: %d %s", p, r.status, r.body)
		}
		var pg objectPage
		r.json(e.t, &pg)
		out = append(out, pg.Objects...)
		if next = pg.Next; next == "" {
			return out
		}
	}
	e.t.Fatal("endless paging")
	return nil
}

func TestObjectsSearchAndTLPCap(t *testing.T) {
	e := loaded(t)
	ctx := context.Background()
	analyst := e.key("analyst", auth.Analyst, "")
	green := e.key("partner", auth.Analyst, intel.TLPGreen)
	total, err := e.store.Count(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	red, _ := e.store.Count(ctx, store.Query{TLPs: []intel.TLP{intel.TLPRed}}) // the indicators, and the attack patterns they bring
	redIndicators, _ := e.store.Count(ctx, store.Query{TLPs: []intel.TLP{intel.TLPRed}, Types: intel.IndicatorTypes()})
	if total < 500 || redIndicators != 400 || red <= redIndicators {
		t.Fatalf("loaded %d objects, %d red", total, red)
	}

	// Paging with small pages returns every object once.
	objs := e.all("/api/v1/objects?limit=97", analyst)
	seen := map[int64]bool{}
	for _, o := range objs {
		if seen[o.ID] {
			t.Fatalf("object %d twice", o.ID)
		}
		seen[o.ID] = true
	}
	if int64(len(objs)) != total {
		t.Errorf("paged %d objects of %d", len(objs), total)
	}
	// The capped key sees everything but the red indicators (and attack
	// patterns), on every route.
	capped := e.all("/api/v1/objects?limit=500", green)
	if int64(len(capped)) != total-red {
		t.Errorf("capped key saw %d objects, want %d", len(capped), total-red)
	}
	for _, o := range capped {
		if o.TLP.Rank() > intel.TLPGreen.Rank() {
			t.Fatalf("capped key saw %s object %d", o.TLP, o.ID)
		}
	}
	// Collection sizes count only what the key sees (the indicators are red).
	var cols struct{ Collections []intel.Collection }
	e.do("GET", "/api/v1/collections", green, nil).json(t, &cols)
	for _, c := range cols.Collections {
		if c.Name == "main Indicators" && c.Objects != 0 {
			t.Errorf("capped key: collection %q counts %d objects", c.Name, c.Objects)
		}
	}
	if got := e.all("/api/v1/objects?tlp=red", green); len(got) != 0 {
		t.Errorf("capped key asked for red and saw %d", len(got))
	}
	ind := e.all("/api/v1/objects?type=ipv4,domain&limit=5", analyst)[0]
	if r := e.do("GET", fmt.Sprintf("/api/v1/objects/%d", ind.ID), green, nil); r.status != http.StatusNotFound {
		t.Errorf("capped key read red object: %d", r.status)
	}
	r := e.do("GET", fmt.Sprintf("/api/v1/objects/%d", ind.ID), analyst, nil)
	var got struct {
		intel.Object
		Related []intel.Related
	}
	r.json(t, &got)
	if r.status != http.StatusOK || got.Value != ind.Value || len(got.Sources) == 0 || got.Sources[0].Instance != "main" ||
		!slices.Contains(got.Collections, "main Indicators") {
		t.Errorf("object: %s", r.body)
	}
	// A report's related indicators are hidden from the capped key.
	reports := e.all("/api/v1/objects?type=report", analyst)
	var withRel int64
	for _, rep := range reports {
		rel, _ := e.store.Related(ctx, rep.ID, 0)
		if len(rel) > 0 {
			withRel = rep.ID
			break
		}
	}
	if withRel == 0 {
		t.Fatal("no report with related objects in the simulator's data")
	}
	r = e.do("GET", fmt.Sprintf("/api/v1/objects/%d", withRel), green, nil)
	r.json(t, &got)
	for _, x := range got.Related {
		if x.Object.TLP.Rank() > intel.TLPGreen.Rank() {
			t.Errorf("capped key saw related %s object %s", x.Object.TLP, x.Object.Value)
		}
	}

	// Filters.
	for q, check := range map[string]func(o intel.Object) bool{
		"type=url":                   func(o intel.Object) bool { return o.Type == intel.URL },
		"collection=main+Reports":    func(o intel.Object) bool { return slices.Contains(o.Collections, "main Reports") },
		"tlp=green":                  func(o intel.Object) bool { return o.TLP == intel.TLPGreen },
		"value=" + ind.Value:         func(o intel.Object) bool { return o.Value == ind.Value },
		"deprecated=false&type=ipv4": func(o intel.Object) bool { return !o.Deprecated && o.Type == intel.IPv4 },
	} {
		got := e.all("/api/v1/objects?"+q, analyst)
		if len(got) == 0 {
			t.Errorf("%s: nothing", q)
		}
		for _, o := range got {
			if !check(o) {
				t.Errorf("%s: %s %s", q, o.Type, o.Value)
				break
			}
		}
	}
	for _, q := range []string{"type=planet", "limit=0", "limit=1001", "tlp=purple", "deprecated=maybe", "modified_after=yesterday", "cursor=zz"} {
		r := e.do("GET", "/api/v1/objects?"+q, analyst, nil)
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/objects/abc", analyst, nil); r.status != http.StatusNotFound {
		t.Errorf("object abc: %d", r.status)
	}
}

func TestLookup(t *testing.T) {
	e := loaded(t)
	analyst := e.key("analyst", auth.Analyst, "")
	green := e.key("partner", auth.Analyst, intel.TLPGreen)
	inds := e.all("/api/v1/objects?type=ipv4,domain,url,file&limit=1000", analyst)
	var ip, dom, file *intel.Object
	for i := range inds {
		switch o := &inds[i]; o.Type {
		case intel.IPv4:
			ip = o
		case intel.Domain:
			dom = o
		case intel.File:
			if len(o.Details.Hashes) > 1 {
				file = o
			}
		}
	}
	if ip == nil || dom == nil || file == nil {
		t.Fatal("the simulator's data lacks an IPv4, a domain or a file with several hashes")
	}
	var md5 string
	for algo, h := range file.Details.Hashes {
		if h != file.Value && algo == intel.MD5 {
			md5 = h
		}
	}
	values := []string{indicator.Defang(intel.IPv4, ip.Value), strings.ToUpper(dom.Value), md5, "203.0.113.254", "not a value at all ::"}
	r := e.do("POST", "/api/v1/lookup", analyst, map[string]any{"values": values})
	if r.status != http.StatusOK {
		t.Fatalf("lookup: %d %s", r.status, r.body)
	}
	var res struct{ Results []service.LookupAnswer }
	r.json(t, &res)
	if len(res.Results) != len(values) {
		t.Fatalf("%d answers for %d values", len(res.Results), len(values))
	}
	for i, want := range []struct {
		known bool
		id    int64
	}{{true, ip.ID}, {true, dom.ID}, {md5 != "", file.ID}, {false, 0}, {false, 0}} {
		a := res.Results[i]
		if a.Value != values[i] || a.Known != want.known || a.ObjectID != want.id {
			t.Errorf("answer %d for %q: %+v", i, values[i], a)
		}
		if a.Known && (a.TLP != intel.TLPRed || a.Confidence == nil || len(a.Sources) == 0 || len(a.Collections) == 0 || a.ValidUntil.IsZero()) {
			t.Errorf("answer %d lacks detail: %+v", i, a)
		}
	}
	if res.Results[0].Normalized != ip.Value || res.Results[0].Type != intel.IPv4 || res.Results[4].Error == "" {
		t.Errorf("normalisation: %+v / %+v", res.Results[0], res.Results[4])
	}
	// Above the cap, a known value is answered as unknown.
	r = e.do("POST", "/api/v1/lookup", green, map[string]any{"values": values[:2]})
	r.json(t, &res)
	for _, a := range res.Results {
		if a.Known || a.TLP != "" || a.ObjectID != 0 || len(a.Sources) != 0 {
			t.Errorf("capped key learned of a red indicator: %+v", a)
		}
	}
	// Limits.
	big := make([]string, store.MaxLookup+1)
	for i := range big {
		big[i] = fmt.Sprintf("198.51.%d.%d", i/256%256, i%256)
	}
	if r := e.do("POST", "/api/v1/lookup", analyst, map[string]any{"values": big}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.body), "10000") {
		t.Errorf("10,001 values: %d %.200s", r.status, r.body)
	}
	r = e.do("POST", "/api/v1/lookup", analyst, map[string]any{"values": big[:store.MaxLookup]})
	r.json(t, &res)
	if r.status != http.StatusOK || len(res.Results) != store.MaxLookup {
		t.Errorf("10,000 values: %d, %d answers", r.status, len(res.Results))
	}
	for _, body := range []string{`{}`, `{"values": "1.2.3.4"}`, `[]`, ``} {
		if r := e.do("POST", "/api/v1/lookup", analyst, body); r.status != http.StatusUnprocessableEntity && r.status != http.StatusBadRequest {
			t.Errorf("body %q: %d %s", body, r.status, r.body)
		}
	}
}

func TestVulnerabilities(t *testing.T) {
	e := loaded(t)
	analyst := e.key("analyst", auth.Analyst, "")
	all := e.all("/api/v1/vulnerabilities?limit=1000", analyst)
	if len(all) < 100 {
		t.Fatalf("%d vulnerabilities", len(all))
	}
	// A product of one of them, searched by part of its name in another case.
	var product string
	var withProduct intel.Object
	for _, v := range all {
		if d := v.Vulnerability; d != nil && len(d.Products) > 0 && len(d.Products[0].Product) > 4 {
			product, withProduct = d.Products[0].Product, v
			break
		}
	}
	if product == "" {
		t.Fatal("no vulnerability with a product")
	}
	part := strings.ToUpper(product[1 : len(product)-1])
	found := e.all("/api/v1/vulnerabilities?product="+url.QueryEscape(part), analyst)
	hit := false
	for _, v := range found {
		hit = hit || v.ID == withProduct.ID
		ok := false
		for _, p := range v.Vulnerability.Products {
			ok = ok || strings.Contains(strings.ToLower(p.Product), strings.ToLower(part))
		}
		if !ok {
			t.Errorf("%s matched product %q without it", v.Value, part)
		}
	}
	if !hit {
		t.Errorf("product %q did not find %s", part, withProduct.Value)
	}
	// CVSS range, sorted highest first.
	sorted := e.all("/api/v1/vulnerabilities?min_cvss3=7&sort=-cvss3&limit=7", analyst)
	for i, v := range sorted {
		s := v.Vulnerability.CVSSv3.Score
		if s < 7 || (i > 0 && s > sorted[i-1].Vulnerability.CVSSv3.Score) {
			t.Fatalf("sorted by -cvss3 with min 7: %v at %d", s, i)
		}
	}
	if len(sorted) == 0 {
		t.Error("no vulnerability with CVSS v3 ≥ 7")
	}
	// Ascending: lowest first, each object once across pages.
	asc := e.all("/api/v1/vulnerabilities?min_cvss3=7&sort=cvss3&limit=7", analyst)
	for i, v := range asc {
		if i > 0 && v.Vulnerability.CVSSv3.Score < asc[i-1].Vulnerability.CVSSv3.Score {
			t.Fatalf("sorted by cvss3: %v after %v", v.Vulnerability.CVSSv3.Score, asc[i-1].Vulnerability.CVSSv3.Score)
		}
	}
	if len(asc) != len(sorted) {
		t.Errorf("ascending: %d vulnerabilities, descending %d", len(asc), len(sorted))
	}
	for _, v := range e.all("/api/v1/vulnerabilities?has_cve=false", analyst) {
		if strings.HasPrefix(v.Value, "CVE-") {
			t.Errorf("has_cve=false gave %s", v.Value)
		}
	}
	// informational is a severity Flashpoint gives; it filters like the others.
	informational := e.all("/api/v1/vulnerabilities?severity=informational", analyst)
	for _, v := range informational {
		if v.Vulnerability.Severity != "informational" {
			t.Errorf("severity=informational gave %s %s", v.Value, v.Vulnerability.Severity)
		}
	}
	if len(informational) == 0 {
		t.Error("severity=informational found nothing; the simulator gives that severity")
	}
	for _, v := range e.all("/api/v1/vulnerabilities?severity=critical,high&min_epss=0.1", analyst) {
		if sev := v.Vulnerability.Severity; (sev != "critical" && sev != "high") || *v.Vulnerability.EPSS < 0.1 {
			t.Errorf("severity/EPSS filter gave %s %s %v", v.Value, sev, *v.Vulnerability.EPSS)
		}
	}
	for _, q := range []string{"min_cvss3=11", "min_cvss3=high", "min_cvss2=8&max_cvss2=3", "severity=bad", "sort=cvss", "min_epss=2", "has_cve=perhaps"} {
		if r := e.do("GET", "/api/v1/vulnerabilities?"+q, analyst, nil); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}

	// The exploitability view.
	r := e.do("GET", fmt.Sprintf("/api/v1/vulnerabilities/%d", withProduct.ID), analyst, nil)
	if r.status != http.StatusOK {
		t.Fatalf("view: %d %s", r.status, r.body)
	}
	var view service.VulnerabilityView
	r.json(t, &view)
	if view.Value != withProduct.Value || view.Description == "" || len(view.Products) == 0 || view.CustomScores.Confidence != 100 ||
		view.TLP != intel.TLPGreen {
		t.Errorf("view: %s", r.body)
	}
	if d := withProduct.Vulnerability; d.CVSSv3 != nil && (view.CVSSv3 == nil || view.CVSSv3.Score != d.CVSSv3.Score || view.ExploitMaturity != d.ExploitMaturity) {
		t.Errorf("view CVSS v3 %+v / maturity %q, stored %+v / %q", view.CVSSv3, view.ExploitMaturity, d.CVSSv3, d.ExploitMaturity)
	}
	ind := e.all("/api/v1/objects?type=ipv4&limit=1", analyst)
	if r := e.do("GET", fmt.Sprintf("/api/v1/vulnerabilities/%d", ind[0].ID), analyst, nil); r.status != http.StatusNotFound {
		t.Errorf("an indicator as a vulnerability: %d", r.status)
	}
	// Capped below green, no vulnerability is seen.
	clear := e.key("public", auth.Analyst, intel.TLPClear)
	if got := e.all("/api/v1/vulnerabilities", clear); len(got) != 0 {
		t.Errorf("clear-capped key saw %d green vulnerabilities", len(got))
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/vulnerabilities/%d", withProduct.ID), clear, nil); r.status != http.StatusNotFound {
		t.Errorf("clear-capped key read a green vulnerability: %d", r.status)
	}
}
