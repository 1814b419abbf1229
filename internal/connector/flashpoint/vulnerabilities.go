package flashpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"golang.org/x/sync/errgroup"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/intel"
)

var cveRE = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// Vulnerabilities are read window by window (window.go), whatever order the
// server answers in: the API cannot sort them by update time.
func (p *Poll) nextVulnerabilities(ctx context.Context) (*Batch, error) {
	p.openWindow()
	// The bound a second past Until holds a record updated at Until however
	// the server reads "before" (and whatever precision it keeps); the sort
	// is asked for, never relied on.
	q := ignite.VulnerabilityQuery{Size: p.c.size(), UpdatedAfter: p.cur.Since, UpdatedBefore: p.cur.Until.Add(time.Second), Sort: "id"}
	idOf := func(v *ignite.Vulnerability) string { return idString(v.ID.V) }
	page, err := windowPage(p, idOf, func(from int) (*ignite.Page[ignite.Vulnerability], error) {
		q.From = from
		return p.c.Client.ListVulnerabilities(ctx, q)
	})
	if err != nil {
		return nil, err
	}
	b := &Batch{Counts: feed.Counts{Listed: page.Count(), Invalid: len(page.Invalid)}, Remaining: remaining(page)}
	todo, err := p.changedVulnerabilities(ctx, page.Items, &b.Counts)
	if err != nil {
		return nil, err
	}
	full, err := p.details(ctx, todo)
	if err != nil {
		return nil, err
	}
	for _, v := range full {
		objs, rels, keep := p.mapVulnerability(v)
		if !keep {
			b.Counts.Filtered++
			continue
		}
		b.Objects = append(b.Objects, objs...)
		b.Relationships = append(b.Relationships, rels...)
	}
	windowAdvance(p, page, q.Size, idOf)
	b.Cursor = p.cur.String()
	return b, nil
}

// changedVulnerabilities returns the records of a page to read: not read
// already in this window, new or changed since the channel stored them
// (the others count as unchanged: neither their detail nor their mapping
// would add anything), and not dropped by the channel's filters on what
// the list record shows.
func (p *Poll) changedVulnerabilities(ctx context.Context, items []ignite.Vulnerability, st *feed.Counts) ([]*ignite.Vulnerability, error) {
	fresh := make([]*ignite.Vulnerability, 0, len(items))
	ids := make([]int64, 0, len(items))
	for i := range items {
		v := &items[i]
		if !p.seen.first(uint64(v.ID.V)) { // read already in this window (a re-read place, or an order that moved)
			continue
		}
		fresh = append(fresh, v)
		ids = append(ids, v.ID.V)
	}
	var known map[int64]time.Time
	if p.c.Known != nil && len(ids) > 0 {
		var err error
		if known, err = p.c.Known(ctx, ids); err != nil {
			return nil, err
		}
	}
	todo := fresh[:0]
	for _, v := range fresh {
		if at, ok := known[v.ID.V]; ok {
			if rep := vulnReported(v); !rep.IsZero() && !intel.TruncTime(rep).After(at) {
				st.Unchanged++
				continue
			}
		}
		if p.surelyFiltered(vulnDetail(v)) {
			st.Filtered++
			continue
		}
		todo = append(todo, v)
	}
	return todo, nil
}

// surelyFiltered reports whether what a list record shows is enough for the
// channel's filters to drop it (its detail cannot change its CVSS score or
// severity; it may name more vendors and products, so those wait for it).
func (p *Poll) surelyFiltered(d intel.VulnerabilityDetail) bool {
	f := &p.settings.Filters
	if f.MinCVSSv3 != nil && d.CVSSv3 != nil && d.CVSSv3.Score < *f.MinCVSSv3 {
		return true
	}
	return f.MinSeverity != "" && d.Severity != "" && feed.SeverityRank(d.Severity) < feed.SeverityRank(f.MinSeverity)
}

