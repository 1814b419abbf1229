package stix

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flintcti/flint/internal/indicator"
	"github.com/flintcti/flint/internal/intel"
)

// extensionCreated is when Flint's extension definition was first published.
var extensionCreated = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// cveRE matches a CVE id.
var cveRE = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// Encode writes objects and the relationships among them as one STIX 2.1
// bundle. Relationships whose ends are not both among objs are left out, so
// that the bundle refers only to what it contains. Objects of a type STIX
// cannot express (a user agent has no observable) still get their indicator.
func Encode(objs []intel.Object, rels []intel.Relationship) (*Bundle, error) {
	e := newEncoder(len(objs))
	for i := range objs {
		if err := e.object(&objs[i]); err != nil {
			return nil, err
		}
	}
	e.relationships(rels, rels)
	e.finish()
	return e.b, nil
}

func newEncoder(n int) *encoder {
	return &encoder{
		b:       &Bundle{Type: "bundle", ID: "bundle--" + uuid.NewString()},
		ids:     make(map[intel.Ref]string, n),
		created: make(map[string]time.Time, n),
		seen:    map[string]bool{},
	}
}

// know records an object that is in the bundle without being written by
// this encoder (a streamed bundle's other pages), so that relationships and
// reports may refer to it.
func (e *encoder) know(o *intel.Object) {
	id := ObjectID(o)
	e.ids[o.Ref()] = id
	e.created[id] = createdTime(o)
	if o.Type == intel.Software { // an observable: as object() records it
		e.created[id] = o.Created
	}
}

// createdTime is when an object was created, as STIX writes it.
func createdTime(o *intel.Object) time.Time {
	for _, t := range []time.Time{o.Created, o.Reported, o.FirstSeen} {
		if !t.IsZero() {
			return t
		}
	}
	return extensionCreated
}

type encoder struct {
	b         *Bundle
	ids       map[intel.Ref]string
	created   map[string]time.Time
	reports   []*Object
	seen      map[string]bool
	tlps      []intel.TLP
	usesExt   bool
	usesFP    bool
	usesFlint bool
}

func (e *encoder) add(o *Object) {
	if o == nil || e.seen[o.ID] {
		return
	}
	e.seen[o.ID] = true
	e.b.Objects = append(e.b.Objects, o)
}

// ObjectID returns the STIX id Flint gives an object.
func ObjectID(o *intel.Object) string {
	switch o.Type {
	case intel.Vulnerability:
		return flintID("vulnerability", o.Value)
	case intel.Report:
		return flintID("report", o.Value)
	case intel.Malware:
		return flintID("malware", o.Value)
	case intel.ThreatActor:
		return flintID("threat-actor", o.Value)
	case intel.AttackPattern:
		return flintID("attack-pattern", o.Value)
	case intel.Software:
		return softwareSCO(o).ID
	}
	return flintID("indicator", string(o.Type), o.Value)
}

func (e *encoder) common(o *intel.Object, stixType string) *Object {
	created := createdTime(o)
	modified := o.Modified
	if modified.Before(created) {
		modified = created
	}
	conf := o.Confidence
	s := &Object{
		Type: stixType, SpecVersion: SpecVersion, ID: ObjectID(o), CreatedByRef: FlashpointIdentityID,
		Created: ts(created), Modified: ts(modified), Labels: slices.Clone(o.Tags), Confidence: &conf,
		Name: o.Name, Description: o.Description,
	}
	e.usesFP = true
	if m := TLPMarkingID(o.TLP); m != "" {
		s.ObjectMarkingRefs = []string{m}
		e.tlps = append(e.tlps, o.TLP)
	}
	e.ids[o.Ref()] = s.ID
	e.created[s.ID] = created
	e.extend(s, o)
	return s
}

// extend attaches Flint's property extension with what STIX has no property for.
func (e *encoder) extend(s *Object, o *intel.Object) {
	ext := map[string]any{"extension_type": "property-extension", "flint_type": string(o.Type), "value": o.Value}
	put := func(k string, v any) {
		switch x := v.(type) {
		case string:
			if x == "" {
				return
			}
		case []string:
			if len(x) == 0 {
				return
			}
		case *int:
			if x == nil {
				return
			}
			v = *x
		case time.Time:
			if x.IsZero() {
				return
			}
			v = Timestamp(x.UTC())
		case json.RawMessage:
			if len(x) == 0 {
				return
			}
		}
		ext[k] = v
	}
	put("name", o.Name)
	put("score", string(o.Score))
	put("relevance", o.Relevance)
	put("severity", o.Severity)
	put("first_seen", o.FirstSeen)
	put("last_seen", o.LastSeen)
	put("attack_patterns", o.AttackPatterns)
	put("malware", o.MalwareNames)
	put("actors", o.ActorNames)
	put("config", o.Config)
	if o.Vulnerability != nil {
		ext["vulnerability"] = o.Vulnerability
	}
	if o.Report != nil {
		ext["report"] = o.Report
	}
	if o.Software != nil {
		ext["software"] = o.Software
	}
	s.Extensions = map[string]any{ExtensionID: ext}
	e.usesExt = true
}

