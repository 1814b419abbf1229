package stix

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/flintcti/flint/internal/intel"
)

// Decode reads a STIX 2.1 bundle back into Flint objects and relationships:
// indicators (from their patterns), vulnerabilities, reports, malware,
// threat actors, attack patterns and software. Flint's extension, when
// present, restores what STIX has no property for. Observables that back an
// indicator, identities and marking definitions are not objects of their own.
func Decode(data []byte) ([]intel.Object, []intel.Relationship, error) {
	var b struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, nil, fmt.Errorf("stix: decode bundle: %w", err)
	}
	if b.Type != "bundle" {
		return nil, nil, fmt.Errorf("stix: decode: type %q is not bundle", b.Type)
	}
	tlpOf := map[string]intel.TLP{}
	for t, id := range tlpMarkingIDs {
		tlpOf[id] = t
	}
	var objs []intel.Object
	refOf := map[string]intel.Ref{}
	var sros []*Object
	for i, raw := range b.Objects {
		var s Object
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, nil, fmt.Errorf("stix: decode object %d: %w", i, err)
		}
		var ext struct {
			FlintType      intel.Type                 `json:"flint_type"`
			Value          string                     `json:"value"`
			Name           *string                    `json:"name"`
			Score          intel.Score                `json:"score"`
			Relevance      *int                       `json:"relevance"`
			Severity       *int                       `json:"severity"`
			FirstSeen      *Timestamp                 `json:"first_seen"`
			LastSeen       *Timestamp                 `json:"last_seen"`
			AttackPatterns []string                   `json:"attack_patterns"`
			Malware        []string                   `json:"malware"`
			Actors         []string                   `json:"actors"`
			Config         json.RawMessage            `json:"config"`
			Vulnerability  *intel.VulnerabilityDetail `json:"vulnerability"`
			Report         *intel.ReportDetail        `json:"report"`
			Software       *intel.SoftwareDetail      `json:"software"`
		}
		if x, ok := s.Extensions[ExtensionID]; ok {
			if err := remarshal(x, &ext); err != nil {
				return nil, nil, fmt.Errorf("stix: decode %s: flint extension: %w", s.ID, err)
			}
		}
		o := intel.Object{Name: s.Name, Description: s.Description, Tags: s.Labels, TLP: intel.TLPNone,
			Created: s.Created.Time(), Modified: s.Modified.Time(), Score: ext.Score, Relevance: ext.Relevance, Severity: ext.Severity,
			FirstSeen: ext.FirstSeen.Time(), LastSeen: ext.LastSeen.Time(),
			Details: intel.Details{AttackPatterns: ext.AttackPatterns, MalwareNames: ext.Malware, ActorNames: ext.Actors,
				Config: ext.Config, Vulnerability: ext.Vulnerability, Report: ext.Report, Software: ext.Software}}
		if s.Confidence != nil {
			o.Confidence = *s.Confidence
		}
		for _, m := range s.ObjectMarkingRefs {
			if t, ok := tlpOf[m]; ok {
				o.TLP = intel.MostRestrictive(o.TLP, t)
			}
		}
		switch s.Type {
		case "indicator":
			p, err := ParsePattern(s.Pattern)
			if err != nil {
				return nil, nil, fmt.Errorf("stix: decode %s: %w", s.ID, err)
			}
			typ, value, hashes := fromPattern(p)
			if ext.FlintType != "" {
				typ, value = ext.FlintType, ext.Value
			}
			if typ == "" {
				continue // a pattern Flint has no type for
			}
			o.Type, o.Value, o.ValidFrom, o.ValidUntil = typ, value, s.ValidFrom.Time(), s.ValidUntil.Time()
			if o.Description == IndicatorDescription(&o) { // written for want of one
				o.Description = ""
			}
			if o.Name == o.Value {
				o.Name = ""
			}
			if len(hashes) > 0 && typ == intel.File {
				o.Hashes = hashes
			}
		case "vulnerability", "report", "malware", "threat-actor", "attack-pattern":
			o.Type = map[string]intel.Type{"vulnerability": intel.Vulnerability, "report": intel.Report, "malware": intel.Malware,
				"threat-actor": intel.ThreatActor, "attack-pattern": intel.AttackPattern}[s.Type]
			o.Value = ext.Value
			if o.Value == "" {
				o.Value = defaultValue(&s)
			}
			if o.Name == o.Value || (s.Type != "vulnerability" && s.Type != "report" && strings.EqualFold(o.Name, o.Value)) {
				o.Name = ""
			}
		case "software":
			o.Type, o.Value, o.Name = intel.Software, ext.Value, ""
			if o.Value == "" {
				o.Value = strings.ToLower(s.Vendor + ":" + s.Name)
			}
		case "relationship":
			sros = append(sros, &s)
			continue
		default:
			continue
		}
		if ext.FlintType != "" {
			o.Name = ""
			if ext.Name != nil {
				o.Name = *ext.Name
			}
		}
		refOf[s.ID] = o.Ref()
		objs = append(objs, o)
	}
	var rels []intel.Relationship
	for _, s := range sros {
		src, ok1 := refOf[s.SourceRef]
		dst, ok2 := refOf[s.TargetRef]
		if !ok1 || !ok2 {
			continue
		}
		typ := intel.RelationshipType(s.RelationshipType)
		if typ == intel.RelHas && src.Type == intel.Software && dst.Type == intel.Vulnerability {
			src, dst = dst, src // Flint keeps "vulnerability has software"
		}
		rels = append(rels, intel.Relationship{Source: src, Type: typ, Target: dst})
	}
	return objs, rels, nil
}

