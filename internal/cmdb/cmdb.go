// Package cmdb matches a configuration database's assets (vendor, product,
// version and/or CPE) against stored vulnerabilities, saying how each match
// was made: by CPE, by product and version, or by name only (docs/domain.md §7).
package cmdb

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/cpe"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/versionrange"
)

// Asset is one row of a CMDB.
type Asset struct {
	// AssetID identifies the asset in a stored inventory (several rows,
	// one per product, may share it); Asset stands for it when empty.
	AssetID string `json:"asset_id,omitempty"`
	Asset   string `json:"asset,omitempty"` // the asset's name or id in the CMDB
	Vendor  string `json:"vendor,omitempty"`
	Product string `json:"product,omitempty"`
	Version string `json:"version,omitempty"`
	CPE     string `json:"cpe,omitempty"`
}

// Limits.
const (
	MaxAssets   = 10000
	MaxFieldLen = 512
)

// How a match was made, from strongest to weakest.
const (
	ByCPE            = "cpe"             // the asset's CPE is one a vulnerable version lists
	ByProductVersion = "product_version" // the product matches and the version is affected
	ByName           = "name_only"       // the product matches; the version is not given or cannot be placed
)

// Match is one vulnerability affecting an asset.
type Match struct {
	VulnerabilityID int64     `json:"vulnerability_id"`
	Value           string    `json:"value"` // CVE id or title
	Title           string    `json:"title,omitempty"`
	Severity        string    `json:"severity,omitempty"`
	CVSSv3          *float64  `json:"cvss_v3,omitempty"`
	TLP             intel.TLP `json:"tlp"`
	How             string    `json:"how"`
	Product         string    `json:"product"` // vendor and product as the vulnerability names them
	Reason          string    `json:"reason"`
	// Unplaced: a name_only match of an asset whose version is given but
	// is none of the versions the vulnerability lists as affected, and
	// cannot be compared with them. Shown by a CMDB match; not an exposure.
	Unplaced bool `json:"-"`
}

// Result is what matched one asset.
type Result struct {
	Asset   Asset   `json:"asset"`
	Matches []Match `json:"matches"`
	// Truncated: the asset matched more than MaxMatches vulnerabilities;
	// Matches holds the strongest, highest scored first.
	Truncated bool   `json:"truncated,omitempty"`
	Error     string `json:"error,omitempty"` // why the asset could not be matched
}

// columns are the CSV header names understood (any case; others ignored).
var columns = []string{"asset_id", "asset", "vendor", "product", "version", "cpe"}

// ParseCSV reads a CMDB export: a header row naming any of asset, vendor,
// product, version and cpe, then one asset per row.
// csvError is EINVALID for what is wrong in the CSV, and the reader's own
// error, wrapped, when reading failed (a body over its limit, say).
func csvError(where string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return intel.Errorf(intel.EINVALID, "%s: %v", where, err)
	}
	return fmt.Errorf("cmdb: %s: %w", where, err)
}

func ParseCSV(r io.Reader) ([]Asset, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, intel.Errorf(intel.EINVALID, "the CSV is empty: it needs a header row naming any of %s", strings.Join(columns, ", "))
	}
	if err != nil {
		return nil, csvError("the CSV header cannot be read", err)
	}
	at := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if slices.Contains(columns, h) {
			at[h] = i
		}
	}
	if _, ok := at["product"]; !ok {
		if _, ok := at["cpe"]; !ok {
			return nil, intel.Errorf(intel.EINVALID, "the CSV header %q names neither product nor cpe; columns understood: %s",
				strings.Join(header, ","), strings.Join(columns, ", "))
		}
	}
	var out []Asset
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(fmt.Sprintf("CSV line %d", line), err)
		}
		get := func(col string) string {
			if i, ok := at[col]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		a := Asset{AssetID: get("asset_id"), Asset: get("asset"), Vendor: get("vendor"), Product: get("product"), Version: get("version"), CPE: get("cpe")}
		if a == (Asset{}) {
			continue // a blank line
		}
		if len(out) == MaxAssets {
			return nil, intel.Errorf(intel.EINVALID, "more than %d assets; split the CMDB", MaxAssets)
		}
		out = append(out, a)
	}
	return out, Validate(out)
}

// Validate checks assets read from JSON or CSV.
func Validate(assets []Asset) error {
	if len(assets) == 0 {
		return intel.Errorf(intel.EINVALID, "no assets: give at least one with a product or a CPE")
	}
	if len(assets) > MaxAssets {
		return intel.Errorf(intel.EINVALID, "%d assets; at most %d at once", len(assets), MaxAssets)
	}
	for i, a := range assets {
		for name, v := range map[string]string{"asset_id": a.AssetID, "asset": a.Asset, "vendor": a.Vendor, "product": a.Product, "version": a.Version, "cpe": a.CPE} {
			if len(v) > MaxFieldLen || !utf8.ValidString(v) {
				return intel.Errorf(intel.EINVALID, "asset %d: %s is over %d bytes or not UTF-8", i+1, name, MaxFieldLen)
			}
		}
	}
	return nil
}

