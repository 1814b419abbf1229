// Package cpe parses CPE 2.3 names and matches them (NIST IR 7695/7696),
// a thin layer over knqyf263/go-cpe.
package cpe

import (
	"strings"

	"github.com/knqyf263/go-cpe/common"
	"github.com/knqyf263/go-cpe/matching"
	"github.com/knqyf263/go-cpe/naming"

	"github.com/flintcti/flint/internal/intel"
)

// Name is a parsed CPE name.
type Name struct {
	wfn common.WellFormedName
	raw string
}

// Parse reads a CPE 2.3 formatted string ("cpe:2.3:a:vendor:product:1.0:*:...")
// or a CPE 2.2 URI ("cpe:/a:vendor:product:1.0").
func Parse(s string) (Name, error) {
	s = strings.TrimSpace(s)
	var (
		w   common.WellFormedName
		err error
	)
	switch {
	case strings.HasPrefix(strings.ToLower(s), "cpe:2.3:"):
		w, err = naming.UnbindFS(s)
	case strings.HasPrefix(strings.ToLower(s), "cpe:/"):
		w, err = naming.UnbindURI(s)
	default:
		return Name{}, intel.Errorf(intel.EINVALID, "CPE %q must start with cpe:2.3: (or cpe:/ for CPE 2.2)", s)
	}
	if err != nil {
		return Name{}, intel.Errorf(intel.EINVALID, "CPE %q is not well formed: %v", s, err)
	}
	return Name{w, s}, nil
}

// String returns the name as given.
func (n Name) String() string { return n.raw }

func (n Name) attr(a string) string {
	v, ok := n.wfn.Get(a).(string)
	if !ok { // ANY or NA
		return ""
	}
	return strings.ReplaceAll(v, `\`, "")
}

// Vendor, Product and Version return the attributes unescaped, "" when ANY
// or NA.
func (n Name) Vendor() string  { return n.attr(common.AttributeVendor) }
func (n Name) Product() string { return n.attr(common.AttributeProduct) }
func (n Name) Version() string { return n.attr(common.AttributeVersion) }

// Covers reports whether every platform asset names is also named by n
// (n is a superset of asset, or equal to it): a vulnerability listed for n
// affects asset.
func (n Name) Covers(asset Name) bool {
	return matching.IsSuperset(n.wfn, asset.wfn) || matching.IsEqual(n.wfn, asset.wfn)
}

// SameProduct reports whether two names name the same vendor and product.
func SameProduct(a, b Name) bool {
	return a.Vendor() != "" && a.Product() != "" && strings.EqualFold(a.Vendor(), b.Vendor()) && strings.EqualFold(a.Product(), b.Product())
}
