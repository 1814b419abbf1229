package intel

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Type is the kind of an object. Indicator types name what the value is; the
// other types are the entities indicators and reports refer to.
type Type string

// Indicator types. The first seven are what Flashpoint's indicators v2 and
// most MISP events carry; the rest are MISP attribute types that events carry
// and that have a STIX 2.1 observable to express them.
const (
	IPv4            Type = "ipv4"
	IPv6            Type = "ipv6"
	Domain          Type = "domain"
	URL             Type = "url"
	Email           Type = "email"
	File            Type = "file" // value: the strongest hash known (sha256 > sha1 > md5 > sha512)
	ExtractedConfig Type = "extracted_config"
	Filename        Type = "filename"
	Mutex           Type = "mutex"
	RegistryKey     Type = "registry_key"
	UserAgent       Type = "user_agent"
	ASN             Type = "asn"
)

// Entity types.
const (
	Vulnerability Type = "vulnerability"  // value: CVE ID, or the title when there is none
	Report        Type = "report"         // value: the source's report id
	Software      Type = "software"       // value: "vendor:product", lower case
	Malware       Type = "malware"        // value: the name, lower case
	ThreatActor   Type = "threat_actor"   // value: the name, lower case
	AttackPattern Type = "attack_pattern" // value: the MITRE ATT&CK id, upper case (T1059.001)
)

var indicatorTypes = []Type{IPv4, IPv6, Domain, URL, Email, File, ExtractedConfig, Filename, Mutex, RegistryKey, UserAgent, ASN}
var entityTypes = []Type{Vulnerability, Report, Software, Malware, ThreatActor, AttackPattern}

// IndicatorTypes returns every indicator type, in a stable order.
func IndicatorTypes() []Type { return slices.Clone(indicatorTypes) }

// Types returns every object type, indicators first.
func Types() []Type { return append(IndicatorTypes(), entityTypes...) }

// IsIndicator reports whether t is an indicator type.
func (t Type) IsIndicator() bool { return slices.Contains(indicatorTypes, t) }

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return t.IsIndicator() || slices.Contains(entityTypes, t) }

// ParseType returns the Type named s (case-insensitive; "threat-actor" and
// "attack-pattern" spellings are accepted) or an EINVALID error listing the
// allowed names.
func ParseType(s string) (Type, error) {
	t := Type(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	if t.Valid() {
		return t, nil
	}
	names := make([]string, 0, len(indicatorTypes)+len(entityTypes))
	for _, x := range Types() {
		names = append(names, string(x))
	}
	return "", Errorf(EINVALID, "type %q is not known; allowed: %s", s, strings.Join(names, ", "))
}

// TLP is a Traffic Light Protocol 2.0 designation, or none.
type TLP string

// TLP levels, from least to most restrictive.
const (
	TLPNone        TLP = "none"
	TLPClear       TLP = "clear"
	TLPGreen       TLP = "green"
	TLPAmber       TLP = "amber"
	TLPAmberStrict TLP = "amber+strict"
	TLPRed         TLP = "red"
)

var tlpOrder = []TLP{TLPNone, TLPClear, TLPGreen, TLPAmber, TLPAmberStrict, TLPRed}

// HasControl reports whether s holds a control character or a Unicode
// bidirectional formatting character (which can make a name print as
// another, or carry terminal escape sequences into a listing).
func HasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
	})
}

// TimeForms says which forms ParseTime takes, for messages.
const TimeForms = "an RFC 3339 time (2026-11-20T08:00:00Z) or a date (2026-11-20, midnight UTC)"

// ParseTime reads a time given by a user: RFC 3339, a date and time
// without zone (2026-11-20T08:00, UTC) or a date (UTC midnight). Every
// command-line flag and query parameter takes the same forms.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, Errorf(EINVALID, "time %q: want %s", s, TimeForms)
}

