// Package notify holds Flint's notifications: rules (which events go to
// which webhook, under which filters), the admin's allow-list of
// destinations, the events the store writes to its outbox in the
// transaction of the change that caused them, the payloads (Flint's JSON,
// or a text message Slack and Microsoft Teams incoming webhooks accept),
// their HMAC-SHA256 signature, and the deliverer that fans events out to
// rules and delivers them at least once, with retries and an idempotency
// key per delivery.
package notify

import (
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/intel"
)

// Event kinds a rule may follow.
const (
	Exposure        = "exposure"         // an exposure opened (or reopened)
	ChannelError    = "channel_error"    // a channel went to connection_error (disabled until restored)
	ChannelRestored = "channel_restored" // a channel in connection_error is running again
	NoData          = "no_data"          // a channel's third scheduled poll in a row brought nothing
	PollFailed      = "poll_failed"      // a poll ended failed
)

// Kinds lists the event kinds.
func Kinds() []string { return []string{Exposure, ChannelError, ChannelRestored, NoData, PollFailed} }

// Payload formats.
const (
	FormatJSON  = "json"  // Flint's event document, signed
	FormatSlack = "slack" // {"text": …}: a Slack incoming webhook's message
	// FormatTeams is a message with an Adaptive Card, which Microsoft
	// Teams' webhook workflows ("When a Teams webhook request is
	// received") and its older incoming webhooks take.
	FormatTeams = "teams"
)

// Filters narrow the events of a rule. Empty: every event of its kind.
// The vulnerability filters apply to exposures only; instances and
// collections to every kind (a channel's collection is the one it stores
// into).
type Filters struct {
	MinCVSSv3   *float64 `json:"min_cvss_v3,omitempty"`
	Severities  []string `json:"severities,omitempty"`
	Maturities  []string `json:"exploit_maturities,omitempty"`
	Collections []string `json:"collections,omitempty"`
	Instances   []string `json:"instances,omitempty"`
	// NameOnly takes exposures matched by product name alone too (the
	// asset's version could not be placed): off, only cpe and
	// product_version matches notify.
	NameOnly bool `json:"name_only,omitempty"`
}

// Rule sends the events of one kind that pass its filters to one webhook.
// The URL (which may carry a token, as Slack's do) and the signing secret
// are sealed in the store; URLHint shows the scheme and host only.
type Rule struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Event     string    `json:"event"`
	URLHint   string    `json:"url"`
	Host      string    `json:"host"` // host[:port] as the allow-list sees it
	HasSecret bool      `json:"signed"`
	Format    string    `json:"format"`
	Filters   Filters   `json:"filters"`
	MaxTLP    intel.TLP `json:"max_tlp"` // exposures of a vulnerability above it are not sent
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
}

// severities and maturities are the values the vulnerability filters take.
var (
	severities = []string{"critical", "high", "medium", "low", "informational", "none"}
	maturities = []string{"high", "functional", "proof-of-concept", "unproven", "not-defined"}
)

// MaxNameLen bounds a rule's name, and MaxFilterValues each filter list.
const (
	MaxNameLen      = 64
	MaxFilterValues = 50
	MaxURLLen       = 2048
	MaxSecretLen    = 256
	MinSecretLen    = 16
)

// Validate checks a rule's name, event, format and filters, folding the
// filter values to lower case, and names every problem.
func (r *Rule) Validate() error {
	var errs []intel.FieldError
	bad := func(field, msg string, args ...any) {
		errs = append(errs, intel.FieldError{Field: field, Message: sprintf(msg, args...)})
	}
	if n := utf8.RuneCountInString(r.Name); n < 1 || n > MaxNameLen || strings.TrimSpace(r.Name) != r.Name || intel.HasControl(r.Name) {
		bad("name", "name %q must be 1–%d characters without surrounding spaces or control characters", r.Name, MaxNameLen)
	}
	if !slices.Contains(Kinds(), r.Event) {
		bad("event", "event %q is not known; allowed: %s", r.Event, strings.Join(Kinds(), ", "))
	}
	if r.Format == "" {
		r.Format = FormatJSON
	}
	if r.Format != FormatJSON && r.Format != FormatSlack && r.Format != FormatTeams {
		bad("format", "format %q is not known; allowed: json, slack, teams", r.Format)
	}
	f := &r.Filters
	if r.Event != Exposure {
		if f.MinCVSSv3 != nil || len(f.Severities) > 0 || len(f.Maturities) > 0 || f.NameOnly {
			bad("filters", "the CVSS, severity, exploit maturity and name-only filters apply to exposure rules only, not to %s", r.Event)
		}
	}
	if f.MinCVSSv3 != nil && (*f.MinCVSSv3 < 0 || *f.MinCVSSv3 > 10) {
		bad("min_cvss_v3", "min CVSS v3 %v must be 0–10", *f.MinCVSSv3)
	}
	check := func(field string, vals []string, allowed []string) []string {
		if len(vals) > MaxFilterValues {
			bad(field, "%d values; at most %d", len(vals), MaxFilterValues)
			return vals
		}
		out := make([]string, 0, len(vals))
		for _, v := range vals {
			v = strings.ToLower(strings.TrimSpace(v))
			switch {
			case allowed != nil && !slices.Contains(allowed, v):
				bad(field, "%q is not known; allowed: %s", v, strings.Join(allowed, ", "))
			case v == "" || len(v) > 128 || intel.HasControl(v):
				bad(field, "%q must be 1–128 characters without control characters", v)
			case !slices.Contains(out, v):
				out = append(out, v)
			}
		}
		return out
	}
	f.Severities = check("severity", f.Severities, severities)
	f.Maturities = check("exploit_maturity", f.Maturities, maturities)
	f.Collections = check("collection", f.Collections, nil)
	f.Instances = check("instance", f.Instances, nil)
	if !r.MaxTLP.Valid() {
		bad("max_tlp", "max TLP %q is not known; allowed: clear, green, amber, amber+strict, red", r.MaxTLP)
	}
	if len(errs) > 0 {
		return intel.Invalid(errs)
	}
	return nil
}