func (e *encoder) object(o *intel.Object) error {
	switch o.Type {
	case intel.Vulnerability:
		s := e.common(o, "vulnerability")
		if s.Name == "" || cveRE.MatchString(o.Value) {
			s.Name = o.Value
		}
		if cveRE.MatchString(o.Value) {
			s.ExternalReferences = append(s.ExternalReferences, ExternalReference{SourceName: "cve", ExternalID: o.Value,
				URL: "https://www.cve.org/CVERecord?id=" + o.Value})
		}
		if v := o.Vulnerability; v != nil {
			for _, cwe := range v.CWEs {
				s.ExternalReferences = append(s.ExternalReferences, ExternalReference{SourceName: "cwe", ExternalID: cwe})
			}
			for _, r := range v.References {
				if r.URL == "" {
					continue
				}
				ref := ExternalReference{SourceName: firstNonEmpty(r.Name, r.Type, "reference")}
				if uri, ok := URIValue(r.URL); ok { // written as a URI, like a URL indicator
					ref.URL = uri
				} else { // not a URL at all: kept as the reference's description
					ref.Description = r.URL
				}
				s.ExternalReferences = append(s.ExternalReferences, ref)
			}
		}
		e.add(s)
	case intel.Report:
		s := e.common(o, "report")
		if s.Name == "" {
			s.Name = o.Value
		}
		s.ReportTypes = []string{"threat-report"}
		s.Published = s.Created
		if o.Report != nil && !o.Report.PostedAt.IsZero() {
			s.Published = ts(o.Report.PostedAt)
		}
		e.reports = append(e.reports, s)
		e.add(s)
	case intel.Malware:
		s := e.common(o, "malware")
		s.Name, s.IsFamily = firstNonEmpty(o.Name, o.Value), ptr(true)
		e.add(s)
	case intel.ThreatActor:
		s := e.common(o, "threat-actor")
		s.Name = firstNonEmpty(o.Name, o.Value)
		e.add(s)
	case intel.AttackPattern:
		s := e.common(o, "attack-pattern")
		s.Name = firstNonEmpty(o.Name, o.Value)
		s.ExternalReferences = []ExternalReference{{SourceName: "mitre-attack", ExternalID: o.Value,
			URL: "https://attack.mitre.org/techniques/" + strings.ReplaceAll(o.Value, ".", "/") + "/"}}
		e.add(s)
	case intel.Software:
		s := softwareSCO(o)
		if m := TLPMarkingID(o.TLP); m != "" {
			s.ObjectMarkingRefs = []string{m}
			e.tlps = append(e.tlps, o.TLP)
		}
		e.extend(s, o)
		e.ids[o.Ref()] = s.ID
		e.created[s.ID] = o.Created
		e.add(s)
	default:
		if !o.Type.IsIndicator() {
			return fmt.Errorf("stix: object type %q cannot be encoded", o.Type)
		}
		pattern, sco, err := IndicatorPattern(o)
		if err != nil {
			return err
		}
		s := e.common(o, "indicator")
		if s.Name == "" {
			s.Name = o.Value
		}
		if s.Description == "" { // the OASIS validator's best practice: a description besides the name
			s.Description = IndicatorDescription(o)
		}
		s.Pattern, s.PatternType, s.PatternVersion = pattern, "stix", SpecVersion
		s.IndicatorTypes = []string{indicatorType(o.Score)}
		from := o.ValidFrom
		if from.IsZero() {
			from = o.FirstSeen
		}
		if from.IsZero() {
			from = s.Created.Time()
		}
		s.ValidFrom = ts(from)
		if o.ValidUntil.Truncate(time.Millisecond).After(from.Truncate(time.Millisecond)) {
			s.ValidUntil = ts(o.ValidUntil)
		}
		e.add(s)
		if sco != nil {
			sco.ObjectMarkingRefs = s.ObjectMarkingRefs
			e.add(sco)
		}
	}
	return nil
}

func indicatorType(s intel.Score) string {
	switch s {
	case intel.ScoreMalicious:
		return "malicious-activity"
	case intel.ScoreSuspicious:
		return "anomalous-activity"
	case intel.ScoreInformational:
		return "benign"
	}
	return "unknown"
}

