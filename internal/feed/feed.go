// Package feed holds Flint's feed sources: Flashpoint Ignite instances (one
// account each: base URL, sealed bearer token, TLS verification) and their
// three channels, with every setting, its default and its validation
// (docs/domain.md §1–2), and the health state machine of each channel (§4).
//
// The package is pure: it validates and decides; the store keeps, the
// scheduler acts.
package feed

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/intel"
)

// DefaultBaseURL is Flashpoint Ignite's API.
const DefaultBaseURL = "https://api.flashpoint.io"

// Kind names one of an instance's three channels.
type Kind string

// The channels of an instance.
const (
	Reports         Kind = "reports"
	Vulnerabilities Kind = "vulnerabilities"
	Indicators      Kind = "indicators"
)

// Kinds returns the three channel kinds in a stable order.
func Kinds() []Kind { return []Kind{Reports, Vulnerabilities, Indicators} }

// ParseKind returns the kind named s or an EINVALID error listing the kinds.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Kinds(), k) {
		return k, nil
	}
	return "", intel.Errorf(intel.EINVALID, "channel %q is not known; allowed: reports, vulnerabilities, indicators", s)
}

// Title is the kind's name in collection names ("Reports").
func (k Kind) Title() string {
	if k == "" {
		return ""
	}
	return strings.ToUpper(string(k[:1])) + string(k[1:])
}

// Instance is one Flashpoint Ignite account. Its token is write-only: reads
// carry only whether it is set and its last four characters.
type Instance struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	BaseURL   string    `json:"base_url"`
	VerifyTLS bool      `json:"verify_tls"`
	TokenSet  bool      `json:"token_set"`
	TokenHint string    `json:"token_hint,omitempty"` // "…" and the last 4 characters
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// Ref names the instance in the audit trail: "instance:ID name".
func (in Instance) Ref() string { return fmt.Sprintf("instance:%d %s", in.ID, in.Name) }

// TokenHint returns what may be shown of a token: its last four characters.
func TokenHint(token string) string {
	if utf8.RuneCountInString(token) <= 8 {
		return "…"
	}
	r := []rune(token)
	return "…" + string(r[len(r)-4:])
}

// ValidateName checks an instance name: 1–64 printable characters, not
// all digits (an id is all digits: a name must never be read as another
// instance's id).
func ValidateName(name string) error {
	n := utf8.RuneCountInString(name)
	if strings.TrimSpace(name) != name || n < 1 || n > 64 {
		return intel.Errorf(intel.EINVALID, "instance name %q must be 1–64 characters without leading or trailing spaces", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) { // control and format (bidirectional) characters are not printable
			return intel.Errorf(intel.EINVALID, "instance name %q contains a control or bidirectional formatting character", name)
		}
	}
	if strings.Trim(name, "0123456789") == "" {
		return intel.Errorf(intel.EINVALID, "instance name %q is all digits, which is how ids are written; add a letter (e.g. %q)", name, "fp-"+name)
	}
	return nil
}

// NoVerifyTLSWarning is said whenever an instance's TLS verification is
// turned off.
const NoVerifyTLSWarning = "TLS verification is off for this instance: an expired or forged certificate would go unnoticed, " +
	"and the bearer token would be sent to whoever answers"

// SameOrigin reports whether two base URLs reach the same server: the same
// scheme, host and port (a default port written or not).
func SameOrigin(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return false
	}
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "http") {
			return "80"
		}
		return "443"
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Hostname(), ub.Hostname()) && port(ua) == port(ub)
}