// Target is what an asset is searched by: the product (and vendor) named,
// or taken from its CPE. err says why the asset cannot be matched.
func (a Asset) Target() (vendor, product string, name *cpe.Name, err error) {
	vendor, product = a.Vendor, a.Product
	if a.CPE != "" {
		n, err := cpe.Parse(a.CPE)
		if err != nil {
			return "", "", nil, err
		}
		name = &n
		if product == "" {
			product = strings.ReplaceAll(n.Product(), "_", " ")
		}
		if vendor == "" {
			vendor = strings.ReplaceAll(n.Vendor(), "_", " ")
		}
	}
	if strings.TrimSpace(product) == "" {
		return "", "", nil, intel.Errorf(intel.EINVALID, "the asset has neither a product nor a CPE with one")
	}
	return vendor, product, name, nil
}

// Key identifies an inventory row: the asset (its id, else its name) and
// the product it runs (vendor and product, folded), so that importing the
// row again with another version changes the row instead of adding one.
func (a Asset) Key() (string, error) {
	id := strings.TrimSpace(a.AssetID)
	if id == "" {
		id = strings.TrimSpace(a.Asset)
	}
	if id == "" {
		return "", intel.Errorf(intel.EINVALID, "the row has neither an asset_id nor an asset: a stored inventory needs one")
	}
	if strings.ContainsFunc(id, unicode.IsControl) {
		return "", intel.Errorf(intel.EINVALID, "the asset id %q holds a control character", id)
	}
	vendor, product, _, err := a.Target()
	if err != nil {
		return "", err
	}
	return strings.ToLower(id) + "\x1f" + norm(vendor) + "\x1f" + norm(product), nil
}

// norm folds a product or vendor name for comparison.
func norm(s string) string {
	normMemo.Lock()
	n, ok := normMemo.m[s]
	normMemo.Unlock()
	if ok {
		return n
	}
	n = strings.Join(strings.Fields(separators.Replace(strings.ToLower(s))), " ")
	normMemo.Lock()
	if len(normMemo.m) >= normMemoSize {
		clear(normMemo.m) // bounded whatever the names it is given
	}
	normMemo.m[s] = n
	normMemo.Unlock()
	return n
}

var separators = strings.NewReplacer("_", " ", "-", " ", ".", " ")

// normMemo keeps names folded: matching folds the same few product and
// vendor names once per vulnerability and asset (a fifth of the time of
// matching an inventory went to folding them again).
var normMemo = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

const normMemoSize = 65536

// sameName reports whether a CMDB name and a vulnerability's name for a
// product (or vendor) are the same thing: equal once folded, or one a whole
// word sequence of the other ("EdgeGate" in "Examplesoft EdgeGate").
func sameName(cmdb, vuln string) bool {
	a, b := norm(cmdb), norm(vuln)
	if a == "" || b == "" {
		return false
	}
	return a == b || strings.Contains(" "+b+" ", " "+a+" ") || strings.Contains(" "+a+" ", " "+b+" ")
}

// MatchAsset returns the vulnerabilities among vulns that affect the asset,
// strongest match first per vulnerability.
func MatchAsset(a Asset, vulns []intel.Object) ([]Match, error) {
	vendor, product, name, err := a.Target()
	if err != nil {
		return nil, err
	}
	var out []Match
	for i := range vulns {
		if m, ok := matchVulnerability(a, vendor, product, name, &vulns[i]); ok {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(x, y Match) int {
		if r := rank(y.How) - rank(x.How); r != 0 {
			return r
		}
		if x.Unplaced != y.Unplaced { // a version that cannot be placed last
			if x.Unplaced {
				return 1
			}
			return -1
		}
		return cmpScore(y.CVSSv3, x.CVSSv3)
	})
	return out, nil
}

func rank(how string) int {
	switch how {
	case ByCPE:
		return 3
	case ByProductVersion:
		return 2
	case ByName:
		return 1
	}
	return 0
}

func cmpScore(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	case *a < *b:
		return -1
	case *a > *b:
		return 1
	}
	return 0
}

