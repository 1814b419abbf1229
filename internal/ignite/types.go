package ignite

import "encoding/json"

// The wire types below cover every field listed in docs/flashpoint-api.md.
// Decoding ignores unknown fields; each list item keeps its raw JSON in Raw so
// that nothing the server sent is lost.

// Report is a finished-intelligence report (docs/flashpoint-api.md §2.3).
type Report struct {
	ID               string         `json:"id"`
	Title            string         `json:"title"`
	Summary          string         `json:"summary"`
	Body             string         `json:"body"`
	Tags             []string       `json:"tags"`
	Actors           []string       `json:"actors"`
	Sources          []ReportSource `json:"sources"`
	Assets           []string       `json:"assets"`
	AssetIDs         []string       `json:"asset_ids"`
	TitleAsset       string         `json:"title_asset"`
	TitleAssetID     string         `json:"title_asset_id"`
	GoogleDocumentID string         `json:"google_document_id"`
	IsFeatured       bool           `json:"is_featured"`
	PublishedStatus  string         `json:"published_status"`
	PostedAt         Time           `json:"posted_at"`
	UpdatedAt        Time           `json:"updated_at"`
	IngestedAt       Time           `json:"ingested_at"`
	NotifiedAt       Time           `json:"notified_at"`
	VersionPostedAt  Time           `json:"version_posted_at"`
	PlatformURL      string         `json:"platform_url"`

	Raw json.RawMessage `json:"-"`
}

// ReportSource is one entry of a report's sources.
type ReportSource struct {
	Original    *string `json:"original"`
	PlatformURL *string `json:"platform_url"`
	Source      *string `json:"source"`
	SourceID    *string `json:"source_id"`
	Type        string  `json:"type"`
	Title       *string `json:"title"`
}

// Event is one MISP-like event linked to a report (docs/flashpoint-api.md §3.3).
type Event struct {
	Event              MISPEvent       `json:"Event"`
	AttackIDs          []string        `json:"attack_ids"`
	Basetypes          []string        `json:"basetypes"`
	FPID               string          `json:"fpid"`
	Header             EventHeader     `json:"header_"`
	Href               string          `json:"href"`
	MalwareDescription string          `json:"malware_description"`
	Raw                json.RawMessage `json:"-"`
}

// MISPEvent is the inner "Event" object.
type MISPEvent struct {
	Attribute             []Attribute       `json:"Attribute"`
	Object                []MISPObject      `json:"Object"`
	Tag                   []EventTag        `json:"Tag"`
	CryptographicKey      []json.RawMessage `json:"CryptographicKey"`
	EventReport           []json.RawMessage `json:"EventReport"`
	AttributeCount        Int               `json:"attribute_count"`
	TotalAttributes       Int               `json:"total_attributes"`
	BenignAttributesFound Int               `json:"benign_attributes_found"`
	Date                  Time              `json:"date"`
	EventCreatorEmail     string            `json:"event_creator_email"`
	Info                  string            `json:"info"`
	Protected             json.RawMessage   `json:"protected"`
	PublishTimestamp      Time              `json:"publish_timestamp"`
	Timestamp             Time              `json:"timestamp"`
	UUID                  string            `json:"uuid"`
	Report                string            `json:"report,omitempty"`
}

// MISPObject is a MISP object holding attributes of its own.
type MISPObject struct {
	Name      string      `json:"name,omitempty"`
	Attribute []Attribute `json:"Attribute"`
}

// Attribute is one MISP attribute. Value is keyed by the MISP type
// (value["sha256"], value["ip-dst|port"]) plus "comment".
type Attribute struct {
	Galaxy    []json.RawMessage `json:"Galaxy"`
	Category  string            `json:"category"`
	Comment   string            `json:"comment"`
	FirstSeen Time              `json:"first_seen"`
	LastSeen  Time              `json:"last_seen"`
	FPID      string            `json:"fpid"`
	Href      string            `json:"href"`
	Timestamp Time              `json:"timestamp"`
	Type      string            `json:"type"`
	UUID      string            `json:"uuid"`
	Value     map[string]string `json:"value"`
}

// TypedValue returns the attribute's value for its own MISP type.
func (a Attribute) TypedValue() string { return a.Value[a.Type] }

