package taxii

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

// Page sizes of the objects endpoints.
const (
	MaxPage     = 1000 // the most objects a response holds; a larger limit is lowered to it
	DefaultPage = 1000
)

// Version selects the versions match[version] asks for.
type Version struct {
	Keyword string    // "last", "first" or "all"; "" for At
	At      time.Time // a version's timestamp
}

// Filter is what a client asks of an objects, manifest or versions
// endpoint.
type Filter struct {
	AddedAfter   time.Time // exclusive; zero: from the start
	Limit        int       // 1–MaxPage
	Next         string    // the token of the previous response
	IDs          []string  // match[id]
	Types        []string  // match[type]
	Versions     []Version // match[version]; empty: last
	SpecVersions []string  // match[spec_version]; empty: the latest (2.1)
}

var (
	stixTypeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$`)
	stixIDRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// ValidID reports whether s has the form of a STIX identifier.
func ValidID(s string) bool { return stixIDRE.MatchString(s) }

// maxMatch is the most values one match[...] may list.
const maxMatch = 100

// known are the query parameters of the objects endpoints.
var known = map[string]bool{"added_after": true, "limit": true, "next": true, "match[id]": true, "match[type]": true,
	"match[version]": true, "match[spec_version]": true}

// ParseFilter reads a request's query. Every mistake is named with what is
// allowed. allowed lists the parameters this endpoint takes (a subset of
// the objects endpoint's).
func ParseFilter(v url.Values, allowed ...string) (Filter, error) {
	f := Filter{Limit: DefaultPage}
	var errs []intel.FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, intel.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	for name, vals := range v {
		switch {
		case !known[name]:
			bad(name, "%s is not a parameter of TAXII 2.1's objects endpoints (added_after, limit, next, match[id], match[type], match[version], match[spec_version])", name)
			continue
		case !slices.Contains(allowed, name):
			bad(name, "%s is not a parameter of this endpoint (it takes %s)", name, strings.Join(allowed, ", "))
			continue
		case len(vals) > 1:
			bad(name, "%s is given %d times; give it once (match[...] lists values with commas)", name, len(vals))
			continue
		}
	}
	if s := v.Get("added_after"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			bad("added_after", "added_after %q is not a timestamp; use RFC 3339, e.g. 2026-01-02T03:04:05.123456Z", s)
		}
		f.AddedAfter = t.UTC()
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			bad("limit", "limit %q must be a whole number of at least 1 (at most %d are returned)", s, MaxPage)
		}
		f.Limit = min(n, MaxPage)
	}
	f.Next = v.Get("next")
	if len(f.Next) > 1024 {
		bad("next", "next is %d characters long; a token this server gave is far shorter", len(f.Next))
	}
	list := func(name string) []string {
		s := v.Get(name)
		if s == "" {
			return nil
		}
		parts := strings.Split(s, ",")
		if len(parts) > maxMatch {
			bad(name, "%s lists %d values; at most %d", name, len(parts), maxMatch)
			return nil
		}
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	for _, id := range list("match[id]") {
		if !ValidID(id) {
			bad("match[id]", "match[id] %q is not a STIX identifier (type--UUID)", id)
		}
		f.IDs = append(f.IDs, strings.ToLower(id))
	}
	for _, t := range list("match[type]") {
		if !stixTypeRE.MatchString(t) {
			bad("match[type]", "match[type] %q is not a STIX type (lowercase letters, digits and hyphens, e.g. indicator)", t)
		}
		f.Types = append(f.Types, t)
	}
	for _, s := range list("match[version]") {
		switch s {
		case "last", "first", "all":
			f.Versions = append(f.Versions, Version{Keyword: s})
		default:
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				bad("match[version]", "match[version] %q must be last, first, all or a timestamp (RFC 3339)", s)
			}
			f.Versions = append(f.Versions, Version{At: t.UTC()})
		}
	}
	for _, s := range list("match[spec_version]") {
		if s != "2.0" && s != "2.1" {
			bad("match[spec_version]", "match[spec_version] %q must be 2.0 or 2.1", s)
		}
		f.SpecVersions = append(f.SpecVersions, s)
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b intel.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return f, intel.Invalid(errs)
	}
	return f, nil
}

// ObjectsParams are the parameters of the objects and manifest endpoints;
// ObjectParams of objects/{id}; VersionsParams of objects/{id}/versions.
var (
	ObjectsParams  = []string{"added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]"}
	ObjectParams   = []string{"added_after", "limit", "next", "match[version]", "match[spec_version]"}
	VersionsParams = []string{"added_after", "limit", "next", "match[spec_version]"}
)

// Digest names the filter's selection (not its page: limit and next are
// left out), so that a next token is honoured only with the filter it was
// given for.
func (f Filter) Digest() string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00", f.AddedAfter.UnixNano())
	for _, l := range [][]string{f.IDs, f.Types, f.SpecVersions} {
		s := slices.Clone(l)
		slices.Sort(s)
		fmt.Fprintf(h, "%s\x00", strings.Join(s, ","))
	}
	for _, v := range f.Versions {
		fmt.Fprintf(h, "%s/%d,", v.Keyword, v.At.UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ServesSpec reports whether the filter admits STIX 2.1 (every object
// Flint serves is 2.1).
func (f Filter) ServesSpec() bool {
	return len(f.SpecVersions) == 0 || slices.Contains(f.SpecVersions, "2.1")
}
