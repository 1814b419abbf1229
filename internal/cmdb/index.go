package cmdb

import (
	"strings"
	"sync"

	"github.com/flintcti/flint/internal/cpe"
	"github.com/flintcti/flint/internal/intel"
)

// Index holds an inventory ready to be matched against one vulnerability
// at a time: what a poll stored or changed is matched against the stored
// inventory without reading every product's vulnerabilities again. An
// asset is a candidate for a vulnerability's product when a word of its
// product name is one of the product's (then the rules of matchProduct
// decide), or when its CPE names the same vendor and product as one of the
// product's CPEs.
type Index struct {
	assets  []indexed
	byWord  map[string][]int // a word of a folded product name → assets
	byCPE   map[string][]int // "vendor:product" of an asset's CPE → assets
	mu      sync.Mutex
	byName  map[string][]int // a vulnerability's folded product name → candidate assets (a bounded memo)
	Skipped int              // assets that cannot be matched (no product, a bad CPE)
}

type indexed struct {
	Asset
	pos             int // in the slice NewIndex was given
	vendor, product string
	name            *cpe.Name
}

// NewIndex indexes assets; an asset that cannot be matched is counted in
// Skipped and never a candidate.
func NewIndex(assets []Asset) *Index {
	x := &Index{byWord: map[string][]int{}, byCPE: map[string][]int{}, byName: map[string][]int{}}
	for pos, a := range assets {
		vendor, product, name, err := a.Target()
		if err != nil {
			x.Skipped++
			continue
		}
		i := len(x.assets)
		x.assets = append(x.assets, indexed{a, pos, vendor, product, name})
		seen := map[string]bool{}
		for _, w := range strings.Fields(norm(product)) {
			if !seen[w] {
				seen[w] = true
				x.byWord[w] = append(x.byWord[w], i)
			}
		}
		if name != nil {
			k := name.Vendor() + ":" + name.Product()
			x.byCPE[k] = append(x.byCPE[k], i)
		}
	}
	return x
}

// Len is the number of assets indexed.
func (x *Index) Len() int { return len(x.assets) }

// AssetMatch is a match of an asset: its position in the slice NewIndex
// was given.
type AssetMatch struct {
	Asset int
	Match
}

// Match returns the assets the vulnerability affects, with how and why,
// by the rules of MatchAsset.
func (x *Index) Match(v *intel.Object) []AssetMatch {
	if v.Type != intel.Vulnerability || v.Vulnerability == nil || len(x.assets) == 0 {
		return nil
	}
	cand := map[int]bool{}
	for _, p := range v.Vulnerability.Products {
		for _, i := range x.byProductName(p.Product) {
			cand[i] = true
		}
		for _, c := range p.CPEs {
			if n, err := cpe.Parse(c); err == nil {
				for _, i := range x.byCPE[n.Vendor()+":"+n.Product()] {
					cand[i] = true
				}
			}
		}
	}
	var out []AssetMatch
	for i := range cand {
		a := &x.assets[i]
		if m, ok := matchVulnerability(a.Asset, a.vendor, a.product, a.name, v); ok {
			out = append(out, AssetMatch{a.pos, m})
		}
	}
	return out
}

// byProductName returns the assets whose product name is the same as name
// (sameName: equal folded, or one a word sequence of the other).
func (x *Index) byProductName(name string) []int {
	n := norm(name)
	x.mu.Lock()
	c, ok := x.byName[n]
	x.mu.Unlock()
	if ok {
		return c
	}
	// Either name contains the other as whole words: they share a word.
	seen := map[int]bool{}
	for _, w := range strings.Fields(n) {
		for _, i := range x.byWord[w] {
			if !seen[i] {
				seen[i] = true
				if sameName(x.assets[i].product, name) {
					c = append(c, i)
				}
			}
		}
	}
	x.mu.Lock()
	if len(x.byName) >= normMemoSize {
		clear(x.byName)
	}
	x.byName[n] = c
	x.mu.Unlock()
	return c
}