// EventTag is a MISP tag.
type EventTag struct {
	Name           string          `json:"name"`
	IsGalaxy       bool            `json:"is_galaxy"`
	IsCustomGalaxy bool            `json:"is_custom_galaxy"`
	Local          Int             `json:"local"`
	LocalOnly      bool            `json:"local_only"`
	NumericalValue json.RawMessage `json:"numerical_value"`
}

// EventHeader is the "header_" block of an event.
type EventHeader struct {
	IndexedAt        Int    `json:"indexed_at"`
	IngestedAt       Int    `json:"ingested_at"`
	IsVisible        bool   `json:"is_visible"`
	ObservedAt       Int    `json:"observed_at"`
	PipelineDuration Int    `json:"pipeline_duration"`
	Source           string `json:"source"`
}

// Vulnerability is a vulnerability-intelligence record: the list item
// (docs/flashpoint-api.md §4.3) plus the detail-only fields (§5), which stay empty for a list
// item or a non-premium detail.
type Vulnerability struct {
	ID                   Int              `json:"id"`
	CVEIDs               []string         `json:"cve_ids"`
	Title                string           `json:"title"`
	Keywords             string           `json:"keywords"`
	Description          string           `json:"description"`
	Solution             string           `json:"solution"`
	TechnicalDescription string           `json:"technical_description"`
	Timelines            Timelines        `json:"timelines"`
	Scores               VulnScores       `json:"scores"`
	VulnStatus           string           `json:"vuln_status"`
	CWEs                 []CWE            `json:"cwes"`
	Exploits             []Exploit        `json:"exploits"`
	ExploitsCount        Int              `json:"exploits_count"`
	ExtReferences        []ExtReference   `json:"ext_references"`
	Classifications      []Classification `json:"classifications"`
	CVSSv2s              []CVSSv2         `json:"cvss_v2s"`
	CVSSv3s              []CVSSv3         `json:"cvss_v3s"`
	CVSSv4s              []CVSSv4         `json:"cvss_v4s"`
	Tags                 []string         `json:"tags"`
	Products             []Product        `json:"products"`
	Vendors              []Vendor         `json:"vendors"`

	// Detail-only fields.
	AlternateVulnDBID        Int              `json:"alternate_vulndb_id"`
	Changelog                []ChangelogEntry `json:"changelog,omitempty"`
	Creditees                []Creditee       `json:"creditees,omitempty"`
	NVDAdditionalInformation []NVDInfo        `json:"nvd_additional_information,omitempty"`

	// Seen only in one synthetic source (docs/flashpoint-api.md §5, last row).
	PublishedAt    Time   `json:"published_at"`
	LastModifiedAt Time   `json:"last_modified_at"`
	CVSSv3Score    Number `json:"cvssv3_score"`

	Raw json.RawMessage `json:"-"`
}

// Timelines holds a vulnerability's dates and, in detail records, durations.
type Timelines struct {
	PublishedAt                  Time    `json:"published_at"`
	LastModifiedAt               Time    `json:"last_modified_at"`
	ExploitPublishedAt           Time    `json:"exploit_published_at"`
	DiscoveredAt                 Time    `json:"discovered_at"`
	DisclosedAt                  Time    `json:"disclosed_at"`
	VendorInformedAt             Time    `json:"vendor_informed_at"`
	VendorAcknowledgedAt         Time    `json:"vendor_acknowledged_at"`
	ThirdPartySolutionProvidedAt Time    `json:"third_party_solution_provided_at"`
	SolutionProvidedAt           Time    `json:"solution_provided_at"`
	ExploitedInTheWildAt         Time    `json:"exploited_in_the_wild_at"`
	VendorResponseTime           *string `json:"vendor_response_time,omitempty"`
	TimeToPatch                  *string `json:"time_to_patch,omitempty"`
	TotalTimeToPatch             *string `json:"total_time_to_patch,omitempty"`
	TimeUnpatched                *string `json:"time_unpatched,omitempty"`
	TimeToExploit                *string `json:"time_to_exploit,omitempty"`
	TotalTimeToExploit           *string `json:"total_time_to_exploit,omitempty"`
}

