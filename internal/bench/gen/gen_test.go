package gen

import (
	"math/rand/v2"
	"testing"

	"github.com/flintcti/flint/internal/indicator"
	"github.com/flintcti/flint/internal/intel"
)

// The generated indicators are distinct, of the types asked in turn, and
// already in the form the store keeps (so that a benchmark measures
// storing them, not rejecting them).
func TestIndicatorsDistinctAndNormal(t *testing.T) {
	seen := map[string]bool{}
	for i := range 20000 {
		o := Indicator(i, Epoch, Mixed...)
		if o.Type != Mixed[i%len(Mixed)] {
			t.Fatalf("indicator %d is a %s", i, o.Type)
		}
		norm, err := indicator.Normalize(o.Type, o.Value)
		if err != nil || norm != o.Value {
			t.Fatalf("indicator %d %s %q normalises to %q, %v", i, o.Type, o.Value, norm, err)
		}
		if k := string(o.Type) + " " + o.Value; seen[k] {
			t.Fatalf("indicator %d repeats %s", i, k)
		}
		seen[string(o.Type)+" "+o.Value] = true
	}
	if Indicator(7, Epoch, intel.IPv4).Type != intel.IPv4 {
		t.Error("one type asked, another given")
	}
}

func TestVulnerabilitiesAffectKnownProducts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		v, sw, rels := Vulnerability(i, r)
		if v.Type != intel.Vulnerability || len(sw) < 1 || len(sw) > 3 || len(rels) != len(sw) {
			t.Fatalf("vulnerability %d: %s with %d products and %d relationships", i, v.Type, len(sw), len(rels))
		}
		for k, s := range sw {
			if rels[k].Source != v.Ref() || rels[k].Target != s.Ref() || rels[k].Type != intel.RelHas {
				t.Fatalf("vulnerability %d: relationship %+v", i, rels[k])
			}
		}
	}
}