// vulnReported is when a record was last changed, as its objects report it.
func vulnReported(v *ignite.Vulnerability) time.Time {
	for _, t := range []time.Time{v.Timelines.LastModifiedAt.Time, v.LastModifiedAt.Time, v.Timelines.PublishedAt.Time} {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// details fetches the premium records of listed vulnerabilities, several at
// once (the client's rate limit paces them), and returns them in order.
func (p *Poll) details(ctx context.Context, listed []*ignite.Vulnerability) ([]*ignite.Vulnerability, error) {
	out := make([]*ignite.Vulnerability, len(listed))
	workers := p.c.DetailWorkers
	if workers <= 0 {
		workers = 4
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, v := range listed {
		g.Go(func() error {
			full, err := p.detail(gctx, v)
			out[i] = full
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// detail fetches the premium record of a listed vulnerability and lays it
// over the list item: a non-premium token gets 403 (the list item is kept
// for the rest of the poll) or a thinner record (its empty fields keep the
// list's values).
func (p *Poll) detail(ctx context.Context, listed *ignite.Vulnerability) (*ignite.Vulnerability, error) {
	if p.noPremium.Load() {
		return listed, nil
	}
	d, err := p.c.Client.GetVulnerability(ctx, listed.ID.V)
	switch class := ignite.ErrorClass(err); {
	case class == ignite.ClassForbidden:
		if !p.noPremium.Swap(true) {
			p.c.log().Info("flashpoint: vulnerability detail refused (token without premium); keeping list data", "id", listed.ID.V)
		}
		return listed, nil
	case class == ignite.ClassNotFound || class == ignite.ClassBadResponse:
		return listed, nil
	case err != nil:
		return nil, err
	}
	return overlay(listed, d), nil
}

// overlay returns detail with every field it leaves empty taken from list.
func overlay(list, detail *ignite.Vulnerability) *ignite.Vulnerability {
	var a, b map[string]json.RawMessage
	lb, err1 := json.Marshal(list)
	db, err2 := json.Marshal(detail)
	if err1 != nil || err2 != nil || json.Unmarshal(lb, &a) != nil || json.Unmarshal(db, &b) != nil {
		return detail
	}
	for k, v := range b {
		if s := string(v); s != "null" && s != `""` && s != "[]" && s != "{}" {
			a[k] = v
		}
	}
	merged, err := json.Marshal(a)
	if err != nil {
		return detail
	}
	var out ignite.Vulnerability
	if json.Unmarshal(merged, &out) != nil {
		return detail
	}
	out.Raw = detail.Raw
	return &out
}

// TitleValue is the value of a vulnerability without a CVE id: its title,
// with the Flashpoint id that identifies it, so that two records sharing a
// title stay two objects ("Title [Flashpoint 123]"; the object's name is
// the title alone, and a lookup by title finds it).
func TitleValue(title string, flashpointID int64) string {
	id := strconv.FormatInt(flashpointID, 10)
	if title = strings.TrimSpace(title); title == "" {
		return "Flashpoint vulnerability " + id
	}
	return title + " [Flashpoint " + id + "]"
}

// mapVulnerability maps one record (docs/domain.md §5): one vulnerability per
// CVE ID, or one valued by its title when it has none; its products as
// software it has. It reports false when the channel's filters drop it.
func (p *Poll) mapVulnerability(v *ignite.Vulnerability) ([]intel.Object, []intel.Relationship, bool) {
	d := vulnDetail(v)
	if !p.keepVulnerability(v, d) {
		return nil, nil, false
	}
	reported := vulnReported(v)
	values := slices.Clone(d.CVEIDs)
	if len(values) == 0 {
		values = []string{TitleValue(v.Title, v.ID.V)}
	}
	var objs []intel.Object
	var rels []intel.Relationship
	software := productObjects(p, v, reported)
	for _, value := range values {
		o := p.base(intel.Vulnerability, value, reported, v.Tags)
		o.Name, o.Description = v.Title, v.Description
		o.OriginalID = strconv.FormatInt(v.ID.V, 10)
		o.FirstSeen = v.Timelines.PublishedAt.Time.UTC()
		detail := d
		o.Vulnerability = &detail
		objs = append(objs, o)
		for _, sw := range software {
			rels = append(rels, intel.Relationship{Source: o.Ref(), Type: intel.RelHas, Target: sw.Ref()})
		}
	}
	return append(objs, software...), rels, true
}

func (p *Poll) keepVulnerability(v *ignite.Vulnerability, d intel.VulnerabilityDetail) bool {
	f := &p.settings.Filters
	if f.MinCVSSv3 != nil && (d.CVSSv3 == nil || d.CVSSv3.Score < *f.MinCVSSv3) {
		return false
	}
	if f.MinSeverity != "" && feed.SeverityRank(d.Severity) < feed.SeverityRank(f.MinSeverity) {
		return false
	}
	match := func(filters []string, names []string) bool {
		if len(filters) == 0 {
			return true
		}
		for _, want := range filters {
			for _, n := range names {
				if strings.Contains(strings.ToLower(n), strings.ToLower(want)) {
					return true
				}
			}
		}
		return false
	}
	var vendors, products []string
	for _, x := range v.Vendors {
		vendors = append(vendors, x.Name)
	}
	for _, x := range v.Products {
		products = append(products, x.Name)
		vendors = append(vendors, x.Vendor)
	}
	return match(f.Vendors, vendors) && match(f.Products, products)
}

// vendorOf returns the vendor of one of a record's products: its own
// vendor (detail records), else the record's vendor of its vendor_id, else
// the record's only vendor, else the one vendor whose first word starts the
// product's name (list records carry vendors and products apart).
func vendorOf(v *ignite.Vulnerability, pr *ignite.Product) string {
	if vendor := strings.TrimSpace(pr.Vendor); vendor != "" {
		return vendor
	}
	if pr.VendorID != nil {
		for _, x := range v.Vendors {
			if x.ID.V == pr.VendorID.V && x.Name != "" {
				return x.Name
			}
		}
	}
	if len(v.Vendors) == 1 {
		return v.Vendors[0].Name
	}
	match := ""
	for _, x := range v.Vendors {
		if first, _, _ := strings.Cut(strings.TrimSpace(x.Name), " "); first != "" &&
			strings.HasPrefix(strings.ToLower(pr.Name), strings.ToLower(first)+" ") {
			if match != "" {
				return "" // two vendors could claim it: say none rather than guess
			}
			match = x.Name
		}
	}
	return match
}

// productObjects returns the software objects of a record's products, and
// one vendor-only software object (no product name) for each of the
// record's vendors that none of its products names, so that a search by
// vendor finds the vulnerability by any of its vendors.
func productObjects(p *Poll, v *ignite.Vulnerability, reported time.Time) []intel.Object {
	var out []intel.Object
	seen := map[string]bool{}
	named := map[string]bool{}
	for i := range v.Products {
		pr := &v.Products[i]
		vendor := vendorOf(v, pr)
		named[strings.ToLower(vendor)] = true
		name := strings.TrimSpace(pr.Name)
		if name == "" {
			continue
		}
		value := strings.ToLower(strings.TrimSpace(vendor) + ":" + name)
		if seen[value] {
			continue
		}
		seen[value] = true
		sw := p.base(intel.Software, value, reported, nil)
		sw.Tags = slices.Clone(p.settings.Tags)
		sw.Name = name
		sd := intel.SoftwareDetail{Vendor: vendor, Product: name}
		for _, ver := range pr.Versions {
			if ver.Name != "" {
				sd.Versions = append(sd.Versions, ver.Name)
			}
			for _, c := range ver.CPEs {
				if c.Name != "" {
					sd.CPEs = append(sd.CPEs, c.Name)
				}
			}
		}
		sw.Software = &sd
		out = append(out, sw)
	}
	for _, x := range v.Vendors {
		vendor := strings.TrimSpace(x.Name)
		value := strings.ToLower(vendor) + ":"
		if vendor == "" || named[strings.ToLower(vendor)] || seen[value] {
			continue
		}
		seen[value] = true
		sw := p.base(intel.Software, value, reported, nil)
		sw.Tags = slices.Clone(p.settings.Tags)
		sw.Name = vendor
		sw.Software = &intel.SoftwareDetail{Vendor: vendor}
		out = append(out, sw)
	}
	return out
}

// ransomware reads Flashpoint's ransomware score, a category ("High", "None")
// or a number (0.45, or "0.45"): the category in lower case, or the number.
func ransomware(sc ignite.Scalar) (string, *float64) {
	switch {
	case !sc.Valid:
		return "", nil
	case sc.IsNum:
		n := sc.Num
		return "", &n
	}
	text := strings.TrimSpace(sc.Str)
	if n, err := strconv.ParseFloat(text, 64); err == nil {
		return "", &n
	}
	return strings.ToLower(text), nil
}

// vulnDetail keeps what docs/domain.md §5 lists.
func vulnDetail(v *ignite.Vulnerability) intel.VulnerabilityDetail {
	d := intel.VulnerabilityDetail{FlashpointID: v.ID.V, FlashpointIDs: []int64{v.ID.V}, Solution: v.Solution, Status: v.VulnStatus,
		Severity: strings.ToLower(v.Scores.Severity), PublishedAt: v.Timelines.PublishedAt.Time.UTC(),
		Keywords: strings.TrimSpace(v.Keywords), TechnicalDescription: strings.TrimSpace(v.TechnicalDescription),
		EPSSv1: v.Scores.EPSSv1Score.Ptr()}
	d.RansomwareScore, d.RansomwareProbability = ransomware(v.Scores.RansomwareScore)
	for _, c := range v.Changelog {
		if desc := strings.TrimSpace(c.Description); desc != "" {
			d.Changelog = append(d.Changelog, intel.Change{At: c.CreatedAt.Time.UTC(), Description: desc})
		}
	}
	for _, c := range v.Creditees {
		if name := strings.TrimSpace(c.Name); name != "" && !strings.EqualFold(name, "Not Available") {
			d.Creditees = append(d.Creditees, name)
		}
	}
	for _, c := range v.CVEIDs {
		if c = strings.ToUpper(strings.TrimSpace(c)); cveRE.MatchString(c) && !slices.Contains(d.CVEIDs, c) {
			d.CVEIDs = append(d.CVEIDs, c)
		}
	}
	if e := v.Scores.EPSSScore.Ptr(); e != nil {
		d.EPSS = e
	}
	if c := pickV2(v.CVSSv2s); c != nil {
		d.CVSSv2 = &intel.CVSS{Version: "2.0", Score: c.Score.V, Vector: c.Vector(), Source: c.Source}
	}
	if c := pickV3(v.CVSSv3s); c != nil {
		ver := c.Version
		if ver == "" {
			ver = "3.1"
		}
		d.CVSSv3 = &intel.CVSS{Version: ver, Score: c.Score.V, Vector: c.VectorString, Source: c.Source, Temporal: c.TemporalScore.Ptr()}
		if c.ExploitCodeMaturity != nil {
			d.ExploitMaturity = strongest(d.ExploitMaturity, maturity(*c.ExploitCodeMaturity))
		}
	} else if s := v.Scores.CVSSv3Score.Ptr(); s != nil {
		d.CVSSv3 = &intel.CVSS{Version: "3.1", Score: *s}
	}
	if c := pickV4(v.CVSSv4s); c != nil {
		d.CVSSv4 = &intel.CVSS{Version: "4.0", Score: c.Score.V, Vector: c.VectorString, Source: c.Source, Temporal: c.ThreatScore.Ptr()}
		if c.ExploitMaturity != "" {
			d.ExploitMaturity = strongest(d.ExploitMaturity, maturity(c.ExploitMaturity))
		}
	}
	for _, e := range v.Exploits {
		d.Exploits = append(d.Exploits, intel.Exploit{Type: e.Type, URL: e.Value})
	}
	if len(d.Exploits) > 0 { // a published exploit is at least a proof of concept
		d.ExploitMaturity = strongest(d.ExploitMaturity, "proof-of-concept")
	}
	d.Timelines = timelines(&v.Timelines)
	for _, c := range v.Classifications {
		d.Classifications = append(d.Classifications, firstOf(c.Longname, c.Name))
	}
	for _, c := range v.CWEs {
		if c.CWEID.Valid {
			d.CWEs = append(d.CWEs, fmt.Sprintf("CWE-%d", c.CWEID.V))
		}
	}
	for _, r := range v.ExtReferences {
		d.References = append(d.References, intel.Reference{Type: r.Type, Name: r.Value, URL: r.URL})
	}
	for _, x := range v.Vendors {
		d.Vendors = append(d.Vendors, x.Name)
	}
	for _, pr := range productObjectsRefs(v) {
		d.Products = append(d.Products, pr)
	}
	return d
}

func productObjectsRefs(v *ignite.Vulnerability) []intel.ProductRef {
	var out []intel.ProductRef
	for i := range v.Products {
		pr := &v.Products[i]
		r := intel.ProductRef{Vendor: vendorOf(v, pr), Product: pr.Name}
		for _, ver := range pr.Versions {
			if notAffected(ver.Affected) {
				if ver.Name != "" {
					r.Fixed = append(r.Fixed, ver.Name)
				}
				continue
			}
			if ver.Name != "" {
				r.Versions = append(r.Versions, ver.Name)
				if ver.AllPriorVersionsAffected {
					r.AllPriorTo = ver.Name
				}
			}
			for _, c := range ver.CPEs {
				if c.Name != "" {
					r.CPEs = append(r.CPEs, c.Name)
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// notAffected reports whether a product version's "affected" field says it
// is not affected (Flashpoint writes "Affected" and "Not Affected"; an empty
// or unknown value counts as affected, the safe side).
func notAffected(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(s, "not") || s == "unaffected" || s == "fixed" || s == "false"
}

// maturityRank orders exploit maturities, weakest first.
var maturityRank = map[string]int{"": 0, "not-defined": 1, "unproven": 2, "proof-of-concept": 3, "functional": 4, "high": 5}

// strongest returns the stronger of two exploit maturities: a vulnerability
// is as exploitable as its strongest signal says (CVSS v4's ATTACKED
// outranks CVSS v3's Unproven, say).
func strongest(a, b string) string {
	if maturityRank[b] > maturityRank[a] {
		return b
	}
	return a
}

// maturity names CVSS exploit code maturity (v3) or exploit maturity (v4)
// the way searches use it.
func maturity(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "h", "high", "a", "attacked":
		return "high"
	case "f", "functional":
		return "functional"
	case "p", "poc", "proof-of-concept", "proof of concept", "proof_of_concept", "proof-of-concept code":
		return "proof-of-concept"
	case "u", "unproven", "unreported":
		return "unproven"
	case "", "x", "not_defined", "not defined", "not-defined":
		return "not-defined"
	}
	return strings.ToLower(s)
}

func timelines(t *ignite.Timelines) map[string]string {
	out := map[string]string{}
	for name, v := range map[string]ignite.Time{"published_at": t.PublishedAt, "last_modified_at": t.LastModifiedAt,
		"exploit_published_at": t.ExploitPublishedAt, "discovered_at": t.DiscoveredAt, "disclosed_at": t.DisclosedAt,
		"vendor_informed_at": t.VendorInformedAt, "vendor_acknowledged_at": t.VendorAcknowledgedAt,
		"third_party_solution_provided_at": t.ThirdPartySolutionProvidedAt, "solution_provided_at": t.SolutionProvidedAt,
		"exploited_in_the_wild_at": t.ExploitedInTheWildAt} {
		if v.IsSet() && !v.Time.IsZero() {
			out[name] = v.Time.UTC().Format(time.RFC3339)
		}
	}
	for name, v := range map[string]*string{"vendor_response_time": t.VendorResponseTime, "time_to_patch": t.TimeToPatch,
		"total_time_to_patch": t.TotalTimeToPatch, "time_unpatched": t.TimeUnpatched, "time_to_exploit": t.TimeToExploit,
		"total_time_to_exploit": t.TotalTimeToExploit} {
		if v != nil && *v != "" {
			out[name] = *v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// The pick functions prefer the Flashpoint-sourced assessment (docs/domain.md §5).
func pickV2(cs []ignite.CVSSv2) *ignite.CVSSv2 {
	return pick(cs, func(c *ignite.CVSSv2) string { return c.Source })
}
func pickV3(cs []ignite.CVSSv3) *ignite.CVSSv3 {
	return pick(cs, func(c *ignite.CVSSv3) string { return c.Source })
}
func pickV4(cs []ignite.CVSSv4) *ignite.CVSSv4 {
	return pick(cs, func(c *ignite.CVSSv4) string { return c.Source })
}

func pick[T any](cs []T, source func(*T) string) *T {
	for i := range cs {
		if s := strings.ToLower(source(&cs[i])); strings.Contains(s, "flashpoint") || strings.Contains(s, "vulndb") {
			return &cs[i]
		}
	}
	if len(cs) > 0 {
		return &cs[0]
	}
	return nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