// matchVulnerability is the strongest match of the vulnerability's
// affected products with the asset (whose target is vendor, product and
// name), if any.
func matchVulnerability(a Asset, vendor, product string, name *cpe.Name, v *intel.Object) (Match, bool) {
	if v.Type != intel.Vulnerability || v.Vulnerability == nil {
		return Match{}, false
	}
	best := Match{}
	for _, p := range v.Vulnerability.Products {
		m, ok := matchProduct(a, vendor, product, name, p)
		if ok && (rank(m.How) > rank(best.How) || (m.How == best.How && best.Unplaced && !m.Unplaced)) {
			best = m
		}
	}
	if best.How == "" {
		return Match{}, false
	}
	d := v.Vulnerability
	best.VulnerabilityID, best.Value, best.Title, best.Severity, best.TLP = v.ID, v.Value, v.Name, d.Severity, v.TLP
	if d.CVSSv3 != nil {
		s := d.CVSSv3.Score
		best.CVSSv3 = &s
	}
	return best, true
}

// matchProduct decides whether one affected product of a vulnerability
// matches the asset, and how.
func matchProduct(a Asset, vendor, product string, name *cpe.Name, p intel.ProductRef) (Match, bool) {
	label := strings.TrimSpace(p.Vendor + " " + p.Product)
	if p.Vendor == "" || strings.HasPrefix(strings.ToLower(p.Product), strings.ToLower(p.Vendor)) {
		label = p.Product // "Examplesoft EdgeGate", not "Examplesoft Examplesoft EdgeGate"
	}
	// By CPE: a CPE of an affected version covers the asset's.
	cpeSame := false
	if name != nil {
		for _, c := range p.CPEs {
			listed, err := cpe.Parse(c)
			if err != nil {
				continue
			}
			if listed.Covers(*name) {
				return Match{How: ByCPE, Product: label, Reason: fmt.Sprintf("CPE %s is listed as affected", c)}, true
			}
			cpeSame = cpeSame || cpe.SameProduct(listed, *name)
		}
	}
	// Else by product (and vendor) name, then version.
	if !cpeSame && (!sameName(product, p.Product) || (vendor != "" && p.Vendor != "" && !sameName(vendor, p.Vendor) && !sameName(vendor, p.Product))) {
		return Match{}, false
	}
	version := a.Version
	if version == "" && name != nil {
		version = name.Version()
	}
	if version == "" {
		return Match{How: ByName, Product: label, Reason: "no version given: every vulnerability of the product is listed"}, true
	}
	for _, f := range p.Fixed {
		if versionrange.Equal(version, f) {
			return Match{}, false // listed as not affected
		}
	}
	for _, v := range p.Versions {
		if versionrange.Equal(version, v) {
			return Match{How: ByProductVersion, Product: label, Reason: fmt.Sprintf("version %s is listed as affected", v)}, true
		}
	}
	if p.AllPriorTo != "" {
		if c, ok := versionrange.Compare(version, p.AllPriorTo); ok && c <= 0 {
			return Match{How: ByProductVersion, Product: label,
				Reason: fmt.Sprintf("version %s is at or before %s, and all prior versions are affected", version, p.AllPriorTo)}, true
		}
	}
	if len(p.Versions) == 0 && len(p.Fixed) == 0 {
		return Match{How: ByName, Product: label, Reason: "the vulnerability lists no versions for the product"}, true
	}
	// Unlisted: newer than every affected version and at or after a fixed
	// one is not affected; anything else cannot be placed.
	if placedAfterFix(version, p) {
		return Match{}, false
	}
	return Match{How: ByName, Product: label, Unplaced: true,
		Reason: fmt.Sprintf("version %s is not listed; affected versions: %s", version, strings.Join(p.Versions, ", "))}, true
}

// placedAfterFix reports whether version is after every affected version
// and at or after some fixed version, every comparison being certain.
func placedAfterFix(version string, p intel.ProductRef) bool {
	for _, v := range p.Versions {
		if c, ok := versionrange.Compare(version, v); !ok || c <= 0 {
			return false
		}
	}
	for _, f := range p.Fixed {
		if c, ok := versionrange.Compare(version, f); ok && c >= 0 {
			return true
		}
	}
	return false
}

// Bounds on what one asset's product may pull in.
const (
	maxProducts   = 5000  // stored products matching one name
	maxCandidates = 20000 // vulnerabilities read for one name
	// MaxMatches is the most matches kept for one asset (the strongest,
	// highest scored first): a product whose versions cannot place the
	// asset's matches every vulnerability naming it.
	MaxMatches = 1000
)

// Summary counts what a match found.
type Summary struct {
	Assets     int `json:"assets"`
	Vulnerable int `json:"vulnerable"` // assets with at least one match
	Matches    int `json:"matches"`
	Errors     int `json:"errors"` // assets that could not be matched
}