func defaultValue(s *Object) string {
	switch s.Type {
	case "attack-pattern":
		for _, r := range s.ExternalReferences {
			if r.SourceName == "mitre-attack" && r.ExternalID != "" {
				return r.ExternalID
			}
		}
	case "malware", "threat-actor":
		return strings.ToLower(s.Name)
	}
	return s.Name
}

// fromPattern reads the type and value of a single-observable pattern as
// Flint writes them.
func fromPattern(p *Pattern) (intel.Type, string, map[intel.HashAlgo]string) {
	if len(p.Observations) != 1 || len(p.Observations[0]) == 0 {
		return "", "", nil
	}
	c := p.Observations[0][0]
	if c.Operator != "=" || c.Negated {
		return "", "", nil
	}
	switch c.ObjectType + ":" + c.Path {
	case "ipv4-addr:value":
		return intel.IPv4, c.Value, nil
	case "ipv6-addr:value":
		return intel.IPv6, c.Value, nil
	case "domain-name:value":
		return intel.Domain, c.Value, nil
	case "url:value":
		return intel.URL, c.Value, nil
	case "email-addr:value":
		return intel.Email, c.Value, nil
	case "file:name":
		return intel.Filename, c.Value, nil
	case "mutex:name":
		return intel.Mutex, c.Value, nil
	case "windows-registry-key:key":
		return intel.RegistryKey, c.Value, nil
	case "autonomous-system:number":
		return intel.ASN, "AS" + c.Value, nil
	case "x-flint-extracted-config:value":
		return intel.ExtractedConfig, c.Value, nil
	case "network-traffic:extensions.http-request-ext.request_header.User-Agent":
		return intel.UserAgent, c.Value, nil
	}
	if c.ObjectType == "file" && strings.HasPrefix(c.Path, "hashes.") {
		hashes := map[intel.HashAlgo]string{}
		for _, h := range p.Observations[0] {
			if h.ObjectType == "file" && strings.HasPrefix(h.Path, "hashes.") {
				hashes[intel.HashAlgo(strings.TrimPrefix(h.Path, "hashes."))] = strings.ToLower(h.Value)
			}
		}
		for _, algo := range intel.HashStrength {
			if v := hashes[algo]; v != "" {
				return intel.File, v, hashes
			}
		}
	}
	return "", "", nil
}

func remarshal(in any, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
