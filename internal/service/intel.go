package service

import (
	"context"
	"fmt"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// Search returns one page of the objects matching q that p may see: the
// principal's TLP cap replaces whatever q says of it.
func (s *Service) Search(ctx context.Context, p *auth.Principal, q store.Query) (store.Result, error) {
	if err := need(p, auth.ReadIntel); err != nil {
		return store.Result{}, err
	}
	q.MaxTLP = p.Cap()
	res, err := s.Store.Search(ctx, q)
	if res.Objects == nil {
		res.Objects = []intel.Object{}
	}
	return res, err
}

// ObjectView is an object with the related objects p may see.
type ObjectView struct {
	intel.Object
	Related []intel.Related `json:"related"`
}

// Object reads an object by id. One above p's cap is not found, like one
// never stored; related objects above the cap are left out.
func (s *Service) Object(ctx context.Context, p *auth.Principal, id int64) (ObjectView, error) {
	if err := need(p, auth.ReadIntel); err != nil {
		return ObjectView{}, err
	}
	if id <= 0 {
		return ObjectView{}, intel.Errorf(intel.ENOTFOUND, "no object %d: ids are positive whole numbers", id)
	}
	o, err := s.Store.Get(ctx, id)
	if err != nil {
		return ObjectView{}, err
	}
	if !p.Sees(o.TLP) {
		return ObjectView{}, intel.Errorf(intel.ENOTFOUND, "no object %d", id)
	}
	rel, err := s.Store.Related(ctx, id, 0)
	if err != nil {
		return ObjectView{}, err
	}
	v := ObjectView{Object: *o, Related: []intel.Related{}}
	for _, x := range rel {
		if p.Sees(x.Object.TLP) {
			v.Related = append(v.Related, x)
		}
	}
	return v, nil
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

// Vulnerability reads a vulnerability by id, as Object does.
func (s *Service) Vulnerability(ctx context.Context, p *auth.Principal, id int64) (VulnerabilityView, error) {
	v, err := s.Object(ctx, p, id)
	if err != nil {
		return VulnerabilityView{}, err
	}
	if v.Type != intel.Vulnerability {
		return VulnerabilityView{}, intel.Errorf(intel.ENOTFOUND, "object %d is a %s, not a vulnerability", v.ID, v.Type)
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
	return out, nil
}

// LookupAnswer is the answer for one value of a lookup.
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

// MaxLookupValue is the longest value a lookup takes (a long URL fits).
const MaxLookupValue = 8 << 10

// Lookup answers, for each value (defanged is fine), whether it is a known
// indicator. An object above p's cap is answered as unknown, like one never
// stored.
func (s *Service) Lookup(ctx context.Context, p *auth.Principal, values []string) ([]LookupAnswer, error) {
	if err := need(p, auth.ReadIntel); err != nil {
		return nil, err
	}
	switch {
	case values == nil:
		return nil, intel.Invalid([]intel.FieldError{{Field: "values", Message: fmt.Sprintf("values is required: a list of 1–%d values", store.MaxLookup)}})
	case len(values) > store.MaxLookup:
		return nil, intel.Invalid([]intel.FieldError{{Field: "values",
			Message: fmt.Sprintf("%d values; at most %d in one lookup", len(values), store.MaxLookup)}})
	}
	for i, v := range values {
		if len(v) > MaxLookupValue {
			return nil, intel.Invalid([]intel.FieldError{{Field: fmt.Sprintf("values[%d]", i),
				Message: fmt.Sprintf("values[%d] is %d bytes; a value to look up is at most %d bytes", i, len(v), MaxLookupValue)}})
		}
	}
	res, err := s.Store.Lookup(ctx, values)
	if err != nil {
		return nil, err
	}
	out := make([]LookupAnswer, len(res))
	for i, r := range res {
		a := LookupAnswer{Value: r.Query, Normalized: r.Value, Type: r.Type, Error: r.Error}
		if o := r.Object; r.Found && o != nil && p.Sees(o.TLP) {
			conf := o.Confidence
			a.Known, a.ObjectID, a.Score, a.TLP, a.Confidence = true, o.ID, o.Score, o.TLP, &conf
			a.ValidFrom, a.ValidUntil, a.Deprecated, a.LastSeen = o.ValidFrom, o.ValidUntil, o.Deprecated, o.LastSeen
			a.Tags, a.Sources, a.Collections = o.Tags, o.Sources, o.Collections
		}
		out[i] = a
	}
	return out, nil
}

// Collections lists the collections, each with the number of objects in it
// that p may see.
func (s *Service) Collections(ctx context.Context, p *auth.Principal) ([]intel.Collection, error) {
	if err := need(p, auth.ViewAPIFeed); err != nil {
		return nil, err
	}
	cs, err := s.Store.CollectionsUpTo(ctx, p.Cap())
	if cs == nil {
		cs = []intel.Collection{}
	}
	return cs, err
}

// CMDBMatch is which assets of a CMDB are vulnerable, by which
// vulnerabilities, and how each match was made.
type CMDBMatch struct {
	Results []cmdb.Result `json:"results"`
	Summary cmdb.Summary  `json:"summary"`
}

// MatchCMDB matches assets against the vulnerabilities p may see.
func (s *Service) MatchCMDB(ctx context.Context, p *auth.Principal, assets []cmdb.Asset) (CMDBMatch, error) {
	if err := need(p, auth.ReadIntel); err != nil {
		return CMDBMatch{}, err
	}
	res, sum, err := cmdb.MatchAll(ctx, s.Store, assets, p.Cap(), &s.products)
	return CMDBMatch{res, sum}, err
}
