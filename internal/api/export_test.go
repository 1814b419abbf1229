package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/stix"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/store/storetest"
)

// bundleObjects reads a bundle's objects by id, failing on a repeated id.
func bundleObjects(t *testing.T, raw []byte) map[string]map[string]any {
	t.Helper()
	var b struct {
		Type    string           `json:"type"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(raw, &b); err != nil || b.Type != "bundle" {
		t.Fatalf("not a bundle (%v): %.300s", err, raw)
	}
	out := map[string]map[string]any{}
	for _, o := range b.Objects {
		id, _ := o["id"].(string)
		if _, dup := out[id]; dup {
			t.Errorf("%s is in the bundle twice", id)
		}
		out[id] = o
	}
	return out
}

// The streamed export (pages of 500 over three channels' objects) is, object
// for object, the bundle stix.Encode builds of everything at once, with the
// relationships among the objects.
func TestExportSTIXIsTheWholeBundle(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, dialect string) { testExportSTIXIsTheWholeBundleOn(t, dialect) })
}

func testExportSTIXIsTheWholeBundleOn(t *testing.T, dialect string) {
	e := loadedOn(t, dialect)
	r := e.do("GET", "/api/v1/stix", e.admin, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/stix+json") ||
		!strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v %.300s", r.status, r.header, r.body)
	}
	got := bundleObjects(t, r.body)

	ctx := context.Background()
	var objs []intel.Object
	q := store.Query{Limit: 1000}
	for {
		res, err := e.store.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, res.Objects...)
		if res.Next == "" {
			break
		}
		q.After = res.Next
	}
	if len(objs) <= 500 {
		t.Fatalf("%d objects: the test wants more than one page of the export", len(objs))
	}
	ids := make([]int64, len(objs))
	for i, o := range objs {
		ids[i] = o.ID
	}
	rels, err := e.store.Relationships(ctx, ids)
	if err != nil || len(rels) == 0 {
		t.Fatalf("%d relationships (%v)", len(rels), err)
	}
	b, err := stix.Encode(objs, rels)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(b)
	want := bundleObjects(t, raw)
	if len(got) != len(want) {
		t.Errorf("export has %d STIX objects, Encode %d", len(got), len(want))
	}
	for id, w := range want {
		if d := cmp.Diff(w, got[id]); d != "" {
			t.Errorf("%s (-Encode +export):\n%s", id, d)
			break
		}
	}
}

// A key capped at TLP green exports nothing above green, and no
// relationship or reference to what is.
func TestExportSTIXKeepsTheCap(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, dialect string) { testExportSTIXKeepsTheCapOn(t, dialect) })
}

func testExportSTIXKeepsTheCapOn(t *testing.T, dialect string) {
	e := loadedOn(t, dialect) // indicators are red, vulnerabilities green, reports clear
	green := e.key("green", auth.Analyst, intel.TLPGreen)
	r := e.do("GET", "/api/v1/stix", green, nil)
	if r.status != http.StatusOK {
		t.Fatalf("export: %d %.300s", r.status, r.body)
	}
	objs := bundleObjects(t, r.body)
	red := stix.TLPMarkingID(intel.TLPRed)
	amber := stix.TLPMarkingID(intel.TLPAmber)
	types := map[string]int{}
	for id, o := range objs {
		types[o["type"].(string)]++
		if id == red || id == amber {
			t.Errorf("marking definition %s in a green key's export", id)
		}
		refs, _ := o["object_marking_refs"].([]any)
		for _, m := range refs {
			if m == red || m == amber {
				t.Errorf("%s marked %s in a green key's export", id, m)
			}
		}
		for _, k := range []string{"source_ref", "target_ref"} {
			if ref, ok := o[k].(string); ok && objs[ref] == nil {
				t.Errorf("%s refers to %s, which is not in the bundle", id, ref)
			}
		}
	}
	if types["vulnerability"] == 0 || types["report"] == 0 || types["relationship"] == 0 {
		t.Errorf("types in a green key's export: %v", types)
	}
	// A filter narrows it; a bad one is refused before any byte of a bundle.
	r = e.do("GET", "/api/v1/stix?type=vulnerability", e.admin, nil)
	for id, o := range bundleObjects(t, r.body) {
		switch o["type"] {
		case "vulnerability", "identity", "marking-definition", "extension-definition":
		default:
			t.Errorf("%s in an export of vulnerabilities", id)
		}
	}
	if r := e.do("GET", "/api/v1/stix?type=nonsense", e.admin, nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("bad filter: %d %.200s", r.status, r.body)
	}
}
