package ignite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Endpoint paths, relative to the base URL.
const (
	PathReports         = "/finished-intelligence/v1/reports"
	PathEvents          = "/technical-intelligence/v1/event"
	PathVulnerabilities = "/vulnerability-intelligence/v1/vulnerabilities"
	PathIndicators      = "/technical-intelligence/v2/indicators"
)

// Page-size limits of the API (docs/flashpoint-api.md §4.1, §6.1).
const (
	MaxIndicatorPage      = 1000
	MaxIndicatorPageEmbed = 500
	MaxVulnerabilityPage  = 1000
)

func setTime(q url.Values, key string, t time.Time) {
	if !t.IsZero() {
		q.Set(key, FormatTime(t))
	}
}

func setList(q url.Values, key string, vs []string) {
	if len(vs) > 0 {
		q.Set(key, strings.Join(vs, ","))
	}
}

func setFloat(q url.Values, key string, f *float64) {
	if f != nil {
		q.Set(key, strconv.FormatFloat(*f, 'f', -1, 64))
	}
}

func setInt(q url.Values, key string, n int) {
	if n > 0 {
		q.Set(key, strconv.Itoa(n))
	}
}

func mergeExtra(q, extra url.Values) {
	for k, vs := range extra {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
}

// ReportQuery filters GET /finished-intelligence/v1/reports.
type ReportQuery struct {
	Limit        int       // page size
	Skip         int       // offset (List only; the pager manages it)
	Since        time.Time // lower bound on updated_at
	UpdatedSince time.Time
	Sort         string // "updated_at:asc"
	Query        string // free text
	Embed        string
	Extra        url.Values // any other parameter, sent as is
}

func (q ReportQuery) values() url.Values {
	v := url.Values{}
	setInt(v, "limit", q.Limit)
	setInt(v, "skip", q.Skip)
	setTime(v, "since", q.Since)
	setTime(v, "updated_since", q.UpdatedSince)
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	if q.Query != "" {
		v.Set("query", q.Query)
	}
	if q.Embed != "" {
		v.Set("embed", q.Embed)
	}
	mergeExtra(v, q.Extra)
	return v
}

// ListReports fetches one page of reports.
func (c *Client) ListReports(ctx context.Context, q ReportQuery) (*Page[Report], error) {
	return c.listReports(ctx, c.endpointURL(PathReports, q.values()), q.Skip, q.Limit)
}

func (c *Client) listReports(ctx context.Context, u *url.URL, skip, limit int) (*Page[Report], error) {
	return get(ctx, c, "reports", u, func(r *response) (*Page[Report], error) {
		fields, data, ok, err := listField(r, "data")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &Error{Class: ClassBadResponse, Status: r.status, Message: `wrong envelope: no "data" list`}
		}
		p := &Page[Report]{Total: -1, Offset: skip, Size: limit}
		var total *int
		if err := field(r, fields, "total", &total); err != nil {
			return nil, err
		}
		if total != nil {
			p.Total = *total
		}
		p.Items, p.Invalid = decodeItems[Report](data)
		return p, nil
	})
}

// Reports returns a pager over reports matching q, from q.Skip.
func (c *Client) Reports(q ReportQuery) *Pager[Report] {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	return &Pager[Report]{
		from: q.Skip,
		fetch: func(ctx context.Context, from int, _ *url.URL) (*Page[Report], error) {
			q.Skip = from
			v := q.values()
			v.Set("skip", strconv.Itoa(from))
			return c.listReports(ctx, c.endpointURL(PathReports, v), from, q.Limit)
		},
		rebase: func(link string) (*url.URL, error) { return c.rebase(link, PathReports) },
	}
}

// GetReport fetches one report by id.
func (c *Client) GetReport(ctx context.Context, id string) (*Report, error) {
	if id == "" {
		return nil, &Error{Class: ClassInvalidRequest, Endpoint: "report", Message: "empty report id"}
	}
	u := c.endpointURL(PathReports+"/"+url.PathEscape(id), nil)
	return get(ctx, c, "report", u, func(r *response) (*Report, error) {
		var rep Report
		if err := decodeJSON(r, &rep); err != nil {
			return nil, err
		}
		if rep.ID == "" {
			return nil, &Error{Class: ClassBadResponse, Status: r.status, Message: "report without an id"}
		}
		rep.Raw = append(json.RawMessage(nil), r.body...)
		return &rep, nil
	})
}

// EventQuery filters GET /technical-intelligence/v1/event.
type EventQuery struct {
	Report        string // report id (required for the report channel)
	Limit         int
	Skip          int
	SortTimestamp string // "asc" or "desc"
	AttackIDs     []string
	Extra         url.Values
}

