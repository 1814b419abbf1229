package intel

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Object is one piece of intelligence: an indicator or an entity. The fields
// above Details are common to every type; Details holds what only some types
// have. On the write path an Object is one source's view (its TLP, confidence,
// validity and OriginalID); on the read path it is the merged view, with
// Sources listing every source's own terms.
type Object struct {
	ID          int64    `json:"id,omitempty"`
	Type        Type     `json:"type"`
	Value       string   `json:"value"`          // normalised identity within Type
	Name        string   `json:"name,omitempty"` // display name or title
	Description string   `json:"description,omitempty"`
	TLP         TLP      `json:"tlp"`
	Confidence  int      `json:"confidence"` // 0–100
	Relevance   *int     `json:"relevance,omitempty"`
	Severity    *int     `json:"severity,omitempty"` // custom severity score 0–100 (not CVSS)
	Score       Score    `json:"score,omitempty"`    // Flashpoint verdict for indicators
	Tags        []string `json:"tags,omitempty"`

	FirstSeen  time.Time `json:"first_seen,omitzero"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
	ValidFrom  time.Time `json:"valid_from,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`

	// Write side: the source's record id and when the source last reported
	// (modified) the item. Reported orders sources' views: the newest
	// report's details win.
	OriginalID string    `json:"original_id,omitempty"`
	Reported   time.Time `json:"reported,omitzero"`

	Details

	// Read side, filled by the store.
	Created     time.Time    `json:"created,omitzero"`  // first stored
	Modified    time.Time    `json:"modified,omitzero"` // last changed
	Deprecated  bool         `json:"deprecated"`        // valid_until has passed
	Sources     []Provenance `json:"sources,omitempty"`
	Collections []string     `json:"collections,omitempty"`
}

// Ref returns the object's identity.
func (o *Object) Ref() Ref { return Ref{Type: o.Type, Value: o.Value} }

// Details are the type-specific parts of an object. They are stored as one
// JSON document, so adding a field needs no migration.
type Details struct {
	Hashes         map[HashAlgo]string `json:"hashes,omitempty"`          // file
	Config         json.RawMessage     `json:"config,omitempty"`          // extracted_config
	AttackPatterns []string            `json:"attack_patterns,omitempty"` // MITRE ids seen with an indicator
	MalwareNames   []string            `json:"malware,omitempty"`
	ActorNames     []string            `json:"actors,omitempty"`
	PlatformURL    string              `json:"platform_url,omitempty"`
	// FullTags are tags the tag list could not hold whole, in full: longer
	// than MaxTagLen (the list has them clipped, ending in "…") or beyond
	// MaxTags. No tag a source gives is lost.
	FullTags []string `json:"full_tags,omitempty"`
	// Indicators (Flashpoint's embed): what the source says of the malware
	// and the actor (HTML as the source gives it: escape it to show it),
	// its external references, the IOCs it relates the indicator to, its
	// sightings, when it last scored it, and its API link.
	MalwareDescription string        `json:"malware_description,omitempty"`
	ActorDescription   string        `json:"actor_description,omitempty"`
	References         []Reference   `json:"references,omitempty"`
	RelatedIOCs        []RelatedIOC  `json:"related_iocs,omitempty"`
	Sightings          *SightingInfo `json:"sightings,omitempty"`
	LastScoredAt       time.Time     `json:"last_scored_at,omitzero"`
	Href               string        `json:"href,omitempty"`
	// Tactics are an attack pattern's MITRE ATT&CK tactics.
	Tactics       []string             `json:"tactics,omitempty"`
	Vulnerability *VulnerabilityDetail `json:"vulnerability,omitempty"`
	Report        *ReportDetail        `json:"report,omitempty"`
	Software      *SoftwareDetail      `json:"software,omitempty"`
}

// RelatedIOC is an indicator the source relates to another.
type RelatedIOC struct {
	Type       Type   `json:"type"`
	Value      string `json:"value"`
	OriginalID string `json:"original_id,omitempty"`
}

