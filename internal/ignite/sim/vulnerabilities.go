package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// Vulnerability field salts.
const (
	vProduct = iota + 100
	vProduct2
	vKind
	vCVE
	vWord
	vV2
	vV3
	vV4
	vEPSS
	vRansom
	vQuirk
	vExploits
	vDisclosed
	vCWE
	vVersions
)

// vulnIDBase is added to an index to make the Flashpoint vulnerability id.
const vulnIDBase = 400000

var severities = []string{"critical", "high", "medium", "low", "informational"}
var ransomwareScores = []string{"critical", "high", "medium", "low"}
var vulnSorts = []string{"id", "severity", "title", "cvssv3_score", "published_at"}

func choose(seed uint64, i int, field uint64, opts []string) string {
	return opts[pick(seed, dsVulns, i, field, len(opts))]
}

// v3 metrics: (json value, vector letter) per metric.
func (s *Server) vulnV3(i int) (vector string, m map[string]string) {
	av := choose(s.seed, i, vV3, []string{"N", "N", "N", "A", "L", "P"})
	ac := choose(s.seed, i, vV3+1, []string{"L", "L", "H"})
	pr := choose(s.seed, i, vV3+2, []string{"N", "L", "H"})
	ui := choose(s.seed, i, vV3+3, []string{"N", "R"})
	sc := choose(s.seed, i, vV3+4, []string{"U", "U", "C"})
	c := choose(s.seed, i, vV3+5, []string{"H", "H", "L", "N"})
	in := choose(s.seed, i, vV3+6, []string{"H", "L", "N"})
	a := choose(s.seed, i, vV3+7, []string{"H", "L", "N"})
	e := choose(s.seed, i, vV3+8, []string{"U", "P", "F", "H"})
	rl := choose(s.seed, i, vV3+9, []string{"O", "O", "T", "W", "U"})
	vector = fmt.Sprintf("CVSS:3.1/AV:%s/AC:%s/PR:%s/UI:%s/S:%s/C:%s/I:%s/A:%s/E:%s/RL:%s/RC:C", av, ac, pr, ui, sc, c, in, a, e, rl)
	m = map[string]string{"AV": av, "AC": ac, "PR": pr, "UI": ui, "S": sc, "C": c, "I": in, "A": a, "E": e, "RL": rl}
	return vector, m
}

func (s *Server) vulnV2(i int) string {
	return fmt.Sprintf("AV:%s/AC:%s/Au:%s/C:%s/I:%s/A:%s",
		choose(s.seed, i, vV2, []string{"N", "N", "A", "L"}), choose(s.seed, i, vV2+1, []string{"L", "M", "H"}),
		choose(s.seed, i, vV2+2, []string{"N", "S", "M"}), choose(s.seed, i, vV2+3, []string{"N", "P", "C"}),
		choose(s.seed, i, vV2+4, []string{"N", "P", "C"}), choose(s.seed, i, vV2+5, []string{"N", "P", "C"}))
}

func (s *Server) vulnV4(i int) string {
	return fmt.Sprintf("CVSS:4.0/AV:%s/AC:%s/AT:%s/PR:%s/UI:%s/VC:%s/VI:%s/VA:%s/SC:%s/SI:%s/SA:%s/E:%s",
		choose(s.seed, i, vV4, []string{"N", "N", "A", "L", "P"}), choose(s.seed, i, vV4+1, []string{"L", "H"}),
		choose(s.seed, i, vV4+2, []string{"N", "P"}), choose(s.seed, i, vV4+3, []string{"N", "L", "H"}),
		choose(s.seed, i, vV4+4, []string{"N", "P", "A"}), choose(s.seed, i, vV4+5, []string{"H", "L", "N"}),
		choose(s.seed, i, vV4+6, []string{"H", "L", "N"}), choose(s.seed, i, vV4+7, []string{"H", "L", "N"}),
		choose(s.seed, i, vV4+8, []string{"N", "N", "L", "H"}), choose(s.seed, i, vV4+9, []string{"N", "L", "H"}),
		choose(s.seed, i, vV4+10, []string{"N", "L", "H"}), choose(s.seed, i, vV4+11, []string{"U", "P", "A"}))
}