// ParseTLP accepts the TLP names case-insensitively, with or without the
// "TLP:" prefix; "white" is TLP 1.0's name for clear.
func ParseTLP(s string) (TLP, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.TrimPrefix(v, "tlp:")
	if v == "white" {
		v = "clear"
	}
	if v == "" {
		v = "none"
	}
	if slices.Contains(tlpOrder, TLP(v)) {
		return TLP(v), nil
	}
	return "", Errorf(EINVALID, "tlp %q is not known; allowed: none, clear, green, amber, amber+strict, red", s)
}

// Rank orders TLPs by restriction: none 0 … red 5; an unknown value ranks as red
// so that a corrupt label never loosens sharing.
func (t TLP) Rank() int {
	if i := slices.Index(tlpOrder, t); i >= 0 {
		return i
	}
	return len(tlpOrder) - 1
}

// TLPsUpTo lists the levels no more restrictive than max, least first.
func TLPsUpTo(max TLP) []TLP {
	return slices.Clone(tlpOrder[:max.Rank()+1])
}

// Valid reports whether t is a known level.
func (t TLP) Valid() bool { return slices.Contains(tlpOrder, t) }

// MostRestrictive returns the most restrictive of ts (none for an empty list).
func MostRestrictive(ts ...TLP) TLP {
	out := TLPNone
	for _, t := range ts {
		if t.Rank() > out.Rank() {
			out = t
		}
	}
	return out
}

// LeastRestrictive returns the least restrictive of ts (none for an empty list).
func LeastRestrictive(ts ...TLP) TLP {
	if len(ts) == 0 {
		return TLPNone
	}
	out := ts[0]
	for _, t := range ts[1:] {
		if t.Rank() < out.Rank() {
			out = t
		}
	}
	return out
}

// Score is Flashpoint's verdict on an indicator.
type Score string

// Flashpoint indicator scores.
const (
	ScoreNone          Score = ""
	ScoreInformational Score = "informational"
	ScoreSuspicious    Score = "suspicious"
	ScoreMalicious     Score = "malicious"
)

// ParseScore accepts a Flashpoint score name case-insensitively; empty is no score.
func ParseScore(s string) (Score, error) {
	switch v := Score(strings.ToLower(strings.TrimSpace(s))); v {
	case ScoreNone, ScoreInformational, ScoreSuspicious, ScoreMalicious:
		return v, nil
	}
	return "", Errorf(EINVALID, "score %q is not known; allowed: informational, suspicious, malicious", s)
}

// HashAlgo names a file hash algorithm, in STIX's spelling.
type HashAlgo string

// Hash algorithms Flint keeps for files.
const (
	MD5    HashAlgo = "MD5"
	SHA1   HashAlgo = "SHA-1"
	SHA256 HashAlgo = "SHA-256"
	SHA512 HashAlgo = "SHA-512"
)

// HashStrength orders algorithms for choosing a file's identifying value.
var HashStrength = []HashAlgo{SHA256, SHA1, MD5, SHA512}

// RelationshipType names how two objects relate.
type RelationshipType string

// Relationship types Flint creates. Each is stored once, from Source to
// Target, and read both ways.
const (
	RelIndicates  RelationshipType = "indicates"  // indicator → malware / threat actor / attack pattern
	RelRelatedTo  RelationshipType = "related-to" // anything → anything (report → indicator, title vuln → CVE vuln)
	RelHas        RelationshipType = "has"        // vulnerability → software (read back as affected-by)
	RelUses       RelationshipType = "uses"       // malware / threat actor → attack pattern
	RelAttributed RelationshipType = "attributed-to"
)

// Inverse returns the name of the relationship read from its target.
func (r RelationshipType) Inverse() string {
	switch r {
	case RelHas:
		return "affected-by"
	case RelIndicates:
		return "indicated-by"
	case RelUses:
		return "used-by"
	case RelAttributed:
		return "attribution-of"
	}
	return string(r)
}

// Ref names an object by identity, before it has an id.
type Ref struct {
	Type  Type   `json:"type"`
	Value string `json:"value"`
}

func (r Ref) String() string { return fmt.Sprintf("%s:%s", r.Type, r.Value) }