func (q EventQuery) values() url.Values {
	v := url.Values{}
	if q.Report != "" {
		v.Set("report", q.Report)
	}
	setInt(v, "limit", q.Limit)
	setInt(v, "skip", q.Skip)
	if q.SortTimestamp != "" {
		v.Set("sort_timestamp", q.SortTimestamp)
	}
	setList(v, "attack_ids", q.AttackIDs)
	mergeExtra(v, q.Extra)
	return v
}

// ListEvents fetches one page of events. The total comes from the
// x-fp-total-hits header when the server sends it.
func (c *Client) ListEvents(ctx context.Context, q EventQuery) (*Page[Event], error) {
	return c.listEvents(ctx, c.endpointURL(PathEvents, q.values()), q.Skip, q.Limit)
}

func (c *Client) listEvents(ctx context.Context, u *url.URL, skip, limit int) (*Page[Event], error) {
	return get(ctx, c, "events", u, func(r *response) (*Page[Event], error) {
		raws, err := arrayElements(r.body)
		if err != nil {
			return nil, &Error{Class: ClassBadResponse, Status: r.status, Message: describeJSONError(r.body, err)}
		}
		p := &Page[Event]{Total: -1, Offset: skip, Size: limit}
		if h := r.header.Get("X-Fp-Total-Hits"); h != "" {
			if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
				p.Total = n
			}
		}
		p.Items, p.Invalid = decodeItems[Event](raws)
		return p, nil
	})
}

// Events returns a pager over the events of q.Report.
func (c *Client) Events(q EventQuery) *Pager[Event] {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	return &Pager[Event]{
		from: q.Skip,
		fetch: func(ctx context.Context, from int, _ *url.URL) (*Page[Event], error) {
			v := q.values()
			v.Set("skip", strconv.Itoa(from))
			return c.listEvents(ctx, c.endpointURL(PathEvents, v), from, q.Limit)
		},
		rebase: func(link string) (*url.URL, error) { return c.rebase(link, PathEvents) },
	}
}

// VulnerabilityQuery filters GET /vulnerability-intelligence/v1/vulnerabilities (docs/flashpoint-api.md §4.1).
type VulnerabilityQuery struct {
	Size                                int
	From                                int
	UpdatedAfter, UpdatedBefore         time.Time
	LastTouchedAfter, LastTouchedBefore time.Time
	PublishedAfter, PublishedBefore     time.Time
	DisclosedAfter, DisclosedBefore     time.Time
	CVEs                                []string
	Sort                                string // id, severity, title, cvssv3_score, published_at; ":desc" for descending
	Severity                            []string
	RansomwareScore                     []string
	Location                            []string
	AttackType                          []string
	RefTypes, RefValues                 []string
	Tags, Products, Vendors             []string
	CWEIDs                              []int
	MinCVSSv2, MaxCVSSv2                *float64
	MinCVSSv3, MaxCVSSv3                *float64
	MinCVSSv4, MaxCVSSv4                *float64
	MinEPSS, MaxEPSS                    *float64
	Extra                               url.Values
}

func (q VulnerabilityQuery) values() url.Values {
	v := url.Values{}
	setInt(v, "size", q.Size)
	setInt(v, "from", q.From)
	setTime(v, "updated_after", q.UpdatedAfter)
	setTime(v, "updated_before", q.UpdatedBefore)
	setTime(v, "last_touched_after", q.LastTouchedAfter)
	setTime(v, "last_touched_before", q.LastTouchedBefore)
	setTime(v, "published_after", q.PublishedAfter)
	setTime(v, "published_before", q.PublishedBefore)
	setTime(v, "disclosed_after", q.DisclosedAfter)
	setTime(v, "disclosed_before", q.DisclosedBefore)
	setList(v, "cves", q.CVEs)
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	setList(v, "severity", q.Severity)
	setList(v, "ransomware_score", q.RansomwareScore)
	setList(v, "location", q.Location)
	setList(v, "attack_type", q.AttackType)
	setList(v, "ref_types", q.RefTypes)
	setList(v, "ref_values", q.RefValues)
	setList(v, "tags", q.Tags)
	setList(v, "products", q.Products)
	setList(v, "vendors", q.Vendors)
	if len(q.CWEIDs) > 0 {
		ids := make([]string, len(q.CWEIDs))
		for i, id := range q.CWEIDs {
			ids[i] = strconv.Itoa(id)
		}
		setList(v, "cwe_ids", ids)
	}
	setFloat(v, "min_cvssv2_score", q.MinCVSSv2)
	setFloat(v, "max_cvssv2_score", q.MaxCVSSv2)
	setFloat(v, "min_cvssv3_score", q.MinCVSSv3)
	setFloat(v, "max_cvssv3_score", q.MaxCVSSv3)
	setFloat(v, "min_cvssv4_score", q.MinCVSSv4)
	setFloat(v, "max_cvssv4_score", q.MaxCVSSv4)
	setFloat(v, "min_epss_score", q.MinEPSS)
	setFloat(v, "max_epss_score", q.MaxEPSS)
	mergeExtra(v, q.Extra)
	return v
}