// cvssScores computes (memoised) base scores with pandatix/go-cvss, so every
// vector the simulator serves parses and matches its score.
func (s *Server) cvssScore(vector string) float64 {
	s.cvssMu.Lock()
	v, ok := s.cvssMemo[vector]
	s.cvssMu.Unlock()
	if ok {
		return v
	}
	switch {
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(vector)
		if err == nil {
			v = c.BaseScore()
		}
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(vector)
		if err == nil {
			v = c.Score()
		}
	case strings.HasPrefix(vector, "temporal:"):
		c, err := gocvss31.ParseVector(strings.TrimPrefix(vector, "temporal:"))
		if err == nil {
			v = c.TemporalScore()
		}
	default:
		c, err := gocvss20.ParseVector(vector)
		if err == nil {
			v = c.BaseScore()
		}
	}
	s.cvssMu.Lock()
	s.cvssMemo[vector] = v
	s.cvssMu.Unlock()
	return v
}

// vulnCore holds the attributes filters need, cheap to compute.
type vulnCore struct {
	i          int
	cves       []string
	title      string
	severity   string
	v2, v3, v4 float64
	epss       float64
	epssNull   bool   // served as null
	ransomNum  bool   // served as a number (0.45), as some sources do
	ransom     string // "" for null
	products   []int
	published  time.Time
	modified   time.Time
	updated    bool
	cwe        int
}

func (s *Server) vulnProducts(i int) []int {
	a := pick(s.seed, dsVulns, i, vProduct, len(catalogue))
	if pick(s.seed, dsVulns, i, vProduct2, 100) < 10 {
		if b := pick(s.seed, dsVulns, i, vProduct2+1, len(catalogue)); b != a {
			return []int{a, b}
		}
	}
	return []int{a}
}

func severityOf(score float64) string {
	switch {
	case score >= 9:
		return "Critical"
	case score >= 7:
		return "High"
	case score >= 4:
		return "Medium"
	case score > 0:
		return "Low"
	}
	return "Informational"
}

// vulnCVEs returns the CVE ids of item i as of clock: 75% one, 7% two,
// 18% none — of which those that get an update gain one then.
func (s *Server) vulnCVEs(i int, pub time.Time, updated bool) []string {
	r := pick(s.seed, dsVulns, i, vCVE, 100)
	year := pub.Year()
	one := fmt.Sprintf("CVE-%d-%d", year, 10000+2*i)
	switch {
	case r < 75:
		return []string{one}
	case r < 82:
		return []string{one, fmt.Sprintf("CVE-%d-%d", year, 10001+2*i)}
	case updated:
		return []string{one}
	}
	return []string{}
}

// GainsCVE reports whether vulnerability index i is published without a CVE
// and gains one when it is updated.
func (s *Server) gainsCVE(i int) bool {
	return pick(s.seed, dsVulns, i, vCVE, 100) >= 82 && s.vulnsTL.hasUpdate(i)
}

func (s *Server) vulnCore(i int, clock time.Time) vulnCore {
	tl := s.vulnsTL
	c := vulnCore{i: i, published: tl.created(i), modified: tl.modified(i, clock), updated: tl.updated(i, clock)}
	c.cves = s.vulnCVEs(i, c.published, c.updated)
	c.products = s.vulnProducts(i)
	kind := vulnKinds[pick(s.seed, dsVulns, i, vKind, len(vulnKinds))]
	p := catalogue[c.products[0]]
	comp := words[i%len(words)] + "_" + base36(uint64(i/len(words))) + ".php"
	c.title = p.name + " " + comp + " " + kind.title
	v3vec, _ := s.vulnV3(i)
	c.v3 = s.cvssScore(v3vec)
	c.v2 = s.cvssScore(s.vulnV2(i))
	c.v4 = s.cvssScore(s.vulnV4(i))
	c.severity = severityOf(c.v3)
	c.epss = math.Round(math.Pow(unit(s.seed, dsVulns, i, vEPSS), 4)*1e5) / 1e5
	if r := pick(s.seed, dsVulns, i, vRansom, 100); r < 60 {
		c.ransom = []string{"Critical", "High", "Medium", "Low", "Low", "Low"}[r%6]
	}
	c.cwe, _ = strconv.Atoi(kind.cwe)
	switch q := pick(s.seed, dsVulns, i, vQuirk, 100); {
	case q < 5:
		c.ransomNum = true
	case q < 10:
		c.epssNull = true
	}
	return c
}

type vulnQuery struct {
	size, from                  int
	updAfter, updBefore         time.Time
	pubAfter, pubBefore         time.Time
	discAfter, discBefore       time.Time
	cves                        map[string]bool
	sortField                   string
	desc                        bool
	severity, ransom            map[string]bool
	tags, products, vendors     []string
	cweIDs                      map[int]bool
	min2, max2, min3, max3      *float64
	min4, max4, minEPSS, maxEPS *float64
}