// ValidateBaseURL checks and normalises a base URL: absolute http(s), no
// query or fragment, https unless the host is a loopback address.
func ValidateBaseURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return DefaultBaseURL, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", intel.Errorf(intel.EINVALID, "base URL %q must be an absolute http(s) URL such as %s", raw, DefaultBaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") {
		return "", intel.Errorf(intel.EINVALID, "base URL %q must not have a query or fragment", raw)
	}
	if u.User != nil {
		return "", intel.Errorf(intel.EINVALID, "base URL %q must not carry credentials; give the token separately", redactUser(u))
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "", intel.Errorf(intel.EINVALID,
			"base URL %q uses plain http; only a loopback host (127.0.0.1, ::1, localhost — the simulator) may; use https", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	return u.String(), nil
}

func redactUser(u *url.URL) string {
	c := *u
	c.User = url.User("xxxxx")
	return c.String()
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// ValidateToken checks a bearer token's shape (never its content in errors).
func ValidateToken(token string) error {
	switch {
	case token == "":
		return intel.Errorf(intel.EINVALID, "token is empty: a Flashpoint Ignite bearer token is required")
	case len(token) > 8192:
		return intel.Errorf(intel.EINVALID, "token is %d bytes; at most 8192 allowed", len(token))
	case strings.ContainsFunc(token, unicode.IsSpace) || strings.ContainsFunc(token, unicode.IsControl):
		return intel.Errorf(intel.EINVALID, "token contains whitespace or control characters; paste it without quotes or line breaks")
	}
	return nil
}

// Schedule says when a channel polls.
type Schedule string

// Schedules.
const (
	Manual Schedule = "manual"
	Auto   Schedule = "auto"
)

// Limits of the channel settings.
const (
	MinInterval        = 240
	MaxInterval        = 10080
	ReportsMinAdvised  = 1440
	MaxStartAge        = 15 * 24 * time.Hour
	MinDeprecateAfter  = 1
	MaxDeprecateAfter  = 180
	MaxTags            = 50
	MaxTagLen          = 64
	MaxCollectionLen   = 128
	DefaultInterval    = 240
	DefaultConfidence  = 100
	DefaultDeprecation = 90
)

// Filters drop items at ingest. Empty filters keep everything.
type Filters struct {
	IndicatorTypes []string    `json:"indicator_types,omitempty"` // ipv4, ipv6, domain, url, file, extracted_config
	MinScore       intel.Score `json:"min_score,omitempty"`       // informational < suspicious < malicious
	MinCVSSv3      *float64    `json:"min_cvss_v3,omitempty"`
	MinSeverity    string      `json:"min_severity,omitempty"` // low < medium < high < critical
	Vendors        []string    `json:"vendors,omitempty"`      // any of, case-insensitive substring
	Products       []string    `json:"products,omitempty"`
}

// Settings are a channel's configuration.
type Settings struct {
	Enabled            bool      `json:"enabled"`
	StartAt            time.Time `json:"start_at"`
	Collection         string    `json:"collection"`
	Schedule           Schedule  `json:"schedule"`
	IntervalMinutes    int       `json:"interval_minutes"`
	TLP                intel.TLP `json:"tlp"`
	Confidence         int       `json:"confidence"`
	DeprecateAfterDays int       `json:"deprecate_after_days"`
	Relevance          *int      `json:"relevance,omitempty"`
	Severity           *int      `json:"severity,omitempty"`
	Tags               []string  `json:"tags,omitempty"`
	Filters            Filters   `json:"filters"`
}

// DefaultSettings are a new channel's settings (docs/domain.md §2).
func DefaultSettings(instance string, k Kind, now time.Time) Settings {
	return Settings{
		StartAt:            now.Add(-MaxStartAge).Truncate(time.Second).Add(time.Minute),
		Collection:         instance + " " + k.Title(),
		Schedule:           Auto,
		IntervalMinutes:    DefaultInterval,
		TLP:                intel.TLPAmber,
		Confidence:         DefaultConfidence,
		DeprecateAfterDays: DefaultDeprecation,
	}
}

var indicatorTypes = []string{"ipv4", "ipv6", "domain", "url", "file", "extracted_config"}
var severities = []string{"low", "medium", "high", "critical"}

// SeverityRank orders vulnerability severities (unknown ones rank 0).
func SeverityRank(s string) int { return slices.Index(severities, strings.ToLower(s)) + 1 }

// ScoreRank orders Flashpoint scores (none ranks 0).
func ScoreRank(s intel.Score) int {
	return slices.Index([]intel.Score{intel.ScoreInformational, intel.ScoreSuspicious, intel.ScoreMalicious}, s) + 1
}

// Validate checks every setting for a channel of kind k at time now. It
// returns warnings for allowed but discouraged values, and an EINVALID error
// with one field error per bad field, naming its value and what is allowed.
func (s *Settings) Validate(k Kind, now time.Time) (warnings []string, err error) {
	var bad []intel.FieldError
	add := func(field, format string, args ...any) {
		bad = append(bad, intel.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case s.StartAt.IsZero():
		add("start_at", "start_at is required: a time between %s and now", now.Add(-MaxStartAge).UTC().Format(time.RFC3339))
	case s.StartAt.Before(now.Add(-MaxStartAge)) || s.StartAt.After(now):
		add("start_at", "start_at %s is out of range: it must be between %s (now − 15 days) and %s (now)",
			s.StartAt.UTC().Format(time.RFC3339), now.Add(-MaxStartAge).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if n := utf8.RuneCountInString(s.Collection); n < 1 || n > MaxCollectionLen || strings.TrimSpace(s.Collection) != s.Collection {
		add("collection", "collection %q must be 1–%d characters without leading or trailing spaces", s.Collection, MaxCollectionLen)
	}
	// The interval is checked whatever the schedule: a manual channel keeps
	// it for when it is switched to auto.
	if s.IntervalMinutes < MinInterval || s.IntervalMinutes > MaxInterval {
		add("interval_minutes", "interval_minutes %d is out of range %d–%d", s.IntervalMinutes, MinInterval, MaxInterval)
	} else if k == Reports && s.Schedule == Auto && s.IntervalMinutes < ReportsMinAdvised {
		warnings = append(warnings, fmt.Sprintf("reports are published daily to quarterly: an interval of at least %d minutes is advised (have %d)",
			ReportsMinAdvised, s.IntervalMinutes))
	}
	if s.Schedule != Manual && s.Schedule != Auto {
		add("schedule", "schedule %q is not known; allowed: manual, auto", s.Schedule)
	}
	if !s.TLP.Valid() {
		add("tlp", "tlp %q is not known; allowed: none, clear, green, amber, amber+strict, red", s.TLP)
	}
	if s.Confidence < 0 || s.Confidence > 100 {
		add("confidence", "confidence %d is out of range 0–100", s.Confidence)
	}
	if s.DeprecateAfterDays < MinDeprecateAfter || s.DeprecateAfterDays > MaxDeprecateAfter {
		add("deprecate_after_days", "deprecate_after_days %d is out of range %d–%d", s.DeprecateAfterDays, MinDeprecateAfter, MaxDeprecateAfter)
	}
	if p := s.Relevance; p != nil && (*p < 0 || *p > 100) {
		add("relevance", "relevance %d is out of range 0–100 (or unset)", *p)
	}
	if p := s.Severity; p != nil && (*p < 0 || *p > 100) {
		add("severity", "severity %d is out of range 0–100 (or unset)", *p)
	}
	if len(s.Tags) > MaxTags {
		add("tags", "%d tags; at most %d allowed", len(s.Tags), MaxTags)
	}
	for _, t := range s.Tags {
		if n := utf8.RuneCountInString(t); n < 1 || n > MaxTagLen || strings.TrimSpace(t) != t {
			add("tags", "tag %q must be 1–%d characters without leading or trailing spaces", t, MaxTagLen)
			break
		}
	}
	f := &s.Filters
	for _, t := range f.IndicatorTypes {
		if !slices.Contains(indicatorTypes, t) {
			add("filters.indicator_types", "filter indicator type %q is not known; allowed: %s", t, strings.Join(indicatorTypes, ", "))
			break
		}
	}
	if f.MinScore != intel.ScoreNone && ScoreRank(f.MinScore) == 0 {
		add("filters.min_score", "filter min_score %q is not known; allowed: informational, suspicious, malicious", f.MinScore)
	}
	if f.MinCVSSv3 != nil && (*f.MinCVSSv3 < 0 || *f.MinCVSSv3 > 10) {
		add("filters.min_cvss_v3", "filter min_cvss_v3 %g is out of range 0–10", *f.MinCVSSv3)
	}
	if f.MinSeverity != "" && SeverityRank(f.MinSeverity) == 0 {
		add("filters.min_severity", "filter min_severity %q is not known; allowed: %s", f.MinSeverity, strings.Join(severities, ", "))
	}
	if k != Indicators && (len(f.IndicatorTypes) > 0 || f.MinScore != "") {
		add("filters", "indicator filters apply to the indicators channel only, not to %s", k)
	}
	if k != Vulnerabilities && (f.MinCVSSv3 != nil || f.MinSeverity != "" || len(f.Vendors) > 0 || len(f.Products) > 0) {
		add("filters", "vulnerability filters apply to the vulnerabilities channel only, not to %s", k)
	}
	if err := intel.Invalid(bad); err != nil {
		return nil, err
	}
	return warnings, nil
}
