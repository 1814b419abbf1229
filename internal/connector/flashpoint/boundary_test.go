package flashpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/intel"
)

// fakeIndicators serves indicators v2 from a list the test can change
// between requests, sorted by modified_at (then id), with modified_after
// inclusive, modified_before exclusive and from/size offsets, as the real
// API pages.
type fakeIndicators struct {
	mu       sync.Mutex
	items    map[string]time.Time
	requests int
	before   func(n int) // runs before answering request n (1-based)
}

func (f *fakeIndicators) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	if f.before != nil {
		f.before(f.requests)
	}
	q := r.URL.Query()
	after, _ := time.Parse(time.RFC3339Nano, q.Get("modified_after"))
	before, _ := time.Parse(time.RFC3339Nano, q.Get("modified_before"))
	from, _ := strconv.Atoi(q.Get("from"))
	size, _ := strconv.Atoi(q.Get("size"))
	var ids []string
	for id, t := range f.items {
		if !t.Before(after) && (before.IsZero() || t.Before(before)) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := f.items[a].Compare(f.items[b]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var out []map[string]any
	for i := from; i < len(ids) && i < from+size; i++ {
		t := f.items[ids[i]].Format(time.RFC3339Nano)
		out = append(out, map[string]any{"id": ids[i], "type": "domain", "value": ids[i] + ".example.com",
			"score": map[string]any{"value": "malicious"}, "modified_at": t, "created_at": t, "last_seen_at": t, "sightings": []any{}})
	}
	f.mu.Unlock()
	var next any // as the API: a link while more follow, null on the last page
	if from+size < len(ids) {
		nq := r.URL.Query()
		nq.Set("from", strconv.Itoa(from+size))
		next = "http://" + r.Host + r.URL.Path + "?" + nq.Encode()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"items": out, "total": len(ids), "pagination": map[string]any{"next": next}})
}

