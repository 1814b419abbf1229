package service

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// The filters of a search are read from named values (url.Values): the
// API's query string, the console's form and the command line's flags all
// give them by the same names, and all get the same errors.

// params reads named values, collecting every bad one.
type params struct {
	v   url.Values
	bad []intel.FieldError
}

func (p *params) fail(name, format string, args ...any) {
	p.bad = append(p.bad, intel.FieldError{Field: name, Message: fmt.Sprintf(format, args...)})
}

// MaxParamLen bounds one filter's value.
const MaxParamLen = 2048

// str reads a value. One with invalid UTF-8 or a control character (a NUL
// byte, say, which no database takes in text) or longer than MaxParamLen is
// refused, naming the filter.
func (p *params) str(name string) string {
	v := strings.TrimSpace(p.v.Get(name))
	if p.check(name, v) {
		return v
	}
	return ""
}

func (p *params) check(name, v string) bool {
	switch {
	case len(v) > MaxParamLen:
		p.fail(name, "%s is %d bytes long; at most %d allowed", name, len(v), MaxParamLen)
	case !utf8.ValidString(v):
		p.fail(name, "%s is not valid UTF-8", name)
	case strings.ContainsFunc(v, unicode.IsControl):
		p.fail(name, "%s contains a control character (such as a NUL byte); give plain text", name)
	default:
		return true
	}
	return false
}

// list reads a value given several times or comma-separated.
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

// ObjectQuery reads the filters of an object search (GET /api/v1/objects),
// with an error naming every bad one.
func ObjectQuery(v url.Values) (store.Query, error) {
	p := &params{v: v}
	q := objectQuery(p)
	return q, p.err()
}

// VulnQuery reads the filters of a vulnerability search (GET
// /api/v1/vulnerabilities): the object filters and the vulnerability ones.
func VulnQuery(v url.Values) (store.Query, error) {
	p := &params{v: v}
	q := vulnQuery(p)
	return q, p.err()
}

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
