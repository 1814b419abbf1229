// Package outlet holds what Flint serves to the tools that act on its
// intelligence and that is not a STIX export: blocklists (external dynamic
// lists) for firewalls, in plain text, Palo Alto Networks' flavour or CSV,
// and the allow-list of values no blocklist may carry. Pure: the service
// reads the store and writes through it.
package outlet

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/indicator"
	"github.com/flintcti/flint/internal/intel"
)

// Format is how a list is written.
type Format string

// Formats.
const (
	Plain    Format = "plain"    // one value a line
	PaloAlto Format = "paloalto" // one value a line, URLs without their scheme (PAN-OS)
	CSV      Format = "csv"      // a header and value, type, confidence, score, TLP, first and last seen, tags, sources
)

// ListType is what a list carries: an indicator type, or a hash algorithm
// of file indicators.
type ListType string

// ListTypes are the types a list may carry.
var ListTypes = []ListType{"ipv4", "ipv6", "domain", "url", "email", "sha256", "sha1", "md5"}

// List is a blocklist: which stored indicators it serves, and how.
type List struct {
	ID                int64       `json:"id"`
	Name              string      `json:"name"`
	Types             []ListType  `json:"types"`
	Collection        string      `json:"collection,omitempty"`
	MinConfidence     int         `json:"min_confidence"`
	MinScore          intel.Score `json:"min_score,omitempty"` // informational, suspicious or malicious; "" : any
	MaxTLP            intel.TLP   `json:"max_tlp,omitempty"`   // "" : no cap beyond the reader's
	ExcludeDeprecated bool        `json:"exclude_deprecated"`
	Limit             int         `json:"limit,omitempty"` // at most this many values; 0 : all
	Format            Format      `json:"format"`
	Created           time.Time   `json:"created"`
	Updated           time.Time   `json:"updated"`
	CreatedBy         string      `json:"created_by,omitempty"`
}

// MaxLimit is the most values a list may be limited to.
const MaxLimit = 10_000_000