// VulnScores holds severity, CVSS v3, EPSS, ransomware and social-risk scores.
type VulnScores struct {
	Severity         string            `json:"severity"`
	CVSSv3Score      Number            `json:"cvssv3_score"`
	EPSSScore        Number            `json:"epss_score"`
	EPSSv1Score      Number            `json:"epss_v1_score"`
	RansomwareScore  Scalar            `json:"ransomware_score"`
	SocialRiskScores []SocialRiskScore `json:"social_risk_scores,omitempty"`
}

// SocialRiskScore is one entry of scores.social_risk_scores.
type SocialRiskScore struct {
	CVEID            string `json:"cve_id"`
	NumericScore     Number `json:"numeric_score"`
	CategoricalScore string `json:"categorical_score"`
	ScoreDate        Time   `json:"score_date"`
	TodaysTweets     Int    `json:"todays_tweets"`
	TotalTweets      Int    `json:"total_tweets"`
	UniqueUsers      Int    `json:"unique_users"`
}

// CWE is one weakness classification.
type CWE struct {
	CWEID  CWEID           `json:"cwe_id"`
	Name   string          `json:"name"`
	Source string          `json:"source,omitempty"`
	CVEIDs json.RawMessage `json:"cve_ids,omitempty"` // string or null (docs/flashpoint-api.md §4.3)
}

// Exploit is one known exploit reference.
type Exploit struct {
	Value string `json:"value"`
	Type  string `json:"type"`
}

// ExtReference is one external reference of a vulnerability.
type ExtReference struct {
	Value       string  `json:"value"`
	Type        string  `json:"type"`
	URL         string  `json:"url"`
	Description *string `json:"description"`
	CreatedAt   Time    `json:"created_at"`
}

// Classification is one Flashpoint classification (location_remote, ...).
type Classification struct {
	Name        string `json:"name"`
	Longname    string `json:"longname"`
	Description string `json:"description"`
}

// CVSSv2 is one CVSS v2 assessment.
type CVSSv2 struct {
	AccessVector            string  `json:"access_vector"`
	AccessComplexity        string  `json:"access_complexity"`
	Authentication          string  `json:"authentication"`
	ConfidentialityImpact   string  `json:"confidentiality_impact"`
	IntegrityImpact         string  `json:"integrity_impact"`
	AvailabilityImpact      string  `json:"availability_impact"`
	Source                  string  `json:"source,omitempty"`
	GeneratedAt             Time    `json:"generated_at"`
	CVEID                   *string `json:"cve_id,omitempty"`
	Score                   Number  `json:"score"`
	CalculatedCVSSBaseScore Number  `json:"calculated_cvss_base_score"`
	VectorString            string  `json:"vector_string,omitempty"`
	Version                 string  `json:"version,omitempty"`
}

// Vector returns the v2 base vector, from vector_string when sent, otherwise
// built from the metric fields (real v2 data carries no vector string).
func (c CVSSv2) Vector() string {
	if c.VectorString != "" {
		return c.VectorString
	}
	av := map[string]string{"NETWORK": "N", "ADJACENT_NETWORK": "A", "LOCAL": "L"}[c.AccessVector]
	ac := map[string]string{"LOW": "L", "MEDIUM": "M", "HIGH": "H"}[c.AccessComplexity]
	au := map[string]string{"NONE": "N", "SINGLE_INSTANCE": "S", "SINGLE": "S", "MULTIPLE_INSTANCES": "M", "MULTIPLE": "M"}[c.Authentication]
	imp := map[string]string{"NONE": "N", "PARTIAL": "P", "COMPLETE": "C"}
	ci, ii, ai := imp[c.ConfidentialityImpact], imp[c.IntegrityImpact], imp[c.AvailabilityImpact]
	if av == "" || ac == "" || au == "" || ci == "" || ii == "" || ai == "" {
		return ""
	}
	return "AV:" + av + "/AC:" + ac + "/Au:" + au + "/C:" + ci + "/I:" + ii + "/A:" + ai
}