// SightingInfo sums up a source's sightings of an indicator.
type SightingInfo struct {
	Count int       `json:"count"`
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

// CVSS is one CVSS assessment.
type CVSS struct {
	Version string  `json:"version"` // "2.0", "3.0", "3.1", "4.0"
	Score   float64 `json:"score"`
	Vector  string  `json:"vector,omitempty"`
	Source  string  `json:"source,omitempty"`
	// Temporal is CVSS v3's temporal score or CVSS v4's threat score: the
	// base score adjusted for exploit maturity and remediation.
	Temporal *float64 `json:"temporal_score,omitempty"`
}

// VulnerabilityDetail keeps every field of docs/domain.md §5 that has no column of
// its own in Object.
type VulnerabilityDetail struct {
	FlashpointID int64 `json:"flashpoint_id,omitempty"` // of the record whose details these are
	// FlashpointIDs are every Flashpoint record that reported the
	// vulnerability (several records may name one CVE id), sorted.
	FlashpointIDs []int64  `json:"flashpoint_ids,omitempty"`
	CVEIDs        []string `json:"cve_ids,omitempty"`
	Solution      string   `json:"solution,omitempty"`
	CVSSv2        *CVSS    `json:"cvss_v2,omitempty"`
	CVSSv3        *CVSS    `json:"cvss_v3,omitempty"`
	CVSSv4        *CVSS    `json:"cvss_v4,omitempty"`
	Severity      string   `json:"severity,omitempty"` // critical, high, medium, low, informational, none
	EPSS          *float64 `json:"epss,omitempty"`
	EPSSv1        *float64 `json:"epss_v1,omitempty"`
	// RansomwareScore is Flashpoint's ransomware likelihood as a category in
	// lower case (critical, high, medium, low; "none" when Flashpoint says
	// None), or RansomwareProbability when it gives a number.
	RansomwareScore       string            `json:"ransomware_score,omitempty"`
	RansomwareProbability *float64          `json:"ransomware_probability,omitempty"`
	Keywords              string            `json:"keywords,omitempty"`
	TechnicalDescription  string            `json:"technical_description,omitempty"`
	Changelog             []Change          `json:"changelog,omitempty"`
	Creditees             []string          `json:"creditees,omitempty"`
	ExploitMaturity       string            `json:"exploit_maturity,omitempty"` // CVSS v3 E: high, functional, proof-of-concept, unproven, not-defined
	Exploits              []Exploit         `json:"exploits,omitempty"`
	Timelines             map[string]string `json:"timelines,omitempty"` // name → RFC 3339 time or duration text
	Classifications       []string          `json:"classifications,omitempty"`
	CWEs                  []string          `json:"cwes,omitempty"` // "CWE-79"
	References            []Reference       `json:"references,omitempty"`
	Vendors               []string          `json:"vendors,omitempty"`
	Products              []ProductRef      `json:"products,omitempty"`
	Status                string            `json:"status,omitempty"`
	PublishedAt           time.Time         `json:"published_at,omitzero"`
}

// Change is one line of a vulnerability's changelog.
type Change struct {
	At          time.Time `json:"at,omitzero"`
	Description string    `json:"description"`
}

// Exploit is one known exploit of a vulnerability.
type Exploit struct {
	Type string `json:"type,omitempty"`
	URL  string `json:"url,omitempty"`
	Date string `json:"date,omitempty"`
}

// Reference is an external reference.
type Reference struct {
	Type string `json:"type,omitempty"`
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
}

// ProductRef names an affected product with its versions and CPEs.
type ProductRef struct {
	Vendor   string   `json:"vendor"`
	Product  string   `json:"product"`
	Versions []string `json:"versions,omitempty"` // listed as affected
	CPEs     []string `json:"cpes,omitempty"`     // of the affected versions
	Fixed    []string `json:"fixed,omitempty"`    // listed as not affected
	// AllPriorTo: this version and every one before it are affected.
	AllPriorTo string `json:"all_prior_to,omitempty"`
}

// ReportDetail keeps what a finished report has beyond its title and summary
// (Object.Name and Object.Description).
type ReportDetail struct {
	Body      string    `json:"body,omitempty"` // HTML
	PostedAt  time.Time `json:"posted_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	Actors    []string  `json:"actors,omitempty"`
	Sources   []string  `json:"sources,omitempty"`
	Featured  bool      `json:"featured,omitempty"`
}

// SoftwareDetail is a product: who makes it, the versions reported affected
// and its CPEs.
type SoftwareDetail struct {
	Vendor   string   `json:"vendor"`
	Product  string   `json:"product"`
	Versions []string `json:"versions,omitempty"`
	CPEs     []string `json:"cpes,omitempty"`
}

// Provenance is one source's view of an object: which channel reported it,
// when first and last, under which terms, and under which id.
type Provenance struct {
	ChannelID     int64     `json:"channel_id"`
	Instance      string    `json:"instance"`
	Channel       string    `json:"channel"`
	OriginalID    string    `json:"original_id,omitempty"`
	FirstReported time.Time `json:"first_reported"`
	LastReported  time.Time `json:"last_reported"`
	TLP           TLP       `json:"tlp"`
	Confidence    int       `json:"confidence"`
	ValidUntil    time.Time `json:"valid_until,omitzero"`
}

// Relationship links two objects.
type Relationship struct {
	ID     int64            `json:"id,omitempty"`
	Source Ref              `json:"source"`
	Type   RelationshipType `json:"type"`
	Target Ref              `json:"target"`
	// IfStored (write side): the relationship is made only when both ends
	// are in the page or stored already (a source's reference to an item
	// it may not send), instead of failing the page.
	IfStored bool `json:"-"`
}

// Related is an object reached through a relationship, with the relationship
// named as seen from the starting object ("has" one way, "affected-by" the other).
type Related struct {
	Relationship string `json:"relationship"`
	Object       Object `json:"object"`
}

// Collection is a named set of objects; channels write into one each, and
// several channels may share one.
type Collection struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Objects int64     `json:"objects"`
}

// Limits on object fields.
const (
	MaxValueLen = 8192
	MaxTagLen   = 256 // runes: Flashpoint's long tags (a 72-character aes_key:…) fit whole
	MaxTags     = 200
)

// Validate checks what the store relies on. Value normalisation is the job
// of package indicator; Validate only refuses what can never be stored.
func (o *Object) Validate() error {
	switch {
	case !o.Type.Valid():
		return Errorf(EINVALID, "object type %q is not known", o.Type)
	case o.Value == "":
		return Errorf(EINVALID, "%s: value is empty", o.Type)
	case len(o.Value) > MaxValueLen:
		return Errorf(EINVALID, "%s: value is %d bytes; at most %d allowed", o.Type, len(o.Value), MaxValueLen)
	case !utf8.ValidString(o.Value):
		return Errorf(EINVALID, "%s: value is not valid UTF-8", o.Type)
	case !o.TLP.Valid():
		return Errorf(EINVALID, "%s %s: tlp %q is not known; allowed: none, clear, green, amber, amber+strict, red", o.Type, o.Value, o.TLP)
	case o.Confidence < 0 || o.Confidence > 100:
		return Errorf(EINVALID, "%s %s: confidence %d is out of range 0–100", o.Type, o.Value, o.Confidence)
	case len(o.Tags) > MaxTags:
		return Errorf(EINVALID, "%s %s: %d tags; at most %d allowed", o.Type, o.Value, len(o.Tags), MaxTags)
	}
	for name, p := range map[string]*int{"relevance": o.Relevance, "severity": o.Severity} {
		if p != nil && (*p < 0 || *p > 100) {
			return Errorf(EINVALID, "%s %s: %s %d is out of range 0–100", o.Type, o.Value, name, *p)
		}
	}
	for _, t := range o.Tags {
		if t == "" || utf8.RuneCountInString(t) > MaxTagLen {
			return Errorf(EINVALID, "%s %s: tag %q must be 1–%d characters", o.Type, o.Value, t, MaxTagLen)
		}
	}
	if !o.ValidUntil.IsZero() && !o.ValidFrom.IsZero() && o.ValidUntil.Before(o.ValidFrom) {
		return Errorf(EINVALID, "%s %s: valid_until %s is before valid_from %s", o.Type, o.Value,
			o.ValidUntil.Format(time.RFC3339), o.ValidFrom.Format(time.RFC3339))
	}
	return nil
}

// Expiry returns an item's valid_until (docs/domain.md §2): the source's own
// expiry when it gives one, else its last report plus the channel's
// deprecate-after days.
func Expiry(lastReported time.Time, deprecateAfterDays int, sourceExpiry time.Time) time.Time {
	if !sourceExpiry.IsZero() {
		return sourceExpiry
	}
	return lastReported.Add(time.Duration(deprecateAfterDays) * 24 * time.Hour)
}