var vulnParams = set("size", "from", "updated_after", "updated_before", "last_touched_after", "last_touched_before",
	"published_after", "published_before", "disclosed_after", "disclosed_before", "cves", "sort", "severity",
	"ransomware_score", "tags", "products", "vendors", "cwe_ids", "min_cvssv2_score", "max_cvssv2_score",
	"min_cvssv3_score", "max_cvssv3_score", "min_cvssv4_score", "max_cvssv4_score", "min_epss_score", "max_epss_score")

func lowerSet(vals []string) map[string]bool {
	if len(vals) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, v := range vals {
		m[strings.ToLower(v)] = true
	}
	return m
}

func (s *Server) parseVulnQuery(q url.Values, clock time.Time, paging bool) (*vulnQuery, *validation) {
	v := &validation{}
	vq := &vulnQuery{sortField: "id"}
	if paging {
		vq.size = v.intParam(q, "size", 10, 1, 1000)
		vq.from = v.intParam(q, "from", 0, 0, 1<<31-1)
	}
	vq.updAfter = laterOf(v.dateParam(q, "updated_after", clock), v.dateParam(q, "last_touched_after", clock))
	vq.updBefore = earlierOf(v.dateParam(q, "updated_before", clock), v.dateParam(q, "last_touched_before", clock))
	vq.pubAfter = v.dateParam(q, "published_after", clock)
	vq.pubBefore = v.dateParam(q, "published_before", clock)
	vq.discAfter = v.dateParam(q, "disclosed_after", clock)
	vq.discBefore = v.dateParam(q, "disclosed_before", clock)
	vq.cves = map[string]bool{}
	for _, c := range list(q, "cves") {
		vq.cves[strings.ToUpper(c)] = true
	}
	if len(vq.cves) == 0 {
		vq.cves = nil
	}
	if srt := q.Get("sort"); srt != "" {
		f, d, _ := strings.Cut(srt, ":")
		ok := false
		for _, a := range vulnSorts {
			ok = ok || a == f
		}
		if !ok || (d != "" && d != "asc" && d != "desc") {
			v.add("sort", "Input should be one of id, severity, title, cvssv3_score, published_at, optionally with :asc or :desc", srt)
		}
		vq.sortField, vq.desc = f, d == "desc"
	}
	if s.mode().IgnoreSort {
		vq.sortField, vq.desc = "id", true
	}
	vq.severity = lowerSet(v.enumList(q, "severity", severities))
	vq.ransom = lowerSet(v.enumList(q, "ransomware_score", ransomwareScores))
	vq.tags = list(q, "tags")
	vq.products = list(q, "products")
	vq.vendors = list(q, "vendors")
	for _, c := range list(q, "cwe_ids") {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(c), "CWE-"))
		if err != nil {
			v.add("cwe_ids", "Input should be a valid integer", c)
			continue
		}
		if vq.cweIDs == nil {
			vq.cweIDs = map[int]bool{}
		}
		vq.cweIDs[n] = true
	}
	vq.min2, vq.max2 = v.floatParam(q, "min_cvssv2_score", 0, 10), v.floatParam(q, "max_cvssv2_score", 0, 10)
	vq.min3, vq.max3 = v.floatParam(q, "min_cvssv3_score", 0, 10), v.floatParam(q, "max_cvssv3_score", 0, 10)
	vq.min4, vq.max4 = v.floatParam(q, "min_cvssv4_score", 0, 10), v.floatParam(q, "max_cvssv4_score", 0, 10)
	vq.minEPSS, vq.maxEPS = v.floatParam(q, "min_epss_score", 0, 1), v.floatParam(q, "max_epss_score", 0, 1)
	return vq, v
}

func inRangeF(x float64, lo, hi *float64) bool {
	return (lo == nil || x >= *lo) && (hi == nil || x <= *hi)
}

