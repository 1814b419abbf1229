package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/flintcti/flint/internal/intel"
)

// schemaDir holds the OASIS STIX 2.1 JSON schemas (BSD-3; origin and commit in
// its README.md).
const schemaDir = "testdata/stix2-json-schemas"
const schemaBase = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"

// validator compiles the OASIS schemas once per test binary.
type validator struct {
	c     *jsonschema.Compiler
	cache map[string]*jsonschema.Schema
}

func newValidator(t *testing.T) *validator {
	t.Helper()
	c := jsonschema.NewCompiler()
	// Formats asserted, as strictly as the OASIS validator: a URL that is
	// not an RFC 3986 URI, a host name with an underscore, a bad email
	// address fail (the library's own checks let the first two through).
	c.AssertFormat()
	for name, valid := range map[string]func(string) bool{"uri": ValidURI, "idn-hostname": ValidHostname, "email": ValidEmail} {
		c.RegisterFormat(&jsonschema.Format{Name: name, Validate: func(v any) error {
			if s, ok := v.(string); ok && !valid(s) {
				return fmt.Errorf("%q is not a valid %s", s, name)
			}
			return nil
		}})
	}
	err := filepath.WalkDir(schemaDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(schemaDir, path)
		return c.AddResource(schemaBase+filepath.ToSlash(rel), doc)
	})
	if err != nil {
		t.Fatalf("load STIX schemas: %v", err)
	}
	return &validator{c: c, cache: map[string]*jsonschema.Schema{}}
}

func (v *validator) schemaFor(t *testing.T, typ string) *jsonschema.Schema {
	t.Helper()
	if s := v.cache[typ]; s != nil {
		return s
	}
	var loc string
	for _, dir := range []string{"sdos", "sros", "observables", "common"} {
		if _, err := os.Stat(filepath.Join(schemaDir, dir, typ+".json")); err == nil {
			loc = schemaBase + dir + "/" + typ + ".json"
			break
		}
	}
	if loc == "" {
		t.Fatalf("no schema for STIX type %q", typ)
	}
	s, err := v.c.Compile(loc)
	if err != nil {
		t.Fatalf("compile %s: %v", loc, err)
	}
	v.cache[typ] = s
	return s
}

func (v *validator) validate(t *testing.T, raw []byte) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	typ, _ := doc.(map[string]any)["type"].(string)
	if err := v.schemaFor(t, typ).Validate(doc); err != nil {
		t.Errorf("%s does not validate:\n%s\n%v", typ, raw, err)
	}
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func intp(v int) *int { return &v }

