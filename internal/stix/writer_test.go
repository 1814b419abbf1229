package stix

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flintcti/flint/internal/intel"
)

// objectsByID reads a bundle's objects by id.
func objectsByID(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	var b struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(raw, &b); err != nil || b.Type != "bundle" {
		t.Fatalf("not a bundle (%v): %.200s", err, raw)
	}
	out := map[string]string{}
	for _, o := range b.Objects {
		var m struct{ ID string }
		if err := json.Unmarshal(o, &m); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[m.ID]; dup {
			t.Errorf("%s written twice", m.ID)
		}
		out[m.ID] = string(o)
	}
	return out
}

// A bundle streamed page by page holds exactly the objects of the bundle
// Encode builds at once, whatever the page size.
func TestWriterMatchesEncode(t *testing.T) {
	objs, rels := sample()
	want := objectsByID(t, encodeJSON(t, objs, rels))
	index := map[intel.Ref]int{}
	for i, o := range objs {
		index[o.Ref()] = i
	}
	for _, size := range []int{1, 3, len(objs)} {
		var buf bytes.Buffer
		sw := NewWriter(&buf)
		for from := 0; from < len(objs); from += size {
			to := min(from+size, len(objs))
			p := Page{Objects: objs[from:to], Known: objs[:from]}
			for _, r := range rels {
				a, b := index[r.Source], index[r.Target]
				if hi := max(a, b); hi >= from && hi < to { // written with the later of its ends
					p.Relationships = append(p.Relationships, r)
				}
				if (r.Source.Type == intel.Report && a >= from && a < to) || (r.Target.Type == intel.Report && b >= from && b < to) {
					p.ReportRelationships = append(p.ReportRelationships, r)
					if other := max(a, b); other >= to { // a report's later objects are known to it
						p.Known = append(p.Known, objs[other])
					}
				}
			}
			if err := sw.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Close(); err != nil {
			t.Fatal(err)
		}
		got := objectsByID(t, buf.Bytes())
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("pages of %d: streamed bundle differs from Encode's (-want +got):\n%s", size, d)
		}
	}
}
