package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// params reads query parameters, collecting every bad one.
type params struct {
	v   url.Values
	bad []intel.FieldError
}

func (p *params) fail(name, format string, args ...any) {
	p.bad = append(p.bad, intel.FieldError{Field: name, Message: fmt.Sprintf(format, args...)})
}

// maxParamLen bounds one query parameter's value.
const maxParamLen = 2048

// str reads a parameter. A value with invalid UTF-8 or a control character
// (a NUL byte, say, which no database takes in text) or longer than
// maxParamLen is refused, naming the parameter.
func (p *params) str(name string) string {
	v := strings.TrimSpace(p.v.Get(name))
	if p.check(name, v) {
		return v
	}
	return ""
}

func (p *params) check(name, v string) bool {
	switch {
	case len(v) > maxParamLen:
		p.fail(name, "%s is %d bytes long; at most %d allowed", name, len(v), maxParamLen)
	case !utf8.ValidString(v):
		p.fail(name, "%s is not valid UTF-8", name)
	case strings.ContainsFunc(v, unicode.IsControl):
		p.fail(name, "%s contains a control character (such as a NUL byte); give plain text", name)
	default:
		return true
	}
	return false
}

// list reads a parameter given several times or comma-separated.
func (p *params) list(name string) []string {
	var out []string
	for _, v := range p.v[name] {
		if !p.check(name, v) {
			continue
		}
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

func (p *params) float(name string, lo, hi float64) *float64 {
	v := p.str(name)
	if v == "" {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || f > hi {
		p.fail(name, "%s %q must be a number in %g–%g", name, v, lo, hi)
		return nil
	}
	return &f
}

func (p *params) boolean(name string) *bool {
	v := p.str(name)
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, "%s %q must be true or false", name, v)
		return nil
	}
	return &b
}

func (p *params) time(name string) time.Time {
	v := p.str(name)
	if v == "" {
		return time.Time{}
	}
	t, err := intel.ParseTime(v)
	if err != nil {
		p.fail(name, "%s %q must be %s", name, v, intel.TimeForms)
	}
	return t
}

func (p *params) limit() int {
	v := p.str("limit")
	if v == "" {
		return 100
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		p.fail("limit", "limit %q must be a whole number in 1–1000", v)
	}
	return n
}

func (p *params) err() error { return intel.Invalid(p.bad) }

// objectQuery reads the filters shared by /objects and /vulnerabilities.
func objectQuery(p *params) store.Query {
	q := store.Query{
		Value: p.str("value"), ValuePrefix: p.str("value_prefix"), ValueContains: p.str("value_contains"),
		Tags: p.list("tag"), Collection: p.str("collection"), Instance: p.str("instance"), Text: p.str("q"),
		Deprecated:    p.boolean("deprecated"),
		ModifiedAfter: p.time("modified_after"), ModifiedBefore: p.time("modified_before"),
		LastSeenAfter: p.time("last_seen_after"), LastSeenBefore: p.time("last_seen_before"),
		Limit: p.limit(), After: p.str("cursor"),
	}
	for _, t := range p.list("type") {
		typ, err := intel.ParseType(t)
		if err != nil {
			p.fail("type", "%s", intel.ErrorMessage(err))
			continue
		}
		q.Types = append(q.Types, typ)
	}
	for _, t := range p.list("tlp") {
		tlp, err := intel.ParseTLP(t)
		if err != nil {
			p.fail("tlp", "%s", intel.ErrorMessage(err))
			continue
		}
		q.TLPs = append(q.TLPs, tlp)
	}
	return q
}

// page is one page of objects.
type page struct {
	Objects []intel.Object `json:"objects"`
	Next    string         `json:"next,omitempty"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, q store.Query) error {
	res, err := s.Store.Search(r.Context(), q)
	if err != nil {
		return err
	}
	if res.Objects == nil {
		res.Objects = []intel.Object{}
	}
	writeJSON(w, http.StatusOK, page{res.Objects, res.Next})
	return nil
}

// ObjectQuery reads the parameters of GET /objects (the CLI's search too),
// with an error naming every bad one.
func ObjectQuery(v url.Values) (store.Query, error) {
	p := &params{v: v}
	q := objectQuery(p)
	return q, p.err()
}

// VulnQuery reads the parameters of GET /vulnerabilities (the CLI's vuln
// search too).
func VulnQuery(v url.Values) (store.Query, error) {
	p := &params{v: v}
	q := vulnQuery(p)
	return q, p.err()
}

func (s *Server) searchObjects(w http.ResponseWriter, r *http.Request, pr *auth.Principal) error {
	q, err := ObjectQuery(r.URL.Query())
	if err != nil {
		return err
	}
	q.MaxTLP = pr.Cap()
	return s.search(w, r, q)
}

// objectView is an object with its relations.
type objectView struct {
	intel.Object
	Related []intel.Related `json:"related"`
}

// object loads an object by the {id} path segment, hidden (404) when it is
// above the key's cap; related objects above the cap are left out.
func (s *Server) object(r *http.Request, pr *auth.Principal) (objectView, error) {
	ref := r.PathValue("id")
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 {
		return objectView{}, intel.Errorf(intel.ENOTFOUND, "no object %q: ids are positive whole numbers", ref)
	}
	o, err := s.Store.Get(r.Context(), id)
	if err != nil {
		return objectView{}, err
	}
	if !pr.Sees(o.TLP) {
		return objectView{}, intel.Errorf(intel.ENOTFOUND, "no object %d", id)
	}
	rel, err := s.Store.Related(r.Context(), id, 0)
	if err != nil {
		return objectView{}, err
	}
	v := objectView{Object: *o, Related: []intel.Related{}}
	for _, x := range rel {
		if pr.Sees(x.Object.TLP) {
			v.Related = append(v.Related, x)
		}
	}
	return v, nil
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, pr *auth.Principal) error {
	v, err := s.object(r, pr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// LookupAnswer is the answer for one value of a lookup, the same from the
// API and the CLI.
type LookupAnswer struct {
	Value       string             `json:"value"`                // as asked
	Normalized  string             `json:"normalized,omitempty"` // as stored
	Known       bool               `json:"known"`
	Type        intel.Type         `json:"type,omitempty"`
	ObjectID    int64              `json:"object_id,omitempty"`
	Score       intel.Score        `json:"score,omitempty"` // Flashpoint's verdict
	TLP         intel.TLP          `json:"tlp,omitempty"`
	Confidence  *int               `json:"confidence,omitempty"`
	ValidFrom   time.Time          `json:"valid_from,omitzero"`
	ValidUntil  time.Time          `json:"valid_until,omitzero"`
	Deprecated  bool               `json:"deprecated"`
	LastSeen    time.Time          `json:"last_seen,omitzero"`
	Tags        []string           `json:"tags,omitempty"`
	Sources     []intel.Provenance `json:"sources,omitempty"`
	Collections []string           `json:"collections,omitempty"`
	Error       string             `json:"error,omitempty"` // why the value could not be read
}

// LookupAnswers turns store results into answers; an object above the
// principal's cap is answered as unknown, like one never stored.
func LookupAnswers(res []store.LookupResult, pr *auth.Principal) []LookupAnswer {
	out := make([]LookupAnswer, len(res))
	for i, r := range res {
		a := LookupAnswer{Value: r.Query, Normalized: r.Value, Type: r.Type, Error: r.Error}
		if o := r.Object; r.Found && o != nil && pr.Sees(o.TLP) {
			conf := o.Confidence
			a.Known, a.ObjectID, a.Score, a.TLP, a.Confidence = true, o.ID, o.Score, o.TLP, &conf
			a.ValidFrom, a.ValidUntil, a.Deprecated, a.LastSeen = o.ValidFrom, o.ValidUntil, o.Deprecated, o.LastSeen
			a.Tags, a.Sources, a.Collections = o.Tags, o.Sources, o.Collections
		}
		out[i] = a
	}
	return out
}

// lookupRequest is the body of POST /lookup.
type lookupRequest struct {
	Values []string `json:"values"`
}

// MaxLookupValue is the longest value a lookup takes (a long URL fits).
const MaxLookupValue = 8 << 10

func (s *Server) lookup(w http.ResponseWriter, r *http.Request, pr *auth.Principal) error {
	var q lookupRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	switch {
	case q.Values == nil:
		return intel.Invalid([]intel.FieldError{{Field: "values", Message: "values is required: a list of 1–10,000 values"}})
	case len(q.Values) > store.MaxLookup:
		return intel.Invalid([]intel.FieldError{{Field: "values",
			Message: fmt.Sprintf("%d values; at most %d in one lookup", len(q.Values), store.MaxLookup)}})
	}
	for i, v := range q.Values {
		if len(v) > MaxLookupValue {
			return intel.Invalid([]intel.FieldError{{Field: fmt.Sprintf("values[%d]", i),
				Message: fmt.Sprintf("values[%d] is %d bytes; a value to look up is at most %d bytes", i, len(v), MaxLookupValue)}})
		}
	}
	res, err := s.Store.Lookup(r.Context(), q.Values)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": LookupAnswers(res, pr)})
	return nil
}

func vulnQuery(p *params) store.Query {
	q := objectQuery(p)
	q.Types = nil
	q.Product, q.Vendor = p.str("product"), p.str("vendor")
	q.CVSSv2 = store.Range{Min: p.float("min_cvss2", 0, 10), Max: p.float("max_cvss2", 0, 10)}
	q.CVSSv3 = store.Range{Min: p.float("min_cvss3", 0, 10), Max: p.float("max_cvss3", 0, 10)}
	q.CVSSv4 = store.Range{Min: p.float("min_cvss4", 0, 10), Max: p.float("max_cvss4", 0, 10)}
	q.EPSS = store.Range{Min: p.float("min_epss", 0, 1), Max: p.float("max_epss", 0, 1)}
	q.Severities = p.list("severity")
	for _, sev := range q.Severities {
		if !validSeverity(sev) {
			p.fail("severity", "severity %q is not known; allowed: critical, high, medium, low, informational, none", sev)
		}
	}
	q.ExploitMaturities = p.list("exploit_maturity")
	q.HasCVE = p.boolean("has_cve")
	q.Sort = p.str("sort")
	for _, rg := range []struct {
		name string
		r    store.Range
	}{{"cvss2", q.CVSSv2}, {"cvss3", q.CVSSv3}, {"cvss4", q.CVSSv4}, {"epss", q.EPSS}} {
		if rg.r.Min != nil && rg.r.Max != nil && *rg.r.Min > *rg.r.Max {
			p.fail("min_"+rg.name, "min_%s %g is above max_%s %g", rg.name, *rg.r.Min, rg.name, *rg.r.Max)
		}
	}
	if q.Sort != "" {
		if !slices.Contains(store.SortNames(), q.Sort) {
			p.fail("sort", "sort %q is not known; allowed: %s", q.Sort, strings.Join(store.SortNames(), ", "))
		}
	}
	if q.Product == "" && q.Vendor == "" && !q.CVSSv2.Set() && !q.CVSSv3.Set() && !q.CVSSv4.Set() && !q.EPSS.Set() &&
		len(q.Severities) == 0 && len(q.ExploitMaturities) == 0 && q.HasCVE == nil && q.Sort == "" {
		q.Types = []intel.Type{intel.Vulnerability}
	}
	return q
}

func validSeverity(s string) bool {
	switch strings.ToLower(s) {
	case "critical", "high", "medium", "low", "informational", "none":
		return true
	}
	return false
}

func (s *Server) searchVulnerabilities(w http.ResponseWriter, r *http.Request, pr *auth.Principal) error {
	q, err := VulnQuery(r.URL.Query())
	if err != nil {
		return err
	}
	q.MaxTLP = pr.Cap()
	return s.search(w, r, q)
}

// VulnerabilityView is the exploitability view of a vulnerability
// (docs/domain.md §7): what it is, how bad, how exploitable, what it affects.
type VulnerabilityView struct {
	ID              int64              `json:"id"`
	Value           string             `json:"value"` // the CVE id, or the title of one without
	Title           string             `json:"title,omitempty"`
	Description     string             `json:"description,omitempty"`
	Solution        string             `json:"solution,omitempty"`
	TLP             intel.TLP          `json:"tlp"`
	CustomScores    CustomScores       `json:"custom_scores"`
	Severity        string             `json:"severity,omitempty"`
	CVSSv2          *intel.CVSS        `json:"cvss_v2,omitempty"`
	CVSSv3          *intel.CVSS        `json:"cvss_v3,omitempty"`
	CVSSv4          *intel.CVSS        `json:"cvss_v4,omitempty"`
	ExploitMaturity string             `json:"exploit_maturity,omitempty"` // CVSS v3 exploit code maturity (E)
	EPSS            *float64           `json:"epss,omitempty"`
	EPSSv1          *float64           `json:"epss_v1,omitempty"`
	RansomwareScore string             `json:"ransomware_score,omitempty"`
	RansomwareProb  *float64           `json:"ransomware_probability,omitempty"`
	Keywords        string             `json:"keywords,omitempty"`
	Technical       string             `json:"technical_description,omitempty"`
	Changelog       []intel.Change     `json:"changelog,omitempty"`
	Creditees       []string           `json:"creditees,omitempty"`
	Exploits        []intel.Exploit    `json:"exploits"`
	Timelines       map[string]string  `json:"timelines"`
	CVEIDs          []string           `json:"cve_ids,omitempty"`
	CWEs            []string           `json:"cwes,omitempty"`
	Products        []intel.ProductRef `json:"products"`
	References      []intel.Reference  `json:"references,omitempty"`
	Related         []intel.Related    `json:"related"`
	Sources         []intel.Provenance `json:"sources,omitempty"`
	Collections     []string           `json:"collections,omitempty"`
	PublishedAt     time.Time          `json:"published_at,omitzero"`
	Modified        time.Time          `json:"modified,omitzero"`
}

// CustomScores are the channel's custom scores and confidence.
type CustomScores struct {
	Confidence int  `json:"confidence"`
	Relevance  *int `json:"relevance,omitempty"`
	Severity   *int `json:"severity,omitempty"`
}

func (s *Server) getVulnerability(w http.ResponseWriter, r *http.Request, pr *auth.Principal) error {
	v, err := s.object(r, pr)
	if err != nil {
		return err
	}
	if v.Type != intel.Vulnerability {
		return intel.Errorf(intel.ENOTFOUND, "object %d is a %s, not a vulnerability", v.ID, v.Type)
	}
	d := v.Object.Vulnerability
	if d == nil {
		d = &intel.VulnerabilityDetail{}
	}
	out := VulnerabilityView{
		ID: v.ID, Value: v.Value, Title: v.Name, Description: v.Description, Solution: d.Solution, TLP: v.TLP,
		CustomScores: CustomScores{v.Confidence, v.Relevance, v.Severity},
		Severity:     d.Severity, CVSSv2: d.CVSSv2, CVSSv3: d.CVSSv3, CVSSv4: d.CVSSv4, ExploitMaturity: d.ExploitMaturity,
		EPSS: d.EPSS, EPSSv1: d.EPSSv1, RansomwareScore: d.RansomwareScore, RansomwareProb: d.RansomwareProbability,
		Keywords: d.Keywords, Technical: d.TechnicalDescription, Changelog: d.Changelog, Creditees: d.Creditees,
		Exploits: d.Exploits, Timelines: d.Timelines,
		CVEIDs: d.CVEIDs, CWEs: d.CWEs, Products: d.Products, References: d.References, Related: v.Related,
		Sources: v.Sources, Collections: v.Collections, PublishedAt: d.PublishedAt, Modified: v.Modified,
	}
	if out.Exploits == nil {
		out.Exploits = []intel.Exploit{}
	}
	if out.Timelines == nil {
		out.Timelines = map[string]string{}
	}
	if out.Products == nil {
		out.Products = []intel.ProductRef{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cmdbRequest is the JSON body of POST /cmdb/match.
type cmdbRequest struct {
	Assets []cmdb.Asset `json:"assets"`
}

// cmdbMatch matches a CMDB (CSV with a header row, or JSON) against the
// vulnerabilities the key may see.
func (s *Server) cmdbMatch(w http.ResponseWriter, r *http.Request, pr *auth.Principal) error {
	var assets []cmdb.Asset
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/csv") {
		var err error
		if assets, err = cmdb.ParseCSV(r.Body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return mbe
			}
			return err
		}
	} else {
		var q cmdbRequest
		if err := decode(r, &q); err != nil {
			return err
		}
		assets = q.Assets
	}
	res, sum, err := cmdb.MatchAll(r.Context(), s.Store, assets, pr.Cap())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res, "summary": sum})
	return nil
}