// Validate checks a list's definition, naming every bad field, and sorts
// its types (each once).
func (l *List) Validate() error {
	var bad []intel.FieldError
	fail := func(field, format string, args ...any) {
		bad = append(bad, intel.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if n := utf8.RuneCountInString(l.Name); n < 1 || n > 64 || strings.Trim(l.Name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
		fail("name", "list name %q must be 1–64 lowercase letters, digits, '-', '_' or '.' (it is part of the list's URL)", l.Name)
	}
	if len(l.Types) == 0 {
		fail("types", "types is required: one or more of %s", typeNames())
	}
	for _, t := range l.Types {
		if !slices.Contains(ListTypes, t) {
			fail("types", "type %q is not known; allowed: %s", t, typeNames())
		}
	}
	if l.MinConfidence < 0 || l.MinConfidence > 100 {
		fail("min_confidence", "min_confidence %d must be in 0–100", l.MinConfidence)
	}
	if l.MinScore != "" && scoreRank(l.MinScore) == 0 {
		fail("min_score", "min_score %q is not known; allowed: informational, suspicious, malicious", l.MinScore)
	}
	if l.MaxTLP != "" && !l.MaxTLP.Valid() {
		fail("max_tlp", "max_tlp %q is not known; allowed: clear, green, amber, amber+strict, red", l.MaxTLP)
	}
	if l.Limit < 0 || l.Limit > MaxLimit {
		fail("limit", "limit %d must be in 0–%d (0: no limit)", l.Limit, MaxLimit)
	}
	switch l.Format {
	case Plain, PaloAlto, CSV:
	default:
		fail("format", "format %q is not known; allowed: plain, paloalto, csv", l.Format)
	}
	slices.Sort(l.Types)
	l.Types = slices.Compact(l.Types)
	return intel.Invalid(bad)
}

func typeNames() string {
	var s []string
	for _, t := range ListTypes {
		s = append(s, string(t))
	}
	return strings.Join(s, ", ")
}

// scoreRank orders Flashpoint's scores; 0 for none.
func scoreRank(s intel.Score) int {
	return slices.Index([]intel.Score{intel.ScoreInformational, intel.ScoreSuspicious, intel.ScoreMalicious}, s) + 1
}

// Scores are the scores at or above min ("" : nil, any score).
func Scores(min intel.Score) []intel.Score {
	if min == "" {
		return nil
	}
	return []intel.Score{intel.ScoreInformational, intel.ScoreSuspicious, intel.ScoreMalicious}[scoreRank(min)-1:]
}

// IntelTypes are the stored types a list reads.
func (l *List) IntelTypes() []intel.Type {
	var out []intel.Type
	for _, t := range l.Types {
		switch t {
		case "sha256", "sha1", "md5":
			out = append(out, intel.File)
		default:
			out = append(out, intel.Type(t))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Entry is the value a list writes for a stored object (its type, value
// and, for a file, hashes): its value, or the file hash of an algorithm
// the list carries. ok is false when the object gives the list nothing.
func (l *List) Entry(t intel.Type, value string, hashes map[intel.HashAlgo]string) (entry string, typ ListType, ok bool) {
	if t != intel.File {
		lt := ListType(t)
		return value, lt, slices.Contains(l.Types, lt)
	}
	for _, lt := range []ListType{"sha256", "sha1", "md5"} {
		if !slices.Contains(l.Types, lt) {
			continue
		}
		algo := map[ListType]intel.HashAlgo{"sha256": intel.SHA256, "sha1": intel.SHA1, "md5": intel.MD5}[lt]
		if a, ok := indicator.HashAlgoOf(value); ok && a == algo {
			return value, lt, true
		}
		if h := hashes[algo]; h != "" {
			return strings.ToLower(h), lt, true
		}
	}
	return "", "", false
}

// HashTypes reports whether the list carries file hashes.
func (l *List) HashTypes() bool {
	return slices.ContainsFunc(l.Types, func(t ListType) bool { return t == "sha256" || t == "sha1" || t == "md5" })
}

// Header is what a list writes before its values.
func (l *List) Header(w io.Writer) error {
	if l.Format != CSV {
		return nil
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"value", "type", "confidence", "score", "tlp", "first_seen", "last_seen", "tags", "sources"})
	cw.Flush()
	return cw.Error()
}

// Line writes one value of the list.
func (l *List) Line(w io.Writer, value string, typ ListType, o *intel.Object) error {
	switch l.Format {
	case PaloAlto:
		if typ == "url" { // PAN-OS URL lists take no scheme
			if _, rest, ok := strings.Cut(value, "://"); ok {
				value = rest
			}
		}
	case CSV:
		var srcs []string
		for _, s := range o.Sources {
			srcs = append(srcs, s.Instance+"/"+s.Channel)
		}
		cw := csv.NewWriter(w)
		cw.Write([]string{EscapeCell(value), string(typ), strconv.Itoa(o.Confidence), string(o.Score), string(o.TLP), when(o.FirstSeen), when(o.LastSeen),
			EscapeCell(strings.Join(o.Tags, ";")), EscapeCell(strings.Join(srcs, ";"))})
		cw.Flush()
		return cw.Error()
	}
	_, err := io.WriteString(w, value+"\n")
	return err
}

// EscapeCell keeps a spreadsheet from reading a CSV value as a formula:
// one starting with =, +, -, @, a tab or a carriage return is prefixed
// with a quote.
func EscapeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// AllowKind is how an allow-list entry matches.
type AllowKind string

// Allow-list entry kinds.
const (
	AllowValue  AllowKind = "value"  // this normalised value exactly
	AllowCIDR   AllowKind = "cidr"   // IP addresses in this range (and URLs whose host is one)
	AllowDomain AllowKind = "domain" // this domain and its subdomains (*.example.com), and URLs on them
)

// Allow is an entry of the allow-list: never blocked, whatever the feed
// says.
type Allow struct {
	ID        int64     `json:"id"`
	Kind      AllowKind `json:"kind"`
	Value     string    `json:"value"` // normalised: the value, the CIDR prefix, or the domain without "*."
	Note      string    `json:"note,omitempty"`
	Default   bool      `json:"default"` // one of the reserved ranges allowed from the start
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// ParseAllow reads an allow-list entry: a CIDR range, "*.domain", or a
// value (an IP address, a domain, a URL, a hash, ...; defanged is fine).
func ParseAllow(s string) (Allow, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return Allow{Kind: AllowCIDR, Value: p.Masked().String()}, nil
	}
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		d, err := indicator.Normalize(intel.Domain, rest)
		if err != nil {
			return Allow{}, intel.Errorf(intel.EINVALID, "allow %q: %s is not a domain: %s", s, rest, intel.ErrorMessage(err))
		}
		return Allow{Kind: AllowDomain, Value: d}, nil
	}
	if _, v, err := indicator.Detect(s); err == nil {
		return Allow{Kind: AllowValue, Value: v}, nil
	}
	return Allow{}, intel.Errorf(intel.EINVALID, "allow %q: give a value (IP, domain, URL, hash, ...), a CIDR range (10.0.0.0/8) or *.domain", s)
}

// DefaultAllows are the ranges allowed from the start: private, shared,
// loopback, link-local, documentation, benchmarking and multicast ranges,
// which no blocklist should carry (a feed naming 10.0.0.1 would block a
// company's own network). Each can be removed.
var DefaultAllows = []Allow{
	{Kind: AllowCIDR, Value: "0.0.0.0/8", Note: "this network (RFC 791)"},
	{Kind: AllowCIDR, Value: "10.0.0.0/8", Note: "private (RFC 1918)"},
	{Kind: AllowCIDR, Value: "100.64.0.0/10", Note: "shared address space (RFC 6598)"},
	{Kind: AllowCIDR, Value: "127.0.0.0/8", Note: "loopback"},
	{Kind: AllowCIDR, Value: "169.254.0.0/16", Note: "link-local"},
	{Kind: AllowCIDR, Value: "172.16.0.0/12", Note: "private (RFC 1918)"},
	{Kind: AllowCIDR, Value: "192.0.2.0/24", Note: "documentation (RFC 5737)"},
	{Kind: AllowCIDR, Value: "192.168.0.0/16", Note: "private (RFC 1918)"},
	{Kind: AllowCIDR, Value: "198.18.0.0/15", Note: "benchmarking (RFC 2544)"},
	{Kind: AllowCIDR, Value: "198.51.100.0/24", Note: "documentation (RFC 5737)"},
	{Kind: AllowCIDR, Value: "203.0.113.0/24", Note: "documentation (RFC 5737)"},
	{Kind: AllowCIDR, Value: "224.0.0.0/4", Note: "multicast"},
	{Kind: AllowCIDR, Value: "240.0.0.0/4", Note: "reserved"},
	{Kind: AllowCIDR, Value: "::1/128", Note: "loopback"},
	{Kind: AllowCIDR, Value: "fc00::/7", Note: "unique local (RFC 4193)"},
	{Kind: AllowCIDR, Value: "fe80::/10", Note: "link-local"},
	{Kind: AllowCIDR, Value: "2001:db8::/32", Note: "documentation (RFC 3849)"},
	{Kind: AllowCIDR, Value: "ff00::/8", Note: "multicast"},
}

// Allowed matches values against an allow-list.
type Allowed struct {
	values   map[string]bool
	prefixes []netip.Prefix
	domains  map[string]bool
}

// NewAllowed indexes entries.
func NewAllowed(entries []Allow) *Allowed {
	a := &Allowed{values: map[string]bool{}, domains: map[string]bool{}}
	for _, e := range entries {
		switch e.Kind {
		case AllowValue:
			a.values[e.Value] = true
		case AllowDomain:
			a.domains[e.Value] = true
		case AllowCIDR:
			if p, err := netip.ParsePrefix(e.Value); err == nil {
				a.prefixes = append(a.prefixes, p)
			}
		}
	}
	return a
}

// Contains reports whether the allow-list keeps value (of stored type t)
// out of blocklists.
func (a *Allowed) Contains(t intel.Type, value string) bool {
	if a.values[value] {
		return true
	}
	host := value
	switch t {
	case intel.URL:
		_, rest, _ := strings.Cut(value, "://")
		host, _, _ = strings.Cut(rest, "/")
		host, _, _ = strings.Cut(host, "?")
		if i := strings.LastIndexByte(host, '@'); i >= 0 {
			host = host[i+1:]
		}
		if strings.HasPrefix(host, "[") {
			host = strings.TrimPrefix(strings.SplitN(host, "]", 2)[0], "[")
		} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host = host[:i]
		}
	case intel.Email:
		_, host, _ = strings.Cut(value, "@")
	case intel.IPv4, intel.IPv6, intel.Domain:
	default:
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		for _, p := range a.prefixes {
			if p.Contains(ip.Unmap()) {
				return true
			}
		}
		return false
	}
	for d := strings.ToLower(host); d != ""; {
		if a.domains[d] {
			return true
		}
		_, rest, ok := strings.Cut(d, ".")
		if !ok {
			break
		}
		d = rest
	}
	return false
}