// ListVulnerabilities fetches one page of vulnerabilities.
func (c *Client) ListVulnerabilities(ctx context.Context, q VulnerabilityQuery) (*Page[Vulnerability], error) {
	return c.listVulnerabilities(ctx, c.endpointURL(PathVulnerabilities, q.values()), q.From, q.Size)
}

func (c *Client) listVulnerabilities(ctx context.Context, u *url.URL, from, size int) (*Page[Vulnerability], error) {
	return get(ctx, c, "vulnerabilities", u, func(r *response) (*Page[Vulnerability], error) {
		fields, results, ok, err := listField(r, "results")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &Error{Class: ClassBadResponse, Status: r.status, Message: `wrong envelope: no "results" list`}
		}
		p := &Page[Vulnerability]{Total: -1, Offset: from, Size: size}
		var total *int
		if err := errors.Join(field(r, fields, "total", &total), field(r, fields, "next", &p.Next)); err != nil {
			return nil, err
		}
		if total != nil {
			p.Total = *total
		}
		p.Items, p.Invalid = decodeItems[Vulnerability](results)
		return p, nil
	})
}

// Vulnerabilities returns a pager over vulnerabilities matching q. It follows
// the next link when the server sends one, and pages by offset otherwise.
func (c *Client) Vulnerabilities(q VulnerabilityQuery) *Pager[Vulnerability] {
	if q.Size <= 0 {
		q.Size = 500
	}
	return &Pager[Vulnerability]{
		from: q.From,
		fetch: func(ctx context.Context, from int, link *url.URL) (*Page[Vulnerability], error) {
			if link == nil {
				q.From = from
				v := q.values()
				v.Set("from", strconv.Itoa(from))
				link = c.endpointURL(PathVulnerabilities, v)
			}
			return c.listVulnerabilities(ctx, link, from, q.Size)
		},
		rebase: func(link string) (*url.URL, error) { return c.rebase(link, PathVulnerabilities) },
	}
}

// GetVulnerability fetches one vulnerability's detail. For a non-premium
// token the server may answer 403 or a thinner record.
func (c *Client) GetVulnerability(ctx context.Context, id int64) (*Vulnerability, error) {
	u := c.endpointURL(PathVulnerabilities+"/"+strconv.FormatInt(id, 10), nil)
	return get(ctx, c, "vulnerability", u, func(r *response) (*Vulnerability, error) {
		var v Vulnerability
		if err := decodeJSON(r, &v); err != nil {
			return nil, err
		}
		if !v.ID.Valid {
			return nil, &Error{Class: ClassBadResponse, Status: r.status, Message: "vulnerability without an id"}
		}
		v.Raw = append(json.RawMessage(nil), r.body...)
		return &v, nil
	})
}

// ParseVulnerabilityID accepts 451902 or FP-VULN-451902.
func ParseVulnerabilityID(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if len(s) > 8 && strings.EqualFold(s[:8], "FP-VULN-") {
		s = s[8:]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("ignite: vulnerability id %q: want a positive integer or FP-VULN-<n>", s)
	}
	return n, nil
}

// IndicatorQuery filters GET /technical-intelligence/v2/indicators (docs/flashpoint-api.md §6.1).
type IndicatorQuery struct {
	Size                          int
	From                          int
	Sort                          string // created_at, last_seen_at or modified_at, with :asc or :desc
	ModifiedAfter, ModifiedBefore time.Time
	LastSeenAfter, LastSeenBefore time.Time
	CreatedAfter, CreatedBefore   time.Time
	IOCTypes                      []string
	IOCValue                      string
	CIDRRange                     string
	MinScore, MaxScore            string
	Tags                          []string
	Sources, Actors, Malware      []string
	MitreAttackIDs                []string
	HasIntelReport                *bool
	HasExtractedConfig            *bool
	Embed                         []string
	IncludeTotalCount             bool
	Extra                         url.Values
}