// Target is a webhook URL checked for use: https (or http to a loopback or
// private address literal, for receivers inside the network), no
// credentials, no fragment.
type Target struct {
	URL  *url.URL
	Host string // host[:port], lower case, as allow-list patterns match it
	Hint string // scheme://host[:port]/… : what may be shown
}

// ParseTarget checks a webhook URL. Its text is never put in an error: a
// Slack or Teams webhook URL is itself a credential.
func ParseTarget(raw string) (Target, error) {
	field := func(msg string, args ...any) error {
		return intel.Invalid([]intel.FieldError{{Field: "webhook", Message: sprintf(msg, args...)}})
	}
	if raw == "" || len(raw) > MaxURLLen {
		return Target{}, field("the webhook URL must be 1–%d characters", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return Target{}, field("the webhook URL is not an absolute http(s) URL")
	}
	if u.User != nil {
		return Target{}, field("the webhook URL carries credentials (user:password@); give a signing secret instead")
	}
	if u.Fragment != "" {
		return Target{}, field("the webhook URL has a fragment (#…), which is never sent")
	}
	host := strings.ToLower(u.Hostname())
	switch u.Scheme {
	case "https":
	case "http":
		if !internalLiteral(host) {
			return Target{}, field("the webhook URL is http to %s: plain http is allowed only to a loopback or private address literal; use https", host)
		}
	default:
		return Target{}, field("the webhook URL's scheme %q is not allowed; allowed: https (http only to a loopback or private address)", u.Scheme)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Target{}, field("the webhook URL's port %q must be 1–65535", port)
	}
	return Target{URL: u, Host: net.JoinHostPort(host, port), Hint: u.Scheme + "://" + u.Host + "/…"}, nil
}

// internalLiteral reports whether host is "localhost" or a loopback or
// private address literal.
func internalLiteral(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && (a.IsLoopback() || a.IsPrivate())
}

// Public reports whether a is an address a webhook may reach by default: a
// global unicast address that is not private, loopback, link-local or
// otherwise special.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// reserved are special-purpose ranges IsGlobalUnicast lets through.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (carrier NAT)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64, which can reach private IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
}

// Destination is an allow-list entry: a host, a "*.domain" wildcard or an
// address, with an optional port (without one, the scheme's default port).
type Destination struct {
	ID        int64     `json:"id"`
	Pattern   string    `json:"pattern"`
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
}

// ParsePattern checks and normalises an allow-list pattern.
func ParsePattern(s string) (string, error) {
	bad := func() error {
		return intel.Invalid([]intel.FieldError{{Field: "destination", Message: sprintf(
			"destination %q must be a host name, *.domain or an address, with an optional :port (example: hooks.slack.com, *.example.com:8443, [2001:db8::1]:443)", s)}})
	}
	p := strings.ToLower(strings.TrimSpace(s))
	if p == "" || len(p) > 260 || intel.HasControl(p) || strings.ContainsAny(p, "/?#@ ") {
		return "", bad()
	}
	host, port := p, ""
	if h, pt, err := net.SplitHostPort(p); err == nil {
		host, port = h, pt
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", bad()
		}
	} else if strings.Count(p, ":") > 1 { // a bare IPv6 address
		host = strings.Trim(p, "[]")
	}
	host = strings.Trim(host, "[]")
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.String()
		if a.Is6() {
			host = "[" + host + "]"
		}
	} else {
		name := strings.TrimPrefix(host, "*.")
		if name == "" || strings.Contains(name, "*") || !validName(name) || (strings.HasPrefix(host, "*.") && !strings.Contains(name, ".")) {
			return "", bad()
		}
	}
	if port != "" {
		return host + ":" + port, nil
	}
	return host, nil
}

func validName(n string) bool {
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// Allowed reports whether the target's host:port matches one of the
// patterns, and which.
func Allowed(t Target, patterns []string) (string, bool) {
	host, port, _ := net.SplitHostPort(t.Host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	def := map[string]string{"https": "443", "http": "80"}[t.URL.Scheme]
	for _, p := range patterns {
		ph, pp := p, def
		if i := strings.LastIndex(p, ":"); i > 0 && !strings.HasSuffix(p, "]") {
			ph, pp = p[:i], p[i+1:]
		}
		if pp != port {
			continue
		}
		if ph == host || (strings.HasPrefix(ph, "*.") && strings.HasSuffix(host, ph[1:])) {
			return p, true
		}
	}
	return "", false
}