// An item read on one page and updated before the next (it leaves its
// place, and every later item moves back one) must not make the poll skip
// an unseen item.
func TestBoundaryItemUpdatedBetweenPages(t *testing.T) {
	t0 := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	t1, t2, t3 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	f := &fakeIndicators{items: map[string]time.Time{"a": t1, "b": t1, "c": t1, "d": t2, "e": t2}}
	f.before = func(n int) {
		if n == 2 { // after the first page [a b]: a is updated and moves past everything
			f.items["a"] = t3
		}
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := ignite.New(ignite.Options{BaseURL: srv.URL, Token: "t", Version: "test", RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	conn := &Connector{Client: c, PageSize: 2, Now: func() time.Time { return t0.Add(24 * time.Hour) }}
	s := feed.DefaultSettings("x", feed.Indicators, t0.Add(15*24*time.Hour))
	s.StartAt = t0
	p, err := conn.Poll(feed.Indicators, s, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var order []string
	var last string // the cursor after the last page
	for p.More() {
		b, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		last = b.Cursor
		for _, o := range b.Objects {
			seen[o.OriginalID] = true
			order = append(order, o.OriginalID)
		}
		if len(order) > 20 {
			t.Fatalf("the poll does not end: %v", order)
		}
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if !seen[id] {
			t.Errorf("%s was lost (read %v)", id, order)
		}
	}
	var cur Cursor
	json.Unmarshal([]byte(last), &cur)
	if want := t0.Add(24*time.Hour - skewMargin); !cur.Since.Equal(want) || cur.inWindow() || cur.Skip != 0 {
		t.Errorf("final cursor %+v, want since %s and no window", cur, want)
	}
	t.Logf("read %v in %d requests", order, f.requests)
}

// Many items sharing one timestamp (a bulk import) page through by count.
func TestBoundaryManyAtOneTimestamp(t *testing.T) {
	t0 := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	f := &fakeIndicators{items: map[string]time.Time{}}
	for i := 0; i < 25; i++ {
		f.items[fmt.Sprintf("i%02d", i)] = t0.Add(time.Hour)
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, _ := ignite.New(ignite.Options{BaseURL: srv.URL, Token: "t", Version: "test", RateLimit: -1})
	conn := &Connector{Client: c, PageSize: 4, Now: func() time.Time { return t0.Add(24 * time.Hour) }}
	s := feed.DefaultSettings("x", feed.Indicators, t0.Add(15*24*time.Hour))
	s.StartAt = t0
	p, _ := conn.Poll(feed.Indicators, s, "")
	n := 0
	for p.More() {
		b, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(b.Objects)
		if f.requests > 20 {
			t.Fatalf("looping: %d requests", f.requests)
		}
	}
	if n != 25 {
		t.Errorf("read %d of 25 items sharing a timestamp", n)
	}
}

// A first poll whose start time has aged past 15 days reaches back 15 days.
func TestFirstPollReachesBackAtMost15Days(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	conn := &Connector{Now: func() time.Time { return now }}
	s := feed.DefaultSettings("x", feed.Indicators, now.Add(-20*24*time.Hour))
	p, err := conn.Poll(feed.Indicators, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Add(-feed.MaxStartAge); !p.cur.Since.Equal(want) {
		t.Errorf("first poll since %s, want %s", p.cur.Since, want)
	}
	// A stored cursor is followed as it is.
	p, err = conn.Poll(feed.Indicators, s, `{"since":"2026-11-01T00:00:00Z"}`)
	if err != nil || !p.cur.Since.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("from a cursor: %+v %v", p.cur, err)
	}
}

// The exploit maturity is the strongest signal: CVSS v4's ATTACKED
// outranks CVSS v3's Unproven, and a published exploit is at least a proof
// of concept.
func TestExploitMaturityTakesTheStrongestSignal(t *testing.T) {
	for _, tc := range []struct {
		json, want string
	}{
		{`{"id":1,"cvss_v3s":[{"score":9.8,"exploit_code_maturity":"U"}],"cvss_v4s":[{"score":9.3,"exploit_maturity":"ATTACKED"}]}`, "high"},
		{`{"id":2,"cvss_v3s":[{"score":9.8,"exploit_code_maturity":"F"}],"cvss_v4s":[{"score":9.3,"exploit_maturity":"UNREPORTED"}]}`, "functional"},
		{`{"id":3,"cvss_v3s":[{"score":5,"exploit_code_maturity":"U"}],"exploits":[{"type":"Exploit Database","value":"https://x.example/1"}]}`, "proof-of-concept"},
		{`{"id":4,"cvss_v4s":[{"score":7,"exploit_maturity":"A"}]}`, "high"},
		{`{"id":5,"cvss_v3s":[{"score":5,"exploit_code_maturity":"X"}]}`, "not-defined"},
	} {
		var v ignite.Vulnerability
		if err := json.Unmarshal([]byte(tc.json), &v); err != nil {
			t.Fatal(err)
		}
		if got := vulnDetail(&v).ExploitMaturity; got != tc.want {
			t.Errorf("%s: exploit maturity %q, want %q", tc.json, got, tc.want)
		}
	}
}

// No tag is silently cut: a 72-character tag is kept whole, a tag over the
// bound is clipped in the list and kept whole in the details, and tags past
// the list's bound are kept whole there too.
func TestTagsAreNeverLost(t *testing.T) {
	aes := "aes_key:" + strings.Repeat("0123456789abcdef", 4)
	long := strings.Repeat("x", intel.MaxTagLen+40)
	tags := []string{aes, long}
	for i := range intel.MaxTags + 5 {
		tags = append(tags, fmt.Sprintf("tag-%03d", i))
	}
	out, full := cleanTags(tags)
	if len(out) != intel.MaxTags || out[0] != aes {
		t.Fatalf("%d tags kept, first %q", len(out), out[0])
	}
	if r := []rune(out[1]); len(r) != intel.MaxTagLen || !strings.HasSuffix(out[1], "…") {
		t.Errorf("the long tag in the list: %d runes %q", len(r), out[1])
	}
	kept := map[string]bool{}
	for _, t := range append(slices.Clone(out), full...) {
		kept[t] = true
	}
	for _, tag := range tags {
		if !kept[tag] {
			t.Errorf("tag %.40q… is lost", tag)
		}
	}
	o := intel.Object{Type: intel.Domain, Value: "x.example", TLP: intel.TLPAmber, Tags: out}
	if err := o.Validate(); err != nil {
		t.Errorf("the kept tags do not validate: %v", err)
	}
}

// A list record carries vendors and products apart: each product gets its
// vendor, and a vendor no product names still finds the vulnerability.
func TestMultiVendorProducts(t *testing.T) {
	var v ignite.Vulnerability
	if err := json.Unmarshal([]byte(`{"id": 7, "title": "t", "cve_ids": ["CVE-2026-0007"],
		"vendors": [{"id": 1, "name": "Contoso Software"}, {"id": 2, "name": "Acme"}, {"id": 3, "name": "Initech"}],
		"products": [{"id": 10, "name": "Contoso Helpdesk Portal"}, {"id": 11, "name": "Acme Content Management"},
		             {"id": 12, "name": "Widget", "vendor_id": 2}]}`), &v); err != nil {
		t.Fatal(err)
	}
	p := &Poll{c: &Connector{}, kind: feed.Vulnerabilities, settings: feed.DefaultSettings("x", feed.Vulnerabilities, time.Now())}
	objs, rels, ok := p.mapVulnerability(&v)
	if !ok {
		t.Fatal("dropped")
	}
	vendors := map[string]string{}
	for _, o := range objs {
		if o.Type == intel.Software {
			vendors[o.Software.Product] = o.Software.Vendor
		}
	}
	want := map[string]string{"Contoso Helpdesk Portal": "Contoso Software", "Acme Content Management": "Acme", "Widget": "Acme", "": "Initech"}
	if !maps.Equal(vendors, want) {
		t.Errorf("products by vendor %v, want %v", vendors, want)
	}
	if len(rels) != len(want) {
		t.Errorf("%d relationships for %d software objects", len(rels), len(want))
	}
	for _, o := range objs {
		if o.Type == intel.Vulnerability {
			for _, pr := range o.Vulnerability.Products {
				if pr.Vendor == "" {
					t.Errorf("product %q in the details has no vendor", pr.Product)
				}
			}
		}
	}
}

// A vulnerability keeps its keywords, temporal scores, EPSS v1, technical
// description, changelog and creditees, and its ransomware score as a
// category in lower case or as a number, never the string "None".
func TestVulnerabilityFieldsKept(t *testing.T) {
	var v ignite.Vulnerability
	if err := json.Unmarshal([]byte(`{"id": 9, "keywords": "rce, upload", "technical_description": "A crafted upload ...",
		"scores": {"epss_score": 0.5, "epss_v1_score": 0.25, "ransomware_score": "None"},
		"cvss_v3s": [{"score": 9.8, "temporal_score": 8.9}], "cvss_v4s": [{"score": 9.3, "threat_score": 8.1}],
		"changelog": [{"created_at": "2026-11-01T10:00:00Z", "description": "Product X version 1.5.0: Affected"}],
		"creditees": [{"name": "A. Researcher"}, {"name": "Not Available"}]}`), &v); err != nil {
		t.Fatal(err)
	}
	d := vulnDetail(&v)
	if d.Keywords != "rce, upload" || d.TechnicalDescription == "" || d.EPSSv1 == nil || *d.EPSSv1 != 0.25 ||
		d.CVSSv3.Temporal == nil || *d.CVSSv3.Temporal != 8.9 || d.CVSSv4.Temporal == nil || *d.CVSSv4.Temporal != 8.1 ||
		len(d.Changelog) != 1 || d.Changelog[0].At.IsZero() || !slices.Equal(d.Creditees, []string{"A. Researcher"}) {
		t.Errorf("detail %+v", d)
	}
	if d.RansomwareScore != "none" || d.RansomwareProbability != nil {
		t.Errorf("ransomware None: %q %v", d.RansomwareScore, d.RansomwareProbability)
	}
	for raw, want := range map[string]float64{`0.45`: 0.45, `"0.7"`: 0.7} {
		var w ignite.Vulnerability
		json.Unmarshal([]byte(`{"id": 1, "scores": {"ransomware_score": `+raw+`}}`), &w)
		if d := vulnDetail(&w); d.RansomwareProbability == nil || *d.RansomwareProbability != want || d.RansomwareScore != "" {
			t.Errorf("ransomware %s: %q %v", raw, d.RansomwareScore, d.RansomwareProbability)
		}
	}
	var h ignite.Vulnerability
	json.Unmarshal([]byte(`{"id": 1, "scores": {"ransomware_score": "High"}}`), &h)
	if d := vulnDetail(&h); d.RansomwareScore != "high" {
		t.Errorf("ransomware High: %q", d.RansomwareScore)
	}
}

// A placeholder CVE id is no CVE id: the record is valued by its title and
// Flashpoint id.
func TestPlaceholderCVEIsNoCVE(t *testing.T) {
	p := &Poll{c: &Connector{}, settings: feed.DefaultSettings("x", feed.Vulnerabilities, time.Now())}
	var v ignite.Vulnerability
	if err := json.Unmarshal([]byte(`{"id": 77, "title": "Flaw in Foo", "cve_ids": ["CVE-YYYY-XXXX", "cve-2026-"]}`), &v); err != nil {
		t.Fatal(err)
	}
	objs, _, keep := p.mapVulnerability(&v)
	if !keep || len(objs) != 1 || objs[0].Value != "Flaw in Foo [Flashpoint 77]" || len(objs[0].Vulnerability.CVEIDs) != 0 {
		t.Fatalf("mapped %+v", objs)
	}
}