// sample returns one object of every type Flint stores, with every field set,
// and relationships among them.
func sample() ([]intel.Object, []intel.Relationship) {
	base := func(t intel.Type, v string) intel.Object {
		return intel.Object{Type: t, Value: v, TLP: intel.TLPAmber, Confidence: 80, Tags: []string{"source:test"},
			Created: t0, Modified: t0.Add(time.Hour), FirstSeen: t0.Add(-time.Hour), LastSeen: t0, Reported: t0,
			ValidFrom: t0, ValidUntil: t0.Add(90 * 24 * time.Hour)}
	}
	sha := strings.Repeat("ab", 32)
	file := base(intel.File, sha)
	file.Hashes = map[intel.HashAlgo]string{intel.SHA256: sha, intel.MD5: strings.Repeat("cd", 16), intel.SHA1: strings.Repeat("ef", 20)}
	file.Score, file.Relevance, file.Severity = intel.ScoreMalicious, intp(70), intp(90)
	url := base(intel.URL, "http://bad.example.com/x?a='b'&c=\\")
	url.TLP = intel.TLPRed
	ipv4 := base(intel.IPv4, "198.51.100.23")
	ipv4.TLP, ipv4.Score, ipv4.AttackPatterns, ipv4.MalwareNames = intel.TLPClear, intel.ScoreSuspicious, []string{"T1071.001"}, []string{"emotet"}
	dom := base(intel.Domain, "bad.example.com")
	dom.TLP = intel.TLPGreen
	cfg := base(intel.ExtractedConfig, `{"BeaconType":"HTTPS","C2Server":"bad.example.com,/x"}`)
	cfg.Config = json.RawMessage(`{"BeaconType":"HTTPS"}`)
	cfg.TLP = intel.TLPAmberStrict
	epss := 0.97
	vul := base(intel.Vulnerability, "CVE-2024-3400")
	vul.Name, vul.Description = "PAN-OS command injection", "A command injection in GlobalProtect."
	vul.Vulnerability = &intel.VulnerabilityDetail{FlashpointID: 400123, CVEIDs: []string{"CVE-2024-3400"},
		CVSSv3: &intel.CVSS{Version: "3.1", Score: 10, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"},
		EPSS:   &epss, Severity: "critical", ExploitMaturity: "high", CWEs: []string{"CWE-77"},
		References: []intel.Reference{{Name: "Vendor advisory", URL: "https://security.paloaltonetworks.com/CVE-2024-3400"}},
		Exploits:   []intel.Exploit{{Type: "exploit-db", URL: "https://www.exploit-db.com/exploits/1"}},
		Products:   []intel.ProductRef{{Vendor: "Palo Alto Networks", Product: "PAN-OS", Versions: []string{"11.1.0"}}}}
	untitled := base(intel.Vulnerability, "Acme widget overflow")
	sw := base(intel.Software, "palo alto networks:pan-os")
	sw.Software = &intel.SoftwareDetail{Vendor: "Palo Alto Networks", Product: "PAN-OS", Versions: []string{"11.1.0"},
		CPEs: []string{"cpe:2.3:o:paloaltonetworks:pan-os:11.1.0:*:*:*:*:*:*:*"}}
	rep := base(intel.Report, "fp-report-1")
	rep.Name, rep.Description = "Emotet returns", "Loader campaign summary"
	rep.Report = &intel.ReportDetail{Body: "<p>Body</p>", PostedAt: t0, Featured: true, Actors: []string{"TA542"}}
	mal := base(intel.Malware, "emotet")
	mal.Name = "Emotet"
	actor := base(intel.ThreatActor, "ta542")
	actor.Name = "TA542"
	ap := base(intel.AttackPattern, "T1071.001")
	objs := []intel.Object{ipv4, base(intel.IPv6, "2001:db8::1"), dom, url, base(intel.Email, "phish@bad.example.com"), file, cfg,
		base(intel.Filename, "invoice.exe"), base(intel.Mutex, `Global\emotet`), base(intel.RegistryKey, `HKEY_LOCAL_MACHINE\Software\Run`),
		base(intel.UserAgent, "Mozilla/5.0 (evil)"), base(intel.ASN, "AS64500"), vul, untitled, sw, rep, mal, actor, ap}
	rels := []intel.Relationship{
		{Source: rep.Ref(), Type: intel.RelRelatedTo, Target: ipv4.Ref()},
		{Source: rep.Ref(), Type: intel.RelRelatedTo, Target: file.Ref()},
		{Source: ipv4.Ref(), Type: intel.RelIndicates, Target: mal.Ref()},
		{Source: mal.Ref(), Type: intel.RelUses, Target: ap.Ref()},
		{Source: vul.Ref(), Type: intel.RelHas, Target: sw.Ref()},
		{Source: untitled.Ref(), Type: intel.RelRelatedTo, Target: vul.Ref()},
		{Source: dom.Ref(), Type: intel.RelIndicates, Target: intel.Ref{Type: intel.Malware, Value: "not-in-bundle"}},
	}
	return objs, rels
}

func encodeJSON(t *testing.T, objs []intel.Object, rels []intel.Relationship) []byte {
	t.Helper()
	b, err := Encode(objs, rels)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

var stixTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// Every object Flint emits validates against the OASIS schemas, refers only
// to objects in its bundle, and keeps the rules the schemas cannot check.
func TestEncodeValidates(t *testing.T) {
	v := newValidator(t)
	objs, rels := sample()
	raw := encodeJSON(t, objs, rels)
	// The OASIS bundle schema lists no extension-definition among its object
	// types, and a custom object matches both of its cores, so the bundle is
	// validated without the definition, which is checked against its own schema.
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, o := range env["objects"].([]any) {
		if o.(map[string]any)["type"] != "extension-definition" {
			kept = append(kept, o)
		}
	}
	env["objects"] = kept
	withoutExt, _ := json.Marshal(env)
	v.validate(t, withoutExt)

	var b struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	types := map[string]int{}
	var all []map[string]any
	for _, o := range b.Objects {
		v.validate(t, o)
		var m map[string]any
		if err := json.Unmarshal(o, &m); err != nil {
			t.Fatal(err)
		}
		id := m["id"].(string)
		if ids[id] {
			t.Errorf("id %s appears twice", id)
		}
		ids[id] = true
		types[m["type"].(string)]++
		all = append(all, m)
		u, err := uuid.Parse(id[strings.Index(id, "--")+2:])
		if err != nil || u.Version() < 1 || u.Version() > 5 {
			t.Errorf("%s: id is not a UUID of version 1–5", id)
		}
	}
	for _, m := range all {
		id := m["id"].(string)
		for _, k := range []string{"created", "modified", "valid_from", "valid_until", "published"} {
			if s, ok := m[k].(string); ok && !stixTimestamp.MatchString(s) {
				t.Errorf("%s: %s %q is not a millisecond Z timestamp", id, k, s)
			}
		}
		if mod, ok := m["modified"].(string); ok && mod < m["created"].(string) {
			t.Errorf("%s: modified before created", id)
		}
		if vf, ok := m["valid_from"].(string); ok {
			if vu, ok := m["valid_until"].(string); ok && vu <= vf {
				t.Errorf("%s: valid_until %s is not after valid_from %s", id, vu, vf)
			}
		}
		var refs []string
		for _, k := range []string{"created_by_ref", "source_ref", "target_ref"} {
			if s, ok := m[k].(string); ok {
				refs = append(refs, s)
			}
		}
		for _, k := range []string{"object_marking_refs", "object_refs"} {
			if l, ok := m[k].([]any); ok {
				for _, r := range l {
					refs = append(refs, r.(string))
				}
			}
		}
		exts, _ := m["extensions"].(map[string]any)
		for ext := range exts {
			if strings.HasPrefix(ext, "extension-definition--") {
				refs = append(refs, ext)
			}
		}
		for _, r := range refs {
			if !ids[r] && !strings.HasPrefix(r, tlpExtensionID) {
				t.Errorf("%s refers to %s, which is not in the bundle", id, r)
			}
		}
		if p, ok := m["pattern"].(string); ok {
			if _, err := ParsePattern(p); err != nil {
				t.Errorf("%s: pattern %q: %v", id, p, err)
			}
		}
	}
	want := map[string]int{"indicator": 12, "vulnerability": 2, "report": 1, "malware": 1, "threat-actor": 1, "attack-pattern": 1,
		"ipv4-addr": 1, "ipv6-addr": 1, "domain-name": 1, "url": 1, "email-addr": 1, "file": 2, "mutex": 1,
		"windows-registry-key": 1, "autonomous-system": 1, "software": 1, "relationship": 6, "identity": 2,
		"extension-definition": 1, "marking-definition": 5}
	if d := cmp.Diff(want, types); d != "" {
		t.Errorf("object types in the bundle (-want +got):\n%s", d)
	}
}

// The known answers of testdata/stix2-json-schemas/README.md.
func TestSCOIDKnownAnswers(t *testing.T) {
	for _, tt := range []struct {
		typ         intel.Type
		value, want string
	}{
		{intel.Domain, "bad.example.com", "domain-name--ad252e7a-f605-5f63-9b85-33d11b2d254e"},
		{intel.IPv4, "198.51.100.23", "ipv4-addr--cec0294c-86c8-52cc-8448-ba43593736df"},
		{intel.URL, "http://bad.example.com/x", "url--56967f02-9640-588f-8921-ce449f5f5ef2"},
	} {
		_, sco, err := IndicatorPattern(&intel.Object{Type: tt.typ, Value: tt.value})
		if err != nil {
			t.Fatal(err)
		}
		if sco.ID != tt.want {
			t.Errorf("%s %s: id %s, want %s", tt.typ, tt.value, sco.ID, tt.want)
		}
	}
}

func TestTimestamp(t *testing.T) {
	for in, want := range map[time.Time]string{
		time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC):                       `"2026-01-10T12:00:00.000Z"`,
		time.Date(2026, 1, 10, 12, 0, 0, 123456789, time.UTC):               `"2026-01-10T12:00:00.123Z"`,
		time.Date(2026, 1, 10, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600)): `"2026-01-10T12:00:00.000Z"`,
	} {
		b, _ := json.Marshal(Timestamp(in))
		if string(b) != want {
			t.Errorf("%s encodes as %s, want %s", in, b, want)
		}
	}
}