func (q IndicatorQuery) values() url.Values {
	v := url.Values{}
	setInt(v, "size", q.Size)
	setInt(v, "from", q.From)
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	setTime(v, "modified_after", q.ModifiedAfter)
	setTime(v, "modified_before", q.ModifiedBefore)
	setTime(v, "last_seen_after", q.LastSeenAfter)
	setTime(v, "last_seen_before", q.LastSeenBefore)
	setTime(v, "created_after", q.CreatedAfter)
	setTime(v, "created_before", q.CreatedBefore)
	setList(v, "ioc_types", q.IOCTypes)
	if q.IOCValue != "" {
		v.Set("ioc_value", q.IOCValue)
	}
	if q.CIDRRange != "" {
		v.Set("cidr_range", q.CIDRRange)
	}
	if q.MinScore != "" {
		v.Set("min_score", q.MinScore)
	}
	if q.MaxScore != "" {
		v.Set("max_score", q.MaxScore)
	}
	setList(v, "tags", q.Tags)
	setList(v, "sources", q.Sources)
	setList(v, "actors", q.Actors)
	setList(v, "malware", q.Malware)
	setList(v, "mitre_attack_ids", q.MitreAttackIDs)
	if q.HasIntelReport != nil {
		v.Set("has_intel_report", strconv.FormatBool(*q.HasIntelReport))
	}
	if q.HasExtractedConfig != nil {
		v.Set("has_extracted_config", strconv.FormatBool(*q.HasExtractedConfig))
	}
	setList(v, "embed", q.Embed)
	if q.IncludeTotalCount {
		v.Set("include_total_count", "true")
	}
	mergeExtra(v, q.Extra)
	return v
}

// ListIndicators fetches one page of indicators.
func (c *Client) ListIndicators(ctx context.Context, q IndicatorQuery) (*Page[Indicator], error) {
	return c.listIndicators(ctx, c.endpointURL(PathIndicators, q.values()), q.From, q.Size)
}

func (c *Client) listIndicators(ctx context.Context, u *url.URL, from, size int) (*Page[Indicator], error) {
	return get(ctx, c, "indicators", u, func(r *response) (*Page[Indicator], error) {
		p, err := c.decodeIndicators(r)
		if err != nil {
			return nil, err
		}
		p.Offset, p.Size = from, size
		return p, nil
	})
}

func (c *Client) decodeIndicators(r *response) (*Page[Indicator], error) {
	fields, items, ok, err := listField(r, "items")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &Error{Class: ClassBadResponse, Status: r.status, Message: `wrong envelope: no "items" list`}
	}
	var pag struct {
		Next Nullable `json:"next"`
	}
	var total, totalCount *int
	if err := errors.Join(field(r, fields, "total", &total), field(r, fields, "total_count", &totalCount),
		field(r, fields, "pagination", &pag)); err != nil {
		return nil, err
	}
	p := &Page[Indicator]{Total: -1, Next: pag.Next}
	switch {
	case total != nil:
		p.Total = *total
	case totalCount != nil:
		p.Total = *totalCount
	}
	p.Items, p.Invalid = decodeItems[Indicator](items)
	return p, nil
}

// Indicators returns a pager over indicators matching q, following
// pagination.next (and paging by offset when the link is missing).
func (c *Client) Indicators(q IndicatorQuery) *Pager[Indicator] {
	if q.Size <= 0 {
		q.Size = MaxIndicatorPage
		if len(q.Embed) > 0 {
			q.Size = MaxIndicatorPageEmbed
		}
	}
	return &Pager[Indicator]{
		from: q.From,
		fetch: func(ctx context.Context, from int, link *url.URL) (*Page[Indicator], error) {
			if link == nil {
				q.From = from
				v := q.values()
				v.Set("from", strconv.Itoa(from))
				link = c.endpointURL(PathIndicators, v)
			}
			return c.listIndicators(ctx, link, from, q.Size)
		},
		rebase: func(link string) (*url.URL, error) { return c.rebase(link, PathIndicators) },
	}
}

// GetIndicator fetches one indicator's detail. sightingCount (1–1000) bounds
// the sightings returned; 0 leaves the server's default.
func (c *Client) GetIndicator(ctx context.Context, id string, sightingCount int) (*Indicator, error) {
	if id == "" {
		return nil, &Error{Class: ClassInvalidRequest, Endpoint: "indicator", Message: "empty indicator id"}
	}
	v := url.Values{}
	setInt(v, "sighting_count", sightingCount)
	u := c.endpointURL(PathIndicators+"/"+url.PathEscape(id), v)
	return get(ctx, c, "indicator", u, func(r *response) (*Indicator, error) {
		var in Indicator
		if err := decodeJSON(r, &in); err != nil {
			return nil, err
		}
		if in.ID == "" {
			return nil, &Error{Class: ClassBadResponse, Status: r.status, Message: "indicator without an id"}
		}
		in.Raw = append(json.RawMessage(nil), r.body...)
		return &in, nil
	})
}

// DecodeIndicatorsPage decodes an indicators page body the way the client
// does and returns the number of items; it exists for benchmarks.
func DecodeIndicatorsPage(body []byte) (int, error) {
	c := &Client{}
	p, err := c.decodeIndicators(&response{status: 200, body: body})
	if err != nil {
		return 0, err
	}
	return p.Count(), nil
}