// CVSSv3 is one CVSS v3.x assessment.
type CVSSv3 struct {
	AttackVector            string  `json:"attack_vector"`
	AttackComplexity        string  `json:"attack_complexity"`
	PrivilegesRequired      string  `json:"privileges_required"`
	UserInteraction         string  `json:"user_interaction"`
	Scope                   string  `json:"scope"`
	ConfidentialityImpact   string  `json:"confidentiality_impact"`
	IntegrityImpact         string  `json:"integrity_impact"`
	AvailabilityImpact      string  `json:"availability_impact"`
	Source                  string  `json:"source,omitempty"`
	GeneratedAt             Time    `json:"generated_at"`
	CVEID                   *string `json:"cve_id,omitempty"`
	Score                   Number  `json:"score"`
	CalculatedCVSSBaseScore Number  `json:"calculated_cvss_base_score"`
	VectorString            string  `json:"vector_string"`
	Version                 string  `json:"version"`
	RemediationLevel        *string `json:"remediation_level"`
	ReportConfidence        *string `json:"report_confidence"`
	ExploitCodeMaturity     *string `json:"exploit_code_maturity"`
	TemporalScore           Number  `json:"temporal_score"`
	UpdatedAt               Time    `json:"updated_at"`
}

// CVSSv4 is one CVSS v4.0 assessment.
type CVSSv4 struct {
	Score                                 Number  `json:"score"`
	ThreatScore                           Number  `json:"threat_score"`
	Source                                string  `json:"source"`
	GeneratedAt                           Time    `json:"generated_at"`
	UpdatedAt                             Time    `json:"updated_at"`
	CVEID                                 *string `json:"cve_id"`
	VectorString                          string  `json:"vector_string"`
	Version                               string  `json:"version"`
	AttackVector                          string  `json:"attack_vector"`
	AttackComplexity                      string  `json:"attack_complexity"`
	AttackRequirements                    string  `json:"attack_requirements"`
	PrivilegesRequired                    string  `json:"privileges_required"`
	UserInteraction                       string  `json:"user_interaction"`
	ExploitMaturity                       string  `json:"exploit_maturity"`
	VulnerableSystemConfidentialityImpact string  `json:"vulnerable_system_confidentiality_impact"`
	VulnerableSystemIntegrityImpact       string  `json:"vulnerable_system_integrity_impact"`
	VulnerableSystemAvailabilityImpact    string  `json:"vulnerable_system_availability_impact"`
	SubsequentSystemConfidentialityImpact string  `json:"subsequent_system_confidentiality_impact"`
	SubsequentSystemIntegrityImpact       string  `json:"subsequent_system_integrity_impact"`
	SubsequentSystemAvailabilityImpact    string  `json:"subsequent_system_availability_impact"`
}

// Product is an affected product. The list view carries only ID and Name; the
// premium detail adds the vendor and versions with their CPEs.
type Product struct {
	ID       Int              `json:"id"`
	Name     string           `json:"name"`
	VendorID *Int             `json:"vendor_id,omitempty"`
	Vendor   string           `json:"vendor,omitempty"`
	Versions []ProductVersion `json:"versions,omitempty"`
}

// ProductVersion is one product version and its CPEs.
type ProductVersion struct {
	ID                       Int    `json:"id"`
	VulnDBVersionID          Int    `json:"vulndb_version_id"`
	Name                     string `json:"name"`
	Affected                 string `json:"affected"`
	AllPriorVersionsAffected bool   `json:"all_prior_versions_affected"`
	CPEs                     []CPE  `json:"cpes"`
}

// CPE is one CPE 2.3 name with its origin ("Official", "Flashpoint-specified").
type CPE struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

// Vendor is a vendor reference.
type Vendor struct {
	ID   Int    `json:"id"`
	Name string `json:"name"`
}

// ChangelogEntry is one detail changelog line.
type ChangelogEntry struct {
	CreatedAt   Time   `json:"created_at"`
	Description string `json:"description"`
}

// Creditee is a credited researcher.
type Creditee struct {
	Name string `json:"name"`
}

// NVDInfo is the nvd_additional_information block of a detail record.
type NVDInfo struct {
	CVEID      string         `json:"cve_id"`
	Summary    string         `json:"summary"`
	CWEs       []CWE          `json:"cwes"`
	References []NVDReference `json:"references"`
	CVSSv2s    []CVSSv2       `json:"cvss_v2s"`
	CVSSv3s    []CVSSv3       `json:"cvss_v3s"`
}