func (s *Server) vulnMatches(vq *vulnQuery, i int, clock time.Time) bool {
	tl := s.vulnsTL
	m := tl.modified(i, clock)
	if (!vq.updAfter.IsZero() && m.Before(vq.updAfter)) || (!vq.updBefore.IsZero() && !m.Before(vq.updBefore)) {
		return false
	}
	pub := tl.created(i)
	if (!vq.pubAfter.IsZero() && pub.Before(vq.pubAfter)) || (!vq.pubBefore.IsZero() && !pub.Before(vq.pubBefore)) {
		return false
	}
	disc := s.disclosed(i)
	if (!vq.discAfter.IsZero() && disc.Before(vq.discAfter)) || (!vq.discBefore.IsZero() && !disc.Before(vq.discBefore)) {
		return false
	}
	c := s.vulnCore(i, clock)
	if vq.cves != nil {
		ok := false
		for _, id := range c.cves {
			ok = ok || vq.cves[id]
		}
		if !ok {
			return false
		}
	}
	if vq.severity != nil && !vq.severity[strings.ToLower(c.severity)] {
		return false
	}
	if vq.ransom != nil && (c.ransomNum || !vq.ransom[strings.ToLower(c.ransom)]) {
		return false
	}
	if !inRangeF(c.v2, vq.min2, vq.max2) || !inRangeF(c.v3, vq.min3, vq.max3) || !inRangeF(c.v4, vq.min4, vq.max4) || !inRangeF(c.epss, vq.minEPSS, vq.maxEPS) ||
		(c.epssNull && (vq.minEPSS != nil || vq.maxEPS != nil)) {
		return false
	}
	if vq.cweIDs != nil && !vq.cweIDs[c.cwe] {
		return false
	}
	if len(vq.products) > 0 && !anyProduct(c.products, vq.products, func(p product) string { return p.name }) {
		return false
	}
	if len(vq.vendors) > 0 && !anyProduct(c.products, vq.vendors, func(p product) string { return p.vendor }) {
		return false
	}
	if len(vq.tags) > 0 {
		tags := vulnTags(c.products)
		ok := false
		for _, t := range vq.tags {
			for _, have := range tags {
				ok = ok || strings.EqualFold(t, have)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func anyProduct(ps []int, names []string, field func(product) string) bool {
	for _, p := range ps {
		for _, n := range names {
			if strings.EqualFold(field(catalogue[p]), n) {
				return true
			}
		}
	}
	return false
}

func vulnTags(ps []int) []string {
	for _, p := range ps {
		if catalogue[p].cpeVendor == "libexampleparse_project" || catalogue[p].cpeVendor == "openexample" {
			return []string{"oss"}
		}
	}
	return []string{}
}

func (s *Server) disclosed(i int) time.Time {
	return s.vulnsTL.created(i).Add(-time.Duration(1+pick(s.seed, dsVulns, i, vDisclosed, 30)) * 24 * time.Hour).Truncate(24 * time.Hour)
}

func (s *Server) vulnCursor(vq *vulnQuery, clock time.Time, key string) cursor {
	tl := s.vulnsTL
	first, last := 0, tl.count(clock)-1
	if !vq.updAfter.IsZero() {
		// An item modified at or after t was created at or after t, or was
		// updated then, which only items up to lag positions earlier can be.
		first = max(tl.pos(vq.updAfter)-tl.lag-1, 0)
	}
	if !vq.pubAfter.IsZero() {
		first = max(first, tl.pos(vq.pubAfter))
	}
	pred := func(i int) bool { return s.vulnMatches(vq, i, clock) }
	unstable := s.mode().UnstableOrder
	switch {
	case unstable:
	case vq.sortField == "id", vq.sortField == "published_at":
		return &filterCursor{c: newIndexCursor(first, last, vq.desc), pred: pred}
	}
	// Other sorts need the matches materialised; keep them per query.
	if cached, ok := s.vulnOrder.Load(key); ok {
		return &sliceCursor{idx: cached.([]int)}
	}
	var idx []int
	c := &filterCursor{c: newIndexCursor(first, last, false), pred: pred}
	for {
		i, ok := c.next()
		if !ok {
			break
		}
		idx = append(idx, i)
	}
	cores := make(map[int]vulnCore, len(idx))
	for _, i := range idx {
		cores[i] = s.vulnCore(i, clock)
	}
	_, ver := s.snapshot()
	less := func(a, b int) bool {
		ca, cb := cores[idx[a]], cores[idx[b]]
		if unstable { // an order of this clock's data alone
			return h(s.seed, uint64(ver), idx[a], 0x0d) < h(s.seed, uint64(ver), idx[b], 0x0d)
		}
		switch vq.sortField {
		case "severity":
			if ca.v3 != cb.v3 {
				return ca.v3 < cb.v3
			}
		case "title":
			if ca.title != cb.title {
				return ca.title < cb.title
			}
		case "cvssv3_score":
			if ca.v3 != cb.v3 {
				return ca.v3 < cb.v3
			}
		}
		return idx[a] < idx[b]
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if vq.desc {
			return less(b, a)
		}
		return less(a, b)
	})
	s.vulnOrder.Store(key, idx)
	return &sliceCursor{idx: idx}
}

func cvssWords(letter string, kind string) string {
	switch kind {
	case "AV":
		return map[string]string{"N": "NETWORK", "A": "ADJACENT_NETWORK", "L": "LOCAL", "P": "PHYSICAL"}[letter]
	case "LH":
		return map[string]string{"L": "LOW", "H": "HIGH", "N": "NONE", "M": "MEDIUM"}[letter]
	case "UI":
		return map[string]string{"N": "NONE", "R": "REQUIRED", "P": "PASSIVE", "A": "ACTIVE"}[letter]
	case "S":
		return map[string]string{"U": "UNCHANGED", "C": "CHANGED"}[letter]
	case "E3":
		return map[string]string{"U": "UNPROVEN", "P": "PROOF_OF_CONCEPT", "F": "FUNCTIONAL", "H": "HIGH"}[letter]
	case "E4":
		return map[string]string{"U": "UNREPORTED", "P": "PROOF_OF_CONCEPT", "A": "ATTACKED", "X": "NOT_DEFINED"}[letter]
	case "RL":
		return map[string]string{"O": "OFFICIAL_FIX", "T": "TEMPORARY_FIX", "W": "WORKAROUND", "U": "UNAVAILABLE"}[letter]
	case "Au":
		return map[string]string{"N": "NONE", "S": "SINGLE_INSTANCE", "M": "MULTIPLE_INSTANCES"}[letter]
	case "CIA2":
		return map[string]string{"N": "NONE", "P": "PARTIAL", "C": "COMPLETE"}[letter]
	}
	return letter
}

func vecMap(vector string) map[string]string {
	m := map[string]string{}
	for _, part := range strings.Split(vector, "/") {
		if k, v, ok := strings.Cut(part, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// vulnerability builds the wire record; detail adds the premium-only fields.
func (s *Server) vulnerability(i int, clock time.Time, detail bool) map[string]any {
	c := s.vulnCore(i, clock)
	id := vulnIDBase + i
	kind := vulnKinds[pick(s.seed, dsVulns, i, vKind, len(vulnKinds))]
	p0 := catalogue[c.products[0]]
	quirk := pick(s.seed, dsVulns, i, vQuirk, 100)
	gen := fmtSec(c.published.Add(-20 * time.Minute))
	v3vec, v3m := s.vulnV3(i)
	v2vec := s.vulnV2(i)
	v2m := vecMap(v2vec)
	v4vec := s.vulnV4(i)
	v4m := vecMap(v4vec)
	timelines := map[string]any{
		"published_at": fmtSec(c.published), "last_modified_at": fmtSec(c.modified),
		"exploit_published_at": nil, "discovered_at": nil, "disclosed_at": fmtSec(s.disclosed(i)),
		"vendor_informed_at": nil, "vendor_acknowledged_at": nil, "third_party_solution_provided_at": nil,
		"solution_provided_at": nil, "exploited_in_the_wild_at": nil,
	}
	nExploits := pick(s.seed, dsVulns, i, vExploits, 4)
	if nExploits > 0 {
		timelines["exploit_published_at"] = fmtSec(s.disclosed(i).Add(24 * time.Hour))
	}
	if v3m["RL"] == "O" {
		timelines["solution_provided_at"] = fmtSec(s.disclosed(i))
	}
	if v4m["E"] == "A" {
		timelines["exploited_in_the_wild_at"] = fmtSec(c.published.Add(-24 * time.Hour).Truncate(24 * time.Hour))
	}
	scores := map[string]any{"severity": c.severity, "cvssv3_score": c.v3, "epss_score": c.epss,
		"epss_v1_score": math.Round(c.epss*0.7*1e7) / 1e7, "ransomware_score": nil}
	if c.ransom != "" {
		scores["ransomware_score"] = c.ransom
	}
	if c.ransomNum {
		scores["ransomware_score"] = 0.45 // some sources send a number
	}
	if c.epssNull {
		scores["epss_score"] = nil
	}
	var cwes []map[string]any
	if pick(s.seed, dsVulns, i, vCWE, 100) < 70 {
		var cweID any = c.cwe
		if quirk >= 10 && quirk < 15 {
			cweID = "CWE-" + kind.cwe // some sources send text
		}
		var cveRef any
		if len(c.cves) > 0 {
			cveRef = c.cves[0]
		}
		cwes = append(cwes, map[string]any{"cwe_id": cweID, "name": kind.name, "source": "nvd", "cve_ids": cveRef})
	}
	var refs []map[string]any
	for _, cve := range c.cves {
		refs = append(refs, map[string]any{"value": strings.TrimPrefix(cve, "CVE-"), "type": "CVE ID",
			"url": "https://www.cve.org/CVERecord?id=" + cve, "description": nil, "created_at": gen})
	}
	refs = append(refs, map[string]any{"value": "https://support." + p0.cpeVendor + ".example/advisories/" + strconv.Itoa(id),
		"type": "Vendor Specific Advisory URL", "url": "https://support." + p0.cpeVendor + ".example/advisories/" + strconv.Itoa(id),
		"description": nil, "created_at": gen})
	var exploitsCount any = nExploits
	if quirk >= 15 && quirk < 18 {
		exploitsCount = strconv.Itoa(nExploits) // a number sent as a string
	}
	locName := map[string]string{"N": "location_remote", "A": "location_local_remote", "L": "location_local", "P": "location_physical"}[v3m["AV"]]
	classes := []map[string]any{
		{"name": locName, "longname": strings.ReplaceAll(strings.TrimPrefix(locName, "location_"), "_", " "), "description": "Where the attacker must be."},
		{"name": "solution_" + map[bool]string{true: "upgrade", false: "unknown"}[v3m["RL"] == "O"], "longname": "Solution", "description": ""},
		{"name": "exploit_" + map[bool]string{true: "public", false: "unknown"}[nExploits > 0], "longname": "Exploit", "description": ""},
	}
	cveOrNil := func() any { return nil }
	v2 := map[string]any{
		"access_vector": cvssWords(v2m["AV"], "AV"), "access_complexity": cvssWords(v2m["AC"], "LH"),
		"authentication": cvssWords(v2m["Au"], "Au"), "confidentiality_impact": cvssWords(v2m["C"], "CIA2"),
		"integrity_impact": cvssWords(v2m["I"], "CIA2"), "availability_impact": cvssWords(v2m["A"], "CIA2"),
		"source": "Flashpoint", "generated_at": gen, "cve_id": cveOrNil(), "score": c.v2, "calculated_cvss_base_score": c.v2,
	}
	v3 := map[string]any{
		"attack_vector": cvssWords(v3m["AV"], "AV"), "attack_complexity": cvssWords(v3m["AC"], "LH"),
		"privileges_required": cvssWords(v3m["PR"], "LH"), "user_interaction": cvssWords(v3m["UI"], "UI"),
		"scope": cvssWords(v3m["S"], "S"), "confidentiality_impact": cvssWords(v3m["C"], "LH"),
		"integrity_impact": cvssWords(v3m["I"], "LH"), "availability_impact": cvssWords(v3m["A"], "LH"),
		"source": "Flashpoint", "generated_at": gen, "cve_id": nil, "score": c.v3, "calculated_cvss_base_score": c.v3,
		"vector_string": v3vec, "version": "3.1", "remediation_level": cvssWords(v3m["RL"], "RL"),
		"report_confidence": "CONFIRMED", "exploit_code_maturity": cvssWords(v3m["E"], "E3"),
		"temporal_score": s.cvssScore("temporal:" + v3vec), "updated_at": fmtSec(c.published),
	}
	v4 := map[string]any{
		"score": c.v4, "threat_score": c.v4, "source": "Flashpoint", "generated_at": fmtTime(c.published.Add(-20 * time.Minute)),
		"updated_at": fmtTime(c.published.Add(-19 * time.Minute)), "cve_id": nil, "vector_string": v4vec, "version": "4.0",
		"attack_vector": cvssWords(v4m["AV"], "AV"), "attack_complexity": cvssWords(v4m["AC"], "LH"),
		"attack_requirements": map[string]string{"N": "NONE", "P": "PRESENT"}[v4m["AT"]],
		"privileges_required": cvssWords(v4m["PR"], "LH"), "user_interaction": cvssWords(v4m["UI"], "UI"),
		"exploit_maturity":                         cvssWords(v4m["E"], "E4"),
		"vulnerable_system_confidentiality_impact": cvssWords(v4m["VC"], "LH"), "vulnerable_system_integrity_impact": cvssWords(v4m["VI"], "LH"),
		"vulnerable_system_availability_impact": cvssWords(v4m["VA"], "LH"), "subsequent_system_confidentiality_impact": cvssWords(v4m["SC"], "LH"),
		"subsequent_system_integrity_impact": cvssWords(v4m["SI"], "LH"), "subsequent_system_availability_impact": cvssWords(v4m["SA"], "LH"),
	}
	var products, vendors []map[string]any
	seenVendor := map[string]bool{}
	for k, pi := range c.products {
		p := catalogue[pi]
		prodID := 15000000 + pi*1000
		vendorID := 88000 + pi/2*7
		prod := map[string]any{"id": prodID, "name": p.name}
		if detail {
			prod["vendor"], prod["vendor_id"] = p.vendor, vendorID
			// Affected: every version up to a cut-off; the rest are fixed.
			cut := pick(s.seed, dsVulns, i, vVersions+uint64(k), len(p.versions))
			var versions []map[string]any
			for vi, ver := range p.versions {
				affected := "Affected"
				if vi > cut {
					affected = "Not Affected"
				}
				src := "Official"
				if pick(s.seed, dsVulns, i, vVersions+10+uint64(vi), 100) < 20 {
					src = "Flashpoint-specified"
				}
				versions = append(versions, map[string]any{
					"id": 90000000 + pi*100 + vi, "vulndb_version_id": 7700000 + pi*100 + vi, "name": ver, "affected": affected,
					"all_prior_versions_affected": vi == cut && vi == 0,
					"cpes":                        []map[string]any{{"name": fmt.Sprintf("cpe:2.3:%s:%s:%s:%s:*:*:*:*:*:*:*", p.part, p.cpeVendor, p.cpeProduct, ver), "source": src}},
				})
			}
			prod["versions"] = versions
		}
		products = append(products, prod)
		if !seenVendor[p.vendor] {
			seenVendor[p.vendor] = true
			vendors = append(vendors, map[string]any{"id": vendorID, "name": p.vendor})
		}
	}
	rec := map[string]any{
		"id": id, "cve_ids": c.cves, "title": c.title, "keywords": "",
		"description":           fmt.Sprintf("%s %s", p0.name, kind.description),
		"solution":              map[bool]string{true: "Upgrade to a version that addresses this vulnerability.", false: "Currently, there are no known upgrades or patches to correct this issue."}[v3m["RL"] == "O"],
		"technical_description": "",
		"timelines":             timelines, "scores": scores, "vuln_status": "Active", "cwes": orEmpty(cwes),
		"exploits": []any{}, "exploits_count": exploitsCount, "ext_references": refs, "classifications": classes,
		"cvss_v2s": []any{v2}, "cvss_v3s": []any{v3}, "cvss_v4s": []any{v4},
		"tags": vulnTags(c.products), "products": products, "vendors": vendors,
	}
	if detail {
		var exploits []map[string]any
		for k := 0; k < nExploits; k++ {
			exploits = append(exploits, map[string]any{"value": fmt.Sprintf("https://www.exploit-db.example/exploits/%d", 50000+i*4+k), "type": []string{"Exploit Database", "Generic Exploit URL", "Packet Storm", "Metasploit URL"}[k]})
		}
		rec["exploits"] = orEmpty(exploits)
		timelines["vendor_response_time"] = "4 days"
		timelines["time_to_patch"] = nil
		if v3m["RL"] == "O" {
			timelines["time_to_patch"] = fmt.Sprintf("%d days", 1+pick(s.seed, dsVulns, i, vDisclosed+1, 40))
		}
		timelines["total_time_to_patch"] = timelines["time_to_patch"]
		timelines["time_unpatched"] = "0:00:00"
		timelines["time_to_exploit"] = "1 day, 0:00:00"
		timelines["total_time_to_exploit"] = nil
		rec["alternate_vulndb_id"] = nil
		changelog := []map[string]any{{"created_at": fmtSec(c.published), "description": "Vulnerability published"}}
		if c.updated {
			changelog = append([]map[string]any{{"created_at": fmtSec(c.modified), "description": "Vulnerability updated"}}, changelog...)
		}
		rec["changelog"] = changelog
		rec["creditees"] = []map[string]any{{"name": "Not Available"}}
		var nvd, social []map[string]any
		for _, cve := range c.cves {
			nvd = append(nvd, map[string]any{"cve_id": cve, "summary": fmt.Sprintf("%s %s", p0.name, kind.description),
				"cwes": []map[string]any{{"cwe_id": c.cwe, "name": kind.name}}, "references": []map[string]any{{"name": "advisory", "url": refs[len(refs)-1]["url"]}},
				"cvss_v2s": []any{}, "cvss_v3s": []any{map[string]any{"score": c.v3, "vector_string": strings.SplitN(v3vec, "/E:", 2)[0], "version": "3.1"}}})
			social = append(social, map[string]any{"cve_id": cve, "numeric_score": math.Round(c.epss*100) / 10, "categorical_score": "Low",
				"score_date": fmtSec(c.modified.Truncate(24 * time.Hour)), "todays_tweets": 0, "total_tweets": 3, "unique_users": 2})
		}
		rec["nvd_additional_information"] = orEmpty(nvd)
		scores["social_risk_scores"] = orEmpty(social)
	}
	return rec
}

func orEmpty(v []map[string]any) any {
	if v == nil {
		return []any{}
	}
	return v
}

func (s *Server) listVulnerabilities(w http.ResponseWriter, r *http.Request, _ Token, f *Fault) {
	clock, ver := s.snapshot()
	q := r.URL.Query()
	s.noteUnknown(EPVulnerabilities, q, vulnParams)
	vq, v := s.parseVulnQuery(q, clock, true)
	if v.write(w) {
		return
	}
	key := queryKey(EPVulnerabilities, ver, q, "from", "size")
	build := func() cursor { return s.vulnCursor(vq, clock, key) }
	idx, more := s.resume.page(key, vq.from, s.pageLen(vq.size), build)
	var total any = s.counts.get(key, build)
	if s.mode().NoTotal {
		total = nil
	}
	results := make([]any, len(idx))
	for k, i := range idx {
		results[k] = s.vulnerability(i, clock, false)
	}
	if f != nil && f.Conflict && len(results) > 0 {
		results[0].(map[string]any)["cve_ids"] = "CVE-0000-0000" // a string where a list belongs
		results[0].(map[string]any)["timelines"] = []int{1}
	}
	var next, prev any
	if more {
		next = nextLink(r, vq.from+len(idx), vq.size)
	}
	if vq.from > 0 {
		prev = nextLink(r, max(vq.from-vq.size, 0), vq.size)
	}
	body, _ := json.Marshal(map[string]any{"total": total, "next": next, "previous": prev, "size": vq.size, "from": vq.from, "results": results})
	writeBody(w, nil, body, f)
}

func (s *Server) getVulnerability(w http.ResponseWriter, r *http.Request, tok Token, f *Fault) {
	clock, _ := s.snapshot()
	raw := r.PathValue("id")
	if len(raw) > 8 && strings.EqualFold(raw[:8], "FP-VULN-") {
		raw = raw[8:]
	}
	id, err := strconv.Atoi(raw)
	i := id - vulnIDBase
	if err != nil || i < 0 || i >= s.vulnsTL.count(clock) {
		writeJSON(w, http.StatusNotFound, problem(404))
		return
	}
	premium := tok.Datasets[DatasetPremium]
	if !premium {
		s.mu.RLock()
		mode := s.nonPremium
		s.mu.RUnlock()
		if mode == "forbidden" {
			writeJSON(w, http.StatusForbidden, map[string]any{"detail": "Forbidden"})
			return
		}
	}
	body, _ := json.Marshal(s.vulnerability(i, clock, premium))
	writeBody(w, nil, body, f)
}

func (s *Server) vulnTruth(q url.Values) (Truth, error) {
	clock, ver := s.snapshot()
	vq, v := s.parseVulnQuery(q, clock, false)
	if len(v.errs) > 0 {
		return Truth{}, fmt.Errorf("invalid query: %v", v.errs)
	}
	c := s.vulnCursor(vq, clock, queryKey("truth-vulns", ver, q))
	return collect(c, func(i int) string { return strconv.Itoa(vulnIDBase + i) }), nil
}

// VulnerabilityGainingCVE returns the Flashpoint id of a vulnerability that
// is served without a CVE at the current clock and gains one at the
// returned time, or ok false when none exists within the next limit.
func (s *Server) VulnerabilityGainingCVE(limit time.Duration) (id int, at time.Time, ok bool) {
	clock := s.now()
	tl := s.vulnsTL
	for i := 0; i < tl.count(clock); i++ {
		if !s.gainsCVE(i) || tl.updated(i, clock) {
			continue
		}
		if t := tl.updateTime(i); t.Sub(clock) <= limit {
			return vulnIDBase + i, t, true
		}
	}
	return 0, time.Time{}, false
}
