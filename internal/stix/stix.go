// Package stix writes and reads STIX 2.1: the wire types of the objects Flint
// emits, deterministic identifiers (UUIDv5 per the specification for cyber
// observables, and over Flint's own namespace for everything else, so that
// an object keeps its id across exports), the official TLP 2.0 marking
// definitions, and a parser for the patterns Flint writes.
//
// Flint's fields that STIX has no property for (CVSS, EPSS, exploit
// maturity, the Flashpoint score, custom scores, first and last seen) travel
// in one property extension, ExtensionID, whose definition is included in
// every bundle that uses it and documented in docs/stix.md.
//
// The package is pure: no I/O.
package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flintcti/flint/internal/intel"
)

// SpecVersion is the STIX version written.
const SpecVersion = "2.1"

// scoNamespace is the namespace of STIX 2.1 cyber-observable ids (§2.9).
var scoNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// flintNamespace derives the ids of Flint's domain objects and relationships.
var flintNamespace = uuid.MustParse("6f8c1d5e-3b1a-4c52-9d0e-2f7a64b1c9e3")

// ExtensionID identifies Flint's property extension.
const ExtensionID = "extension-definition--b3b5d7c4-5f3e-4f0a-9a51-6c1f0e8d2a47"

// TLP 2.0 marking definitions, as published with the official extension.
const tlpExtensionID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

var tlpMarkingIDs = map[intel.TLP]string{
	intel.TLPClear:       "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
	intel.TLPGreen:       "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	intel.TLPAmber:       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	intel.TLPAmberStrict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
	intel.TLPRed:         "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

// TLPMarkingID returns the id of the official marking definition of a TLP
// level ("" for none).
func TLPMarkingID(t intel.TLP) string { return tlpMarkingIDs[t] }

// TLPMarking returns the official TLP 2.0 marking definition of a level.
func TLPMarking(t intel.TLP) *Object {
	id := tlpMarkingIDs[t]
	if id == "" {
		return nil
	}
	created := Timestamp(time.Date(2022, 10, 1, 0, 0, 0, 0, time.UTC))
	return &Object{
		Type: "marking-definition", SpecVersion: SpecVersion, ID: id, Created: &created,
		Name: "TLP:" + strings.ToUpper(string(t)),
		Extensions: map[string]any{tlpExtensionID: map[string]any{
			"extension_type": "property-extension", "tlp_2_0": string(t)}},
	}
}

// Timestamp is a STIX timestamp: UTC, millisecond precision, a literal Z.
type Timestamp time.Time

const timestampLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON writes the STIX form, keeping the zeros of whole seconds.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(timestampLayout) + `"`), nil
}

// UnmarshalJSON reads any RFC 3339 time.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("stix: timestamp %q: %w", s, err)
	}
	*t = Timestamp(v.UTC())
	return nil
}

// Time returns the time.
func (t *Timestamp) Time() time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Time(*t)
}

func ts(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	v := Timestamp(t.UTC().Truncate(time.Millisecond))
	return &v
}

// Bundle is a STIX bundle.
type Bundle struct {
	Type    string    `json:"type"`
	ID      string    `json:"id"`
	Objects []*Object `json:"objects"`
}

// ExternalReference points outside STIX.
type ExternalReference struct {
	SourceName  string `json:"source_name"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
}

// Object is any STIX object Flint writes: the common properties and the
// union of the type-specific ones it uses. Empty properties are left out.
type Object struct {
	Type               string              `json:"type"`
	SpecVersion        string              `json:"spec_version"`
	ID                 string              `json:"id"`
	CreatedByRef       string              `json:"created_by_ref,omitempty"`
	Created            *Timestamp          `json:"created,omitempty"`
	Modified           *Timestamp          `json:"modified,omitempty"`
	Revoked            bool                `json:"revoked,omitempty"`
	Labels             []string            `json:"labels,omitempty"`
	Confidence         *int                `json:"confidence,omitempty"`
	ExternalReferences []ExternalReference `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string            `json:"object_marking_refs,omitempty"`

	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`

	// indicator
	IndicatorTypes []string   `json:"indicator_types,omitempty"`
	Pattern        string     `json:"pattern,omitempty"`
	PatternType    string     `json:"pattern_type,omitempty"`
	PatternVersion string     `json:"pattern_version,omitempty"`
	ValidFrom      *Timestamp `json:"valid_from,omitempty"`
	ValidUntil     *Timestamp `json:"valid_until,omitempty"`

	// report
	ReportTypes []string   `json:"report_types,omitempty"`
	Published   *Timestamp `json:"published,omitempty"`
	ObjectRefs  []string   `json:"object_refs,omitempty"`

	// relationship
	RelationshipType string `json:"relationship_type,omitempty"`
	SourceRef        string `json:"source_ref,omitempty"`
	TargetRef        string `json:"target_ref,omitempty"`

	// identity, malware
	IdentityClass string `json:"identity_class,omitempty"`
	IsFamily      *bool  `json:"is_family,omitempty"`

	// extension-definition
	Schema         string   `json:"schema,omitempty"`
	Version        string   `json:"version,omitempty"`
	ExtensionTypes []string `json:"extension_types,omitempty"`

	// cyber observables
	Value  string            `json:"value,omitempty"`
	Hashes map[string]string `json:"hashes,omitempty"`
	Number *int64            `json:"number,omitempty"`
	Key    string            `json:"key,omitempty"`
	Vendor string            `json:"vendor,omitempty"`
	CPE    string            `json:"cpe,omitempty"`

	Extensions map[string]any `json:"extensions,omitempty"`
}

// canonical returns the JSON Canonicalization Scheme (RFC 8785) form of a
// flat object of strings, numbers and string maps: sorted keys, no
// insignificant whitespace, no HTML escaping.
func canonical(v map[string]any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // maps marshal with sorted keys; values here always encode
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	// encoding/json escapes U+2028 and U+2029; JCS writes them as they are.
	out = bytes.ReplaceAll(out, []byte(`\u2028`), []byte("\u2028"))
	return bytes.ReplaceAll(out, []byte(`\u2029`), []byte("\u2029"))
}

// SCOID returns the deterministic id of a cyber observable from its
// id-contributing properties (STIX 2.1 §2.9).
func SCOID(typ string, contributing map[string]any) string {
	return typ + "--" + uuid.NewSHA1(scoNamespace, canonical(contributing)).String()
}

// flintID returns a stable id for a Flint object of a STIX type.
func flintID(stixType string, parts ...string) string {
	return stixType + "--" + uuid.NewSHA1(flintNamespace, []byte(stixType+"\x00"+strings.Join(parts, "\x00"))).String()
}

// FlashpointIdentityID is the identity of the source of every object.
var FlashpointIdentityID = flintID("identity", "Flashpoint")

// FlintIdentityID is the identity that defines Flint's extension.
var FlintIdentityID = flintID("identity", "Flint")