func softwareSCO(o *intel.Object) *Object {
	vendor, product, _ := strings.Cut(o.Value, ":")
	cpe := ""
	if sw := o.Software; sw != nil {
		vendor, product = sw.Vendor, sw.Product
		if len(sw.CPEs) == 1 {
			cpe = sw.CPEs[0]
		}
	}
	contrib := map[string]any{"name": product}
	if vendor != "" {
		contrib["vendor"] = vendor
	}
	if cpe != "" {
		contrib["cpe"] = cpe
	}
	return &Object{Type: "software", SpecVersion: SpecVersion, ID: SCOID("software", contrib), Name: product, Vendor: vendor, CPE: cpe}
}

// IndicatorPattern returns the STIX pattern of an indicator and the cyber
// observable it describes (nil for types without one).
func IndicatorPattern(o *intel.Object) (string, *Object, error) {
	sco := func(typ string, contrib map[string]any) *Object {
		return &Object{Type: typ, SpecVersion: SpecVersion, ID: SCOID(typ, contrib)}
	}
	eq := func(path, v string) string { return "[" + path + " = " + Quote(v) + "]" }
	switch o.Type {
	case intel.IPv4, intel.IPv6, intel.Domain, intel.URL, intel.Email:
		typ := map[intel.Type]string{intel.IPv4: "ipv4-addr", intel.IPv6: "ipv6-addr", intel.Domain: "domain-name",
			intel.URL: "url", intel.Email: "email-addr"}[o.Type]
		// A value its observable's format refuses gets its indicator alone
		// (format.go; docs/stix.md): the pattern carries it.
		value, valid := o.Value, true
		switch o.Type {
		case intel.URL:
			if uri, ok := URIValue(o.Value); ok {
				value = uri
			} else {
				valid = false
			}
		case intel.Domain:
			valid = ValidHostname(o.Value)
		case intel.Email:
			valid = ValidEmail(o.Value)
		}
		if !valid {
			return eq(typ+":value", value), nil, nil
		}
		s := sco(typ, map[string]any{"value": value})
		s.Value = value
		return eq(typ+":value", value), s, nil
	case intel.File:
		hashes := map[string]string{}
		for algo, h := range o.Hashes {
			hashes[string(algo)] = h
		}
		if algo, ok := indicator.HashAlgoOf(o.Value); ok {
			hashes[string(algo)] = o.Value
		}
		var terms []string
		for _, algo := range intel.HashStrength {
			if h := hashes[string(algo)]; h != "" {
				terms = append(terms, "file:hashes."+Quote(string(algo))+" = "+Quote(h))
			}
		}
		if len(terms) == 0 {
			return "", nil, fmt.Errorf("stix: file %s has no hash", o.Value)
		}
		// The id uses one hash, the first of MD5, SHA-1, SHA-256, SHA-512 (§2.9).
		var idHash map[string]any
		for _, algo := range []intel.HashAlgo{intel.MD5, intel.SHA1, intel.SHA256, intel.SHA512} {
			if h := hashes[string(algo)]; h != "" {
				idHash = map[string]any{"hashes": map[string]any{string(algo): h}}
				break
			}
		}
		s := sco("file", idHash)
		s.Hashes = hashes
		return "[" + strings.Join(terms, " OR ") + "]", s, nil
	case intel.Filename:
		s := sco("file", map[string]any{"name": o.Value})
		s.Name = o.Value
		return eq("file:name", o.Value), s, nil
	case intel.Mutex:
		s := sco("mutex", map[string]any{"name": o.Value})
		s.Name = o.Value
		return eq("mutex:name", o.Value), s, nil
	case intel.RegistryKey:
		s := sco("windows-registry-key", map[string]any{"key": o.Value})
		s.Key = o.Value
		return eq("windows-registry-key:key", o.Value), s, nil
	case intel.ASN:
		n, err := strconv.ParseInt(strings.TrimPrefix(o.Value, "AS"), 10, 64)
		if err != nil {
			return "", nil, fmt.Errorf("stix: asn %q: %w", o.Value, err)
		}
		s := sco("autonomous-system", map[string]any{"number": n})
		s.Number = &n
		return "[autonomous-system:number = " + strconv.FormatInt(n, 10) + "]", s, nil
	case intel.UserAgent:
		return eq("network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'", o.Value), nil, nil
	case intel.ExtractedConfig:
		if len(o.Hashes) > 0 {
			c := *o
			c.Type, c.Value = intel.File, ""
			p, _, err := IndicatorPattern(&c)
			return p, nil, err
		}
		return eq("x-flint-extracted-config:value", o.Value), nil, nil
	}
	return "", nil, fmt.Errorf("stix: no pattern for type %q", o.Type)
}