// Encoding then decoding gives back the objects and the relationships
// whose ends are in the bundle.
func TestRoundTrip(t *testing.T) {
	objs, rels := sample()
	got, gotRels, err := Decode(encodeJSON(t, objs, rels))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]intel.Object, len(objs))
	for i, o := range objs {
		o.Reported = time.Time{} // write-side only
		if o.Type == intel.Software {
			o.Name, o.Tags, o.Confidence, o.Created, o.Modified, o.ValidFrom, o.ValidUntil = "", nil, 0, time.Time{}, time.Time{}, time.Time{}, time.Time{}
		}
		if o.Type != intel.IPv4 && o.Type != intel.IPv6 && o.Type != intel.Domain && o.Type != intel.URL && o.Type != intel.Email &&
			o.Type != intel.File && o.Type != intel.ExtractedConfig && o.Type != intel.Filename && o.Type != intel.Mutex &&
			o.Type != intel.RegistryKey && o.Type != intel.UserAgent && o.Type != intel.ASN {
			o.ValidFrom, o.ValidUntil = time.Time{}, time.Time{}
		}
		if o.Type == intel.ExtractedConfig {
			o.Config = json.RawMessage(`{"BeaconType":"HTTPS"}`)
		}
		want[i] = o
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if d := cmp.Diff(rels[:6], gotRels); d != "" {
		t.Errorf("relationships (-want +got):\n%s", d)
	}
}