// NVDReference is a reference in the NVD block.
type NVDReference struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Indicator is a Technical Intelligence v2 indicator (docs/flashpoint-api.md §6.3, §6.5).
type Indicator struct {
	ID                 string             `json:"id"`
	Type               string             `json:"type"`
	Value              string             `json:"value"`
	Href               string             `json:"href"`
	EntityType         string             `json:"entity_type"`
	Score              IndicatorScore     `json:"score"`
	ModifiedAt         Time               `json:"modified_at"`
	CreatedAt          Time               `json:"created_at"`
	LastSeenAt         Time               `json:"last_seen_at"`
	SortDate           Time               `json:"sort_date"`
	PlatformURLs       map[string]string  `json:"platform_urls,omitempty"`
	Hashes             *Hashes            `json:"hashes,omitempty"`
	Sightings          []Sighting         `json:"sightings"`
	LatestSighting     *Sighting          `json:"latest_sighting,omitempty"`
	TotalSightings     Int                `json:"total_sightings"`
	APTDescription     string             `json:"apt_description,omitempty"`
	MalwareDescription string             `json:"malware_description,omitempty"`
	MitreAttackIDs     []MitreAttack      `json:"mitre_attack_ids,omitempty"`
	ExternalReferences []ExternalRef      `json:"external_references,omitempty"`
	Relationships      *IndicatorRelation `json:"relationships,omitempty"`
	HistoricalTags     []string           `json:"historical_tags,omitempty"`
	Reports            []ReportLink       `json:"reports,omitempty"`

	Raw json.RawMessage `json:"-"`
}

// Tags returns the union of the tags of every sighting and of the latest
// sighting, in first-seen order: v2 indicators have no top-level tags.
func (in *Indicator) Tags() []string {
	seen := make(map[string]struct{}, 8)
	var out []string
	add := func(tags []string) {
		for _, t := range tags {
			if _, ok := seen[t]; ok || t == "" {
				continue
			}
			seen[t] = struct{}{}
			out = append(out, t)
		}
	}
	for i := range in.Sightings {
		add(in.Sightings[i].Tags)
	}
	if in.LatestSighting != nil {
		add(in.LatestSighting.Tags)
	}
	return out
}

// IndicatorScore is the Flashpoint score block.
type IndicatorScore struct {
	Value        string `json:"value"`
	LastScoredAt Time   `json:"last_scored_at"`
	RawScore     Number `json:"raw_score"`
}

// Hashes are a file indicator's hashes; absent ones are empty.
type Hashes struct {
	MD5    *string `json:"md5"`
	SHA1   *string `json:"sha1"`
	SHA256 *string `json:"sha256"`
	SHA512 *string `json:"sha512,omitempty"`
}

// Sighting is one observation of an indicator.
type Sighting struct {
	ID                 string        `json:"id"`
	Href               string        `json:"href"`
	Source             string        `json:"source"`
	SightedAt          Time          `json:"sighted_at"`
	Tags               []string      `json:"tags"`
	Description        string        `json:"description"`
	RelatedIOCs        []RelatedIOC  `json:"related_iocs,omitempty"`
	MitreAttackIDs     []MitreAttack `json:"mitre_attack_ids,omitempty"`
	APTDescription     string        `json:"apt_description,omitempty"`
	MalwareDescription string        `json:"malware_description,omitempty"`
	CreatedAt          Time          `json:"created_at"`
	ModifiedAt         Time          `json:"modified_at"`
}

// RelatedIOC is a reference to another indicator.
type RelatedIOC struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Value string `json:"value"`
	Href  string `json:"href"`
}

// MitreAttack is a MITRE ATT&CK technique reference. Sources disagree on
// tactics (list) versus tactic (string); both are kept.
type MitreAttack struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Tactics []string `json:"tactics,omitempty"`
	Tactic  string   `json:"tactic,omitempty"`
}

// ExternalRef is an indicator's external reference.
type ExternalRef struct {
	SourceName string `json:"source_name"`
	URL        string `json:"url,omitempty"`
}

// IndicatorRelation holds related indicators (embed=related_iocs).
type IndicatorRelation struct {
	IOCs []RelatedIOC `json:"iocs"`
}

// ReportLink links an indicator detail to a finished-intelligence report.
type ReportLink struct {
	HTML string `json:"html"`
	JSON string `json:"json"`
}