// relationships writes rels whose ends are both in the bundle, and fills
// each report's object_refs with what reportRels relate it to in the
// bundle.
func (e *encoder) relationships(rels, reportRels []intel.Relationship) {
	refs := map[string][]string{}
	for _, r := range reportRels {
		src, ok1 := e.ids[r.Source]
		dst, ok2 := e.ids[r.Target]
		if !ok1 || !ok2 {
			continue
		}
		if r.Source.Type == intel.Report {
			refs[src] = append(refs[src], dst)
		}
		if r.Target.Type == intel.Report {
			refs[dst] = append(refs[dst], src)
		}
	}
	for _, r := range rels {
		src, ok1 := e.ids[r.Source]
		dst, ok2 := e.ids[r.Target]
		if !ok1 || !ok2 {
			continue
		}
		created := e.created[src]
		if c := e.created[dst]; c.After(created) {
			created = c
		}
		if created.IsZero() {
			created = extensionCreated
		}
		typ := strings.ToLower(string(r.Type))
		if r.Type == intel.RelHas && r.Source.Type == intel.Vulnerability && r.Target.Type == intel.Software {
			// Flint keeps "vulnerability has software" (what it affects);
			// STIX consumers such as OpenCTI read "software has
			// vulnerability".
			src, dst = dst, src
		}
		e.add(&Object{Type: "relationship", SpecVersion: SpecVersion, ID: flintID("relationship", src, typ, dst),
			CreatedByRef: FlintIdentityID, Created: ts(created), Modified: ts(created),
			RelationshipType: typ, SourceRef: src, TargetRef: dst})
		e.usesFlint = true
	}
	for _, rep := range e.reports {
		r := refs[rep.ID]
		slices.Sort(r)
		rep.ObjectRefs = slices.Compact(r)
		if len(rep.ObjectRefs) == 0 { // object_refs may not be empty
			rep.ObjectRefs = []string{FlashpointIdentityID}
			e.usesFP = true
		}
	}
}

// finish adds the identities, the extension definition and the TLP marking
// definitions that the bundle's objects refer to.
func (e *encoder) finish() {
	for _, o := range extras(e.usesFP, e.usesExt, e.usesFlint, e.tlps) {
		e.add(o)
	}
}

// extras are the identities, the extension definition and the TLP marking
// definitions a bundle's objects refer to.
func extras(usesFP, usesExt, usesFlint bool, tlps []intel.TLP) []*Object {
	var extra []*Object
	at := ts(extensionCreated)
	if usesFP {
		extra = append(extra, &Object{Type: "identity", SpecVersion: SpecVersion, ID: FlashpointIdentityID,
			Created: at, Modified: at, Name: "Flashpoint", IdentityClass: "organization",
			Description: "Flashpoint Ignite, the source of this intelligence."})
	}
	if usesExt || usesFlint {
		extra = append(extra, &Object{Type: "identity", SpecVersion: SpecVersion, ID: FlintIdentityID,
			Created: at, Modified: at, Name: "Flint", IdentityClass: "system",
			Description: "Flint, the threat-intelligence feed platform that wrote this bundle."})
	}
	if usesExt {
		extra = append(extra, &Object{Type: "extension-definition", SpecVersion: SpecVersion, ID: ExtensionID,
			CreatedByRef: FlintIdentityID, Created: at, Modified: at, Name: "Flint intelligence properties",
			Description: "Flint's properties that STIX 2.1 has no place for: the object's Flint type and value, the Flashpoint score, " +
				"custom relevance and severity, first and last seen, and the vulnerability (CVSS, EPSS, exploit maturity, exploits, " +
				"timelines), report and software details. See docs/stix.md.",
			Schema: "https://github.com/flintcti/flint/blob/main/docs/stix.md", Version: "1.0",
			ExtensionTypes: []string{"property-extension"}})
	}
	tlps = slices.Clone(tlps)
	slices.SortFunc(tlps, func(a, b intel.TLP) int { return a.Rank() - b.Rank() })
	for _, t := range slices.Compact(tlps) {
		extra = append(extra, TLPMarking(t))
	}
	return extra
}

// IndicatorDescription is the description of an indicator Flint has none
// for: what it is, and Flashpoint's verdict.
func IndicatorDescription(o *intel.Object) string {
	d := fmt.Sprintf("%s %s, reported by Flashpoint", o.Type, o.Value)
	if o.Score != "" {
		d += fmt.Sprintf(" (score: %s)", o.Score)
	}
	return d
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