// Deterministic ids: the same object has the same id in every export.
func TestStableIDs(t *testing.T) {
	objs, rels := sample()
	a, _ := Encode(objs, rels)
	b, _ := Encode(objs, rels)
	for i := range a.Objects {
		if a.Objects[i].ID != b.Objects[i].ID {
			t.Errorf("object %d: %s then %s", i, a.Objects[i].ID, b.Objects[i].ID)
		}
	}
	if a.ID == b.ID {
		t.Error("two bundles share an id")
	}
}

// Values Flint keeps as valid indicators but that are not valid in their
// observable's STIX format are written by the rule of format.go: a URL as
// a URI, a domain or email address its format refuses as an indicator
// without an observable. Every object validates with formats asserted, no
// indicator is dropped, and the Flint value comes back on decoding.
func TestAwkwardValues(t *testing.T) {
	v := newValidator(t)
	mk := func(typ intel.Type, value string) intel.Object {
		return intel.Object{Type: typ, Value: value, TLP: intel.TLPGreen, Confidence: 70, Created: t0, Modified: t0, ValidFrom: t0}
	}
	objs := []intel.Object{
		mk(intel.URL, "http://example.com/pa th?q=a b&c=\\"),
		mk(intel.URL, "http://пример.рф/путь"),
		mk(intel.URL, "http://example.com/a|b{c}#x#y"),
		mk(intel.Domain, "under_score.example.com"),
		mk(intel.Domain, "good.example.com"),
		mk(intel.Email, "first.last@under_score.example.com"),
	}
	vuln := mk(intel.Vulnerability, "CVE-2026-0001")
	vuln.Vulnerability = &intel.VulnerabilityDetail{References: []intel.Reference{{Name: "vendor", URL: "https://vendor.example/adv isory"},
		{Name: "note", URL: "see the vendor's advisory"}}}
	objs = append(objs, vuln)
	raw := encodeJSON(t, objs, nil)
	var b struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	indicators, scos := map[string]string{}, map[string]string{}
	for _, o := range b.Objects {
		var m map[string]any
		if err := json.Unmarshal(o, &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == "extension-definition" {
			continue
		}
		v.validate(t, o)
		switch m["type"] {
		case "indicator":
			indicators[m["pattern"].(string)] = m["description"].(string)
		case "url", "domain-name", "email-addr":
			scos[m["value"].(string)] = m["type"].(string)
		case "vulnerability":
			refs, _ := json.Marshal(m["external_references"])
			if !strings.Contains(string(refs), `"url":"https://vendor.example/adv%20isory"`) ||
				!strings.Contains(string(refs), `"description":"see the vendor's advisory"`) {
				t.Errorf("vulnerability references %s", refs)
			}
		}
	}
	wantPatterns := []string{
		"[url:value = 'http://example.com/pa%20th?q=a%20b&c=%5C']",
		"[url:value = 'http://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C']",
		"[url:value = 'http://example.com/a%7Cb%7Bc%7D#x%23y']",
		"[domain-name:value = 'under_score.example.com']",
		"[domain-name:value = 'good.example.com']",
		"[email-addr:value = 'first.last@under_score.example.com']",
	}
	for _, p := range wantPatterns {
		if d, ok := indicators[p]; !ok || d == "" {
			t.Errorf("no indicator (with a description) %s; have %v", p, indicators)
		}
	}
	wantSCOs := map[string]string{"http://example.com/pa%20th?q=a%20b&c=%5C": "url", "http://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C": "url",
		"http://example.com/a%7Cb%7Bc%7D#x%23y": "url", "good.example.com": "domain-name"}
	if d := cmp.Diff(wantSCOs, scos); d != "" {
		t.Errorf("observables (-want +got):\n%s", d)
	}
	got, _, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{}
	for _, o := range got {
		values[o.Value] = true
		if o.Description != "" {
			t.Errorf("%s %s decoded with the description written for want of one: %q", o.Type, o.Value, o.Description)
		}
	}
	for _, o := range objs {
		if !values[o.Value] {
			t.Errorf("%s %q did not come back from the bundle", o.Type, o.Value)
		}
	}
}

// A vulnerability and the software it affects are written "software has
// vulnerability", as STIX consumers (OpenCTI) read it, and read back the
// way Flint keeps them.
func TestSoftwareHasVulnerability(t *testing.T) {
	vuln := intel.Object{Type: intel.Vulnerability, Value: "CVE-2026-0002", TLP: intel.TLPAmber, Created: t0, Modified: t0}
	sw := intel.Object{Type: intel.Software, Value: "acme:widget", Details: intel.Details{Software: &intel.SoftwareDetail{Vendor: "Acme", Product: "Widget"}}}
	rel := intel.Relationship{Source: vuln.Ref(), Type: intel.RelHas, Target: sw.Ref()}
	raw := encodeJSON(t, []intel.Object{vuln, sw}, []intel.Relationship{rel})
	var b struct{ Objects []Object }
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, o := range b.Objects {
		if o.Type == "relationship" {
			found = true
			if !strings.HasPrefix(o.SourceRef, "software--") || !strings.HasPrefix(o.TargetRef, "vulnerability--") || o.RelationshipType != "has" {
				t.Errorf("relationship %s %s %s", o.SourceRef, o.RelationshipType, o.TargetRef)
			}
		}
	}
	if !found {
		t.Fatal("no relationship written")
	}
	_, rels, err := Decode(raw)
	if err != nil || len(rels) != 1 || rels[0] != rel {
		t.Errorf("decoded %+v, %v; want %+v", rels, err, rel)
	}
}

// IDs names every STIX object an object is written as on its own, as
// Encode writes them; Key keys each.
func TestIDs(t *testing.T) {
	objs, _ := sample()
	for i := range objs {
		o := &objs[i]
		b, err := Encode([]intel.Object{*o}, nil)
		if err != nil {
			t.Fatal(err)
		}
		written := map[string]bool{}
		for _, s := range b.Objects {
			if !strings.HasPrefix(s.ID, "identity--") && !strings.HasPrefix(s.ID, "marking-definition--") && !strings.HasPrefix(s.ID, "extension-definition--") {
				written[s.ID] = true
			}
		}
		ids := IDs(o)
		if len(ids) != len(written) {
			t.Errorf("%s %s: IDs %v, written %v", o.Type, o.Value, ids, written)
		}
		for _, id := range ids {
			if !written[id] {
				t.Errorf("%s %s: id %s is not among those written", o.Type, o.Value, id)
			}
			if Key(id) == 0 {
				t.Errorf("Key(%s) = 0", id)
			}
		}
	}
	if Key("nonsense") != 0 || Key("indicator--nope") != 0 {
		t.Error("Key of what is not a STIX id")
	}
}
