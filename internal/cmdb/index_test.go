package cmdb

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flintcti/flint/internal/intel"
)

// The index finds, vulnerability by vulnerability, exactly what MatchAsset
// finds asset by asset: on the hand-made cases and on random inventories of
// the same products under other spellings, versions and CPEs.
func TestIndexAgreesWithMatchAsset(t *testing.T) {
	assets := []Asset{
		{CPE: "cpe:2.3:o:examplesoft:edgegate:7.2.0:*:*:*:*:*:*:*"}, {CPE: "cpe:/o:examplesoft:edgegate:7.0.12"},
		{CPE: "cpe:2.3:o:examplesoft:edgegate:*:*:*:*:*:*:*:*"}, {Vendor: "examplesoft", Product: "EdgeGate", Version: "7.0.12"},
		{Product: "examplesoft edgegate", Version: "7.2"}, {Product: "EdgeGate", Version: "7.2.3"}, {Product: "EdgeGate", Version: "7.1.5"},
		{Product: "Edgegate"}, {Vendor: "Initech", Product: "EdgeGate", Version: "7.2.0"}, {Product: "Edge", Version: "7.2.0"},
		{Product: "Globex Web Server", Version: "2.4.49"}, {Product: "nginx", Version: "1.25"}, {Asset: "no product", Version: "1"},
		{Product: "Web Server", Vendor: "Globex", Version: "2.4.50"}, {Product: "globex_web-server", Version: "2.4.49"},
		{Product: "Perimeter appliance", CPE: "cpe:2.3:o:examplesoft:edgegate:7.2.0:*:*:*:*:*:*:*"}, // by its CPE only
	}
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"EdgeGate", "Examplesoft EdgeGate", "examplesoft_edgegate", "Globex Web Server", "web server", "Server", "Globex"}
	versions := []string{"", "7.0.1", "7.2.0", "7.4.0", "2.4.49", "2.4.62", "9.9", "7.2.0-beta"}
	for range 300 {
		a := Asset{Product: names[rng.IntN(len(names))], Version: versions[rng.IntN(len(versions))]}
		if rng.IntN(4) == 0 {
			a.CPE = fmt.Sprintf("cpe:2.3:a:globex:web_server:%s:*:*:*:*:*:*:*", []string{"2.4.49", "2.4.58", "*"}[rng.IntN(3)])
		}
		assets = append(assets, a)
	}
	x := NewIndex(assets)
	if x.Skipped != 1 || x.Len() != len(assets)-1 {
		t.Fatalf("indexed %d, skipped %d", x.Len(), x.Skipped)
	}
	got := map[string][]string{} // asset → "vuln:how" found through the index
	for i := range vulns {
		for _, m := range x.Match(&vulns[i]) {
			k := fmt.Sprintf("%+v", assets[m.Asset])
			got[k] = append(got[k], fmt.Sprintf("%d:%s:%s", m.VulnerabilityID, m.How, m.Reason))
		}
	}
	for _, a := range assets {
		ms, err := MatchAsset(a, vulns)
		if err != nil {
			continue
		}
		var want []string
		for _, m := range ms {
			want = append(want, fmt.Sprintf("%d:%s:%s", m.VulnerabilityID, m.How, m.Reason))
		}
		k := fmt.Sprintf("%+v", a)
		g := slices.Clone(got[k])
		slices.Sort(g)
		slices.Sort(want)
		if !slices.Equal(slices.Compact(g), want) {
			t.Errorf("%s: the index finds %v, MatchAsset %v", k, g, want)
		}
	}
	if m := x.Match(&intel.Object{Type: intel.IPv4, Value: "192.0.2.1"}); m != nil {
		t.Errorf("an indicator matched: %v", m)
	}
}