// MatchAll matches every asset against the stored vulnerabilities (those a
// key capped at maxTLP may see; "" : all). The stored products are read
// and indexed by word (kept in products between matches while the software
// is unchanged; nil: read each time); each distinct product name then costs
// a lookup in that index and one batched read of the vulnerabilities of the
// products it names.
func MatchAll(ctx context.Context, st *store.Store, assets []Asset, maxTLP intel.TLP, products *Cache) ([]Result, Summary, error) {
	if err := Validate(assets); err != nil {
		return nil, Summary{}, err
	}
	cat, err := products.catalogue(ctx, st)
	if err != nil {
		return nil, Summary{}, err
	}
	type matched struct {
		ms  []Match
		err error
	}
	out := make([]Result, len(assets))
	sum := Summary{Assets: len(assets)}
	// Assets are taken product by product, so that one product's
	// candidate vulnerabilities are held at a time.
	keys := make([]string, len(assets))
	order := make([]int, 0, len(assets))
	for i, a := range assets {
		out[i] = Result{Asset: a, Matches: []Match{}}
		_, product, _, err := a.Target()
		if err != nil {
			out[i].Error = intel.ErrorMessage(err)
			sum.Errors++
			continue
		}
		keys[i] = norm(product)
		order = append(order, i)
	}
	slices.SortStableFunc(order, func(x, y int) int { return strings.Compare(keys[x], keys[y]) })
	var key string
	var cands []intel.Object
	var seen map[Asset]matched
	for n, i := range order {
		a := assets[i]
		if n == 0 || keys[i] != key {
			key = keys[i]
			if cands, err = st.VulnerabilitiesOf(ctx, cat.named(key), maxTLP); err != nil {
				return nil, Summary{}, err
			}
			if len(cands) > maxCandidates {
				cands = cands[:maxCandidates]
			}
			seen = map[Asset]matched{}
		}
		// Assets alike but for their name (a fleet of one product and
		// version) are matched once.
		alike := Asset{Vendor: a.Vendor, Product: a.Product, Version: a.Version, CPE: a.CPE}
		done, ok := seen[alike]
		if !ok {
			done.ms, done.err = MatchAsset(alike, cands)
			seen[alike] = done
		}
		ms, err := done.ms, done.err
		if err != nil {
			out[i].Error = intel.ErrorMessage(err)
			sum.Errors++
			continue
		}
		if len(ms) > MaxMatches {
			ms, out[i].Truncated = ms[:MaxMatches:MaxMatches], true
		}
		if ms != nil {
			out[i].Matches = ms
		}
		sum.Matches += len(ms)
		if len(ms) > 0 {
			sum.Vulnerable++
		}
	}
	return out, sum, nil
}

// catalogue indexes the stored products by the words of their names.
// Cache keeps the product catalogue between matches while the store's
// software is unchanged (store.ProductsVersion). The zero value is ready;
// a nil *Cache builds the catalogue each time.
type Cache struct {
	mu      sync.Mutex
	version string
	cat     *catalogue
}

func (c *Cache) catalogue(ctx context.Context, st *store.Store) (*catalogue, error) {
	var version string
	if c != nil {
		v, err := st.ProductsVersion(ctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.cat != nil && c.version == v {
			cat := c.cat
			c.mu.Unlock()
			return cat, nil
		}
		c.mu.Unlock()
		version = v
	}
	products, err := st.Products(ctx)
	if err != nil {
		return nil, err
	}
	cat := newCatalogue(products)
	if c != nil {
		c.mu.Lock()
		c.version, c.cat = version, cat
		c.mu.Unlock()
	}
	return cat, nil
}

type catalogue struct {
	ids    []int64
	names  []string         // folded, padded with spaces
	byWord map[string][]int // word → indexes into ids and names
}

func newCatalogue(ps []store.Product) *catalogue {
	c := &catalogue{ids: make([]int64, len(ps)), names: make([]string, len(ps)), byWord: map[string][]int{}}
	for i, p := range ps {
		name := norm(p.Product)
		c.ids[i], c.names[i] = p.ID, " "+name+" "
		seen := map[string]bool{}
		for _, w := range strings.Fields(name) {
			if !seen[w] {
				seen[w] = true
				c.byWord[w] = append(c.byWord[w], i)
			}
		}
	}
	return c
}

// named returns the products whose folded name contains the folded name
// key as whole words ("edgegate" names "Examplesoft EdgeGate").
func (c *catalogue) named(key string) []int64 {
	words := strings.Fields(key)
	if len(words) == 0 {
		return nil
	}
	list := c.byWord[words[0]]
	for _, w := range words[1:] {
		if l := c.byWord[w]; len(l) < len(list) {
			list = l
		}
	}
	phrase := " " + strings.Join(words, " ") + " "
	var out []int64
	for _, i := range list {
		if strings.Contains(c.names[i], phrase) {
			out = append(out, c.ids[i])
			if len(out) == maxProducts {
				break
			}
		}
	}
	return out
}
