package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Indicator field salts.
const (
	fType = iota + 1
	fScore
	fMalware
	fActor
	fSource
	fReport
	fMitre
	fOS
	fMD5
	fSHA1
	fWord1
	fWord2
	fZone
	fPath
	fQuirk
	fSightings
	fSource2
	fOrigin
)

var iocTypes = []string{"ipv4", "ipv6", "domain", "url", "file", "extracted_config"}
var scoreNames = []string{"informational", "suspicious", "malicious"}
var indicatorSorts = []string{"created_at:asc", "created_at:desc", "last_seen_at:asc", "last_seen_at:desc", "modified_at:asc", "modified_at:desc"}
var embedNames = []string{"all", "apt_description", "external_references", "malware_description", "mitre_attack_ids", "related_iocs"}

// firstSeenLead is how long before its grid time an indicator was first seen:
// created_at = grid - lead and last_seen_at = modified - lead, so sorting by
// last_seen_at equals sorting by modified_at.
const firstSeenLead = 10 * time.Minute

func (s *Server) indType(i int) string {
	r := pick(s.seed, dsInds, i, fType, 100)
	switch {
	case r < 35:
		return "ipv4"
	case r < 55:
		return "domain"
	case r < 70:
		return "url"
	case r < 88:
		return "file"
	case r < 94:
		return "ipv6"
	}
	return "extracted_config"
}

func (s *Server) indScore(i int) string {
	r := pick(s.seed, dsInds, i, fScore, 100)
	switch {
	case r < 8:
		return "no_score"
	case r < 30:
		return "informational"
	case r < 60:
		return "suspicious"
	}
	return "malicious"
}

func scoreRank(s string) int {
	switch s {
	case "informational":
		return 1
	case "suspicious":
		return 2
	case "malicious":
		return 3
	}
	return 0
}

// ipv4 pool: the documentation ranges, then 198.18.0.0/15 and 100.64.0.0/10,
// none of which is a real host. Values are unique for the first 4.3 million indexes.
var ipv4Pools = []struct {
	base netip.Addr
	size uint32
}{
	{netip.MustParseAddr("192.0.2.0"), 256},
	{netip.MustParseAddr("198.51.100.0"), 256},
	{netip.MustParseAddr("203.0.113.0"), 256},
	{netip.MustParseAddr("198.18.0.0"), 1 << 17},
	{netip.MustParseAddr("100.64.0.0"), 1 << 22},
}

const ipv4PoolSize = 768 + 1<<17 + 1<<22

func ipv4At(k uint32) string {
	k %= ipv4PoolSize
	for _, p := range ipv4Pools {
		if k < p.size {
			b := p.base.As4()
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			v += k
			return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
		}
		k -= p.size
	}
	return "192.0.2.1"
}

func (s *Server) domainOf(salt uint64, i int) string {
	w1 := words[pick(s.seed, salt, i, fWord1, len(words))]
	w2 := words[pick(s.seed, salt, i, fWord2, len(words))]
	zone := exampleZones[pick(s.seed, salt, i, fZone, len(exampleZones))]
	return w1 + "-" + w2 + base36(uint64(i)) + "." + zone
}

func (s *Server) indValue(i int) string {
	switch s.indType(i) {
	case "ipv4":
		return ipv4At(uint32(uint64(i) * 1000003 % ipv4PoolSize))
	case "ipv6":
		v := h(s.seed, dsInds, i, fWord1)
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(v >> 8), byte(v), byte(i >> 24), byte(i >> 16), 0, 0, 0, 0, byte(i >> 8), byte(i), byte(v >> 16), byte(v>>24) | 1}).String()
	case "domain":
		return s.domainOf(dsInds, i)
	case "url":
		p := paths[pick(s.seed, dsInds, i, fPath, len(paths))]
		f := fileNames[pick(s.seed, dsInds, i, fQuirk, len(fileNames))]
		return "https://" + s.domainOf(dsInds, i) + "/" + p + "/" + f
	case "file":
		return hexOf(s.seed, dsInds, i, 0x256, 32)
	}
	return s.configOf(i)
}

func (s *Server) configOf(i int) string {
	fam := pick(s.seed, dsInds, i, fMalware, len(malwareFamilies))
	cfg := map[string]string{
		"C2Server": s.domainOf(dsInds, i) + ",/" + paths[pick(s.seed, dsInds, i, fPath, len(paths))],
		"type":     malwareClass[fam],
		"BotnetID": base36(h(s.seed, dsInds, i, fWord2) % 1e9),
		"Family":   malwareFamilies[fam],
	}
	b, _ := json.Marshal(cfg)
	return string(b)
}

// indTags returns the tags an indicator carries as of clock, sighting by sighting.
func (s *Server) indSightingTags(i int, updated bool) [][]string {
	fam := pick(s.seed, dsInds, i, fMalware, len(malwareFamilies))
	src := sightSources[pick(s.seed, dsInds, i, fSource, len(sightSources))]
	first := []string{"malware:" + malwareFamilies[fam], "source:" + src, "type:" + malwareClass[fam]}
	if pick(s.seed, dsInds, i, fActor, 100) < 30 {
		first = append(first, "actor:"+strings.ToLower(strings.ReplaceAll(actors[pick(s.seed, dsInds, i, fActor+100, len(actors))], " ", "_")))
	}
	if pick(s.seed, dsInds, i, fOS, 100) < 50 {
		first = append(first, "os:"+oses[pick(s.seed, dsInds, i, fOS+100, len(oses))])
	}
	if r, ok := s.indReport(i); ok {
		first = append(first, "report:"+r)
	}
	switch s.indType(i) {
	case "extracted_config":
		first = append(first, "extracted_config:true")
	case "file":
		first = append(first, "file_type:exe")
	}
	out := [][]string{first}
	if updated {
		src2 := sightSources[pick(s.seed, dsInds, i, fSource2, len(sightSources))]
		out = append(out, []string{"malware:" + malwareFamilies[fam], "source:" + src2, "origin:" + origins[pick(s.seed, dsInds, i, fOrigin, len(origins))]})
	}
	return out
}

func (s *Server) indReport(i int) (string, bool) {
	if pick(s.seed, dsInds, i, fReport, 100) >= 6 {
		return "", false
	}
	return makeID(s.seed, dsReports, pick(s.seed, dsInds, i, fReport+100, s.cfg.Reports)), true
}

func (s *Server) indMitre(i int) []int {
	r := pick(s.seed, dsInds, i, fMitre, 100)
	if r >= 60 {
		return nil
	}
	a := pick(s.seed, dsInds, i, fMitre+1, len(mitre))
	if r < 25 {
		b := pick(s.seed, dsInds, i, fMitre+2, len(mitre))
		if b != a {
			return []int{a, b}
		}
	}
	return []int{a}
}

// indicatorQuery is a parsed list query.
type indicatorQuery struct {
	size, from                    int
	sortField                     string
	desc                          bool
	modAfter, modBefore           time.Time
	seenAfter, seenBefore         time.Time
	createdAfter, createdBefore   time.Time
	types                         map[string]bool
	value                         string
	exact                         bool
	cidr                          netip.Prefix
	minScore, maxScore            int
	tags, sources, actors, malwar []string
	mitreIDs                      []string
	hasReport, hasConfig          *bool
	embed                         map[string]bool
	totalCount                    bool
}

var indicatorParams = set("size", "from", "sort", "modified_after", "modified_before", "last_seen_after", "last_seen_before",
	"created_after", "created_before", "ioc_types", "ioc_value", "cidr_range", "min_score", "max_score", "tags", "sources",
	"actors", "malware", "mitre_attack_ids", "has_intel_report", "has_extracted_config", "embed", "include_total_count")

func (s *Server) parseIndicatorQuery(q url.Values, clock time.Time, paging bool) (*indicatorQuery, *validation) {
	v := &validation{}
	iq := &indicatorQuery{minScore: -1, maxScore: 99}
	for _, e := range v.enumList(q, "embed", embedNames) {
		if iq.embed == nil {
			iq.embed = map[string]bool{}
		}
		iq.embed[e] = true
	}
	if paging {
		limit := 1000
		if len(iq.embed) > 0 {
			limit = 500
		}
		iq.size = v.intParam(q, "size", 10, 1, limit)
		iq.from = v.intParam(q, "from", 0, 0, 1<<31-1)
	}
	iq.sortField, iq.desc = "last_seen_at", true
	if srt := q.Get("sort"); srt != "" {
		if vals := v.enumList(q, "sort", indicatorSorts); len(vals) == 1 {
			f, d, _ := strings.Cut(vals[0], ":")
			iq.sortField, iq.desc = f, d == "desc"
		}
	}
	if s.mode().IgnoreSort {
		iq.sortField, iq.desc = "last_seen_at", true
	}
	iq.modAfter = v.dateParam(q, "modified_after", clock)
	iq.modBefore = v.dateParam(q, "modified_before", clock)
	iq.seenAfter = v.dateParam(q, "last_seen_after", clock)
	iq.seenBefore = v.dateParam(q, "last_seen_before", clock)
	iq.createdAfter = v.dateParam(q, "created_after", clock)
	iq.createdBefore = v.dateParam(q, "created_before", clock)
	if iq.modAfter.IsZero() && iq.modBefore.IsZero() && iq.seenAfter.IsZero() && iq.seenBefore.IsZero() &&
		iq.createdAfter.IsZero() && iq.createdBefore.IsZero() {
		// docs/flashpoint-api.md §6.1: without a date filter only the last 30 days of last_seen_at are searched.
		iq.seenAfter = clock.AddDate(0, 0, -30)
	}
	if ts := v.enumList(q, "ioc_types", iocTypes); ts != nil {
		iq.types = map[string]bool{}
		for _, t := range ts {
			iq.types[t] = true
		}
	}
	if val := q.Get("ioc_value"); val != "" {
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			iq.value, iq.exact = strings.ToLower(val[1:len(val)-1]), true
		} else {
			iq.value = strings.ToLower(val)
		}
	}
	if c := q.Get("cidr_range"); c != "" {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			v.add("cidr_range", "Input should be a valid IPv4 or IPv6 network", c)
		}
		iq.cidr = p.Masked()
	}
	if m := v.enumList(q, "min_score", scoreNames); len(m) == 1 {
		iq.minScore = scoreRank(m[0])
	}
	if m := v.enumList(q, "max_score", scoreNames); len(m) == 1 {
		iq.maxScore = scoreRank(m[0])
	}
	iq.tags = list(q, "tags")
	iq.sources = prefixed(list(q, "sources"), "source:")
	iq.actors = prefixed(list(q, "actors"), "actor:")
	iq.malwar = prefixed(list(q, "malware"), "malware:")
	iq.mitreIDs = list(q, "mitre_attack_ids")
	iq.hasReport = v.boolParam(q, "has_intel_report")
	iq.hasConfig = v.boolParam(q, "has_extracted_config")
	if b := v.boolParam(q, "include_total_count"); b != nil {
		iq.totalCount = *b
	}
	return iq, v
}

func prefixed(vals []string, prefix string) []string {
	for i, v := range vals {
		if !strings.HasPrefix(strings.ToLower(v), prefix) {
			vals[i] = prefix + v
		}
		vals[i] = strings.ToLower(vals[i])
	}
	return vals
}

// cursor returns the items matching iq in its order.
func (s *Server) indicatorCursor(iq *indicatorQuery, clock time.Time) cursor {
	tl := s.indsTL
	lo, hi := laterOf(iq.modAfter, shift(iq.seenAfter, firstSeenLead)), earlierOf(iq.modBefore, shift(iq.seenBefore, firstSeenLead))
	var base cursor
	if iq.sortField == "created_at" {
		first, last := 0, tl.count(clock)-1
		if !iq.createdAfter.IsZero() {
			first = tl.pos(iq.createdAfter.Add(firstSeenLead))
		}
		base = newIndexCursor(first, last, iq.desc)
	} else {
		base = newModCursor(tl, clock, lo, hi, iq.desc)
	}
	return &filterCursor{c: base, pred: func(i int) bool { return s.indicatorMatches(iq, i, clock, lo, hi) }}
}

func shift(t time.Time, d time.Duration) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(d)
}

func laterOf(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.After(a)) {
		return b
	}
	return a
}

func earlierOf(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func (s *Server) indicatorMatches(iq *indicatorQuery, i int, clock, lo, hi time.Time) bool {
	tl := s.indsTL
	if iq.sortField == "created_at" {
		m := tl.modified(i, clock)
		if (!lo.IsZero() && m.Before(lo)) || (!hi.IsZero() && !m.Before(hi)) {
			return false
		}
	}
	created := tl.created(i).Add(-firstSeenLead)
	if (!iq.createdAfter.IsZero() && created.Before(iq.createdAfter)) || (!iq.createdBefore.IsZero() && !created.Before(iq.createdBefore)) {
		return false
	}
	typ := s.indType(i)
	if iq.types != nil && !iq.types[typ] {
		return false
	}
	if iq.minScore >= 0 || iq.maxScore < 99 {
		r := scoreRank(s.indScore(i))
		if r < iq.minScore || r > iq.maxScore {
			return false
		}
	}
	if iq.hasConfig != nil && (typ == "extracted_config") != *iq.hasConfig {
		return false
	}
	if iq.hasReport != nil {
		if _, ok := s.indReport(i); ok != *iq.hasReport {
			return false
		}
	}
	if len(iq.mitreIDs) > 0 {
		found := false
		for _, m := range s.indMitre(i) {
			for _, want := range iq.mitreIDs {
				if strings.EqualFold(mitre[m].id, want) {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	if len(iq.tags) > 0 || len(iq.sources) > 0 || len(iq.actors) > 0 || len(iq.malwar) > 0 {
		have := map[string]bool{}
		for _, st := range s.indSightingTags(i, tl.updated(i, clock)) {
			for _, t := range st {
				have[strings.ToLower(t)] = true
			}
		}
		for _, group := range [][]string{iq.tags, iq.sources, iq.actors, iq.malwar} {
			if len(group) == 0 {
				continue
			}
			ok := false
			for _, t := range group {
				if have[strings.ToLower(t)] {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
	}
	if iq.cidr.IsValid() {
		if typ != "ipv4" && typ != "ipv6" {
			return false
		}
		a, err := netip.ParseAddr(s.indValue(i))
		if err != nil || !iq.cidr.Contains(a) {
			return false
		}
	}
	if iq.value != "" {
		val := strings.ToLower(s.indValue(i))
		if iq.exact && val != iq.value || !iq.exact && !strings.Contains(val, iq.value) {
			return false
		}
	}
	return true
}

// Wire types: what the simulator writes. Kept separate from the client's
// types so that a test of one against the other means something.
type wireScore struct {
	Value        string  `json:"value"`
	LastScoredAt *string `json:"last_scored_at"`
	RawScore     *int    `json:"raw_score,omitempty"`
}

type wireMitre struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Tactics []string `json:"tactics"`
}

type wireRelated struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Value string `json:"value"`
	Href  string `json:"href"`
}

type wireSighting struct {
	ID                 string        `json:"id"`
	Href               string        `json:"href"`
	Source             string        `json:"source"`
	SightedAt          string        `json:"sighted_at"`
	Tags               []string      `json:"tags"`
	Description        string        `json:"description"`
	RelatedIOCs        []wireRelated `json:"related_iocs,omitempty"`
	MitreAttackIDs     []wireMitre   `json:"mitre_attack_ids,omitempty"`
	APTDescription     string        `json:"apt_description,omitempty"`
	MalwareDescription string        `json:"malware_description,omitempty"`
}

type wireIndicator struct {
	ID                 string            `json:"id"`
	Type               string            `json:"type"`
	Value              any               `json:"value"`
	Href               string            `json:"href"`
	EntityType         string            `json:"entity_type"`
	Score              any               `json:"score"`
	ModifiedAt         string            `json:"modified_at"`
	CreatedAt          string            `json:"created_at"`
	LastSeenAt         string            `json:"last_seen_at"`
	SortDate           string            `json:"sort_date"`
	PlatformURLs       map[string]string `json:"platform_urls"`
	Hashes             map[string]any    `json:"hashes,omitempty"`
	Sightings          any               `json:"sightings"`
	LatestSighting     *wireSighting     `json:"latest_sighting,omitempty"`
	TotalSightings     any               `json:"total_sightings"`
	APTDescription     string            `json:"apt_description,omitempty"`
	MalwareDescription string            `json:"malware_description,omitempty"`
	MitreAttackIDs     []wireMitre       `json:"mitre_attack_ids,omitempty"`
	ExternalReferences []map[string]any  `json:"external_references,omitempty"`
	Relationships      map[string]any    `json:"relationships,omitempty"`
	HistoricalTags     []string          `json:"historical_tags,omitempty"`
	Reports            []map[string]any  `json:"reports,omitempty"`
}

func (s *Server) indicator(i int, clock time.Time, base string, embed map[string]bool, detail bool) *wireIndicator {
	tl := s.indsTL
	id := makeID(s.seed, dsInds, i)
	typ := s.indType(i)
	updated := tl.updated(i, clock)
	modified := tl.modified(i, clock)
	created := tl.created(i).Add(-firstSeenLead)
	lastSeen := modified.Add(-firstSeenLead)
	quirk := pick(s.seed, dsInds, i, fQuirk, 100)
	ts := fmtTime
	if quirk < 2 {
		ts = fmtSec // some records carry whole seconds
	}
	fam := pick(s.seed, dsInds, i, fMalware, len(malwareFamilies))
	all := embed["all"]
	w := &wireIndicator{
		ID: id, Type: typ, Value: s.indValue(i), Href: base + "/technical-intelligence/v2/indicators/" + id,
		EntityType: "indicator",
		ModifiedAt: ts(modified), CreatedAt: ts(created), LastSeenAt: ts(lastSeen), SortDate: ts(lastSeen),
		PlatformURLs: map[string]string{"ignite": "https://app.flashpoint.io/cti/malware/iocs/" + id},
	}
	score := s.indScore(i)
	sc := wireScore{Value: score}
	if score != "no_score" {
		t := fmtTime(modified.Add(-time.Second))
		sc.LastScoredAt = &t
		zero := 0
		sc.RawScore = &zero
	}
	w.Score = sc
	switch typ {
	case "file":
		hs := map[string]any{"sha256": w.Value, "md5": nil, "sha1": nil}
		if pick(s.seed, dsInds, i, fMD5, 100) < 70 {
			hs["md5"] = hexOf(s.seed, dsInds, i, 0x5d5, 16)
		}
		if pick(s.seed, dsInds, i, fSHA1, 100) < 80 {
			hs["sha1"] = hexOf(s.seed, dsInds, i, 0x5a1, 20)
		}
		w.Hashes = hs
	case "extracted_config":
		w.Hashes = map[string]any{"sha256": hexOf(s.seed, dsInds, i, 0xc0f, 32), "md5": hexOf(s.seed, dsInds, i, 0xc05, 16)}
	}
	var mitreIDs []wireMitre
	for _, m := range s.indMitre(i) {
		mitreIDs = append(mitreIDs, wireMitre{ID: mitre[m].id, Name: mitre[m].name, Tactics: []string{mitre[m].tactic}})
	}
	malDesc := fmt.Sprintf("<p>%q is a %s tracked by Flashpoint.</p>", malwareFamilies[fam], malwareClass[fam])
	apt := "N/A"
	if pick(s.seed, dsInds, i, fActor, 100) < 30 {
		apt = "<p>" + actors[pick(s.seed, dsInds, i, fActor+100, len(actors))] + " is a financially motivated threat actor.</p>"
	}
	var related []wireRelated
	if i > 0 && (all || embed["related_iocs"]) {
		j := pick(s.seed, dsInds, i, fSightings+7, i)
		rid := makeID(s.seed, dsInds, j)
		related = []wireRelated{{ID: rid, Type: s.indType(j), Value: s.indValue(j), Href: base + "/technical-intelligence/v2/indicators/" + rid}}
	}
	tagSets := s.indSightingTags(i, updated)
	var sightings []wireSighting
	for k, tags := range tagSets {
		sid := makeID(s.seed, dsInds^0xabc, i*4+k)
		at := created
		if k > 0 {
			at = lastSeen
		}
		src := strings.TrimPrefix(tags[1], "source:")
		sg := wireSighting{
			ID: sid, Href: base + "/technical-intelligence/v2/sightings/" + sid, Source: src, SightedAt: ts(at), Tags: tags,
			Description: fmt.Sprintf("Observation: %s [%s]", malwareFamilies[fam], at.UTC().Format("2006-01-02T15:04:05.000Z")),
		}
		if all || embed["related_iocs"] {
			sg.RelatedIOCs = related
		}
		if all || embed["mitre_attack_ids"] {
			sg.MitreAttackIDs = mitreIDs
		}
		if all || embed["apt_description"] {
			sg.APTDescription = apt
		}
		if all || embed["malware_description"] {
			sg.MalwareDescription = malDesc
		}
		sightings = append(sightings, sg)
	}
	w.Sightings = sightings
	latest := sightings[len(sightings)-1]
	w.LatestSighting = &latest
	total := len(sightings) + pick(s.seed, dsInds, i, fSightings, 40)
	w.TotalSightings = total
	if quirk >= 2 && quirk < 5 {
		w.TotalSightings = strconv.Itoa(total) // a number sent as a string
	}
	if all || embed["mitre_attack_ids"] {
		w.MitreAttackIDs = mitreIDs
	}
	if all || embed["apt_description"] {
		w.APTDescription = apt
	}
	if all || embed["malware_description"] {
		w.MalwareDescription = malDesc
	}
	rep, hasReport := s.indReport(i)
	if all || embed["external_references"] {
		w.ExternalReferences = []map[string]any{{"source_name": "MITRE ATT&CK", "url": "https://attack.mitre.org/software/"}}
		if hasReport {
			w.ExternalReferences = append(w.ExternalReferences, map[string]any{"source_name": "Flashpoint", "url": base + "/finished-intelligence/v1/reports/" + rep})
		}
	}
	if (all || embed["related_iocs"]) && related != nil {
		w.Relationships = map[string]any{"iocs": related}
	}
	if detail {
		for _, t := range tagSets {
			w.HistoricalTags = append(w.HistoricalTags, t...)
		}
		if hasReport {
			w.Reports = []map[string]any{{"html": "https://app.flashpoint.io/cti/intelligence/report/" + rep, "json": base + "/finished-intelligence/v1/reports/" + rep}}
		}
	}
	return w
}

func (s *Server) listIndicators(w http.ResponseWriter, r *http.Request, _ Token, f *Fault) {
	clock, ver := s.snapshot()
	q := r.URL.Query()
	s.noteUnknown(EPIndicators, q, indicatorParams)
	iq, v := s.parseIndicatorQuery(q, clock, true)
	if v.write(w) {
		return
	}
	key := queryKey(EPIndicators, ver, q, "from", "size")
	build := func() cursor { return s.indicatorCursor(iq, clock) }
	if s.mode().UnstableOrder {
		build = func() cursor { return s.shuffled(key, ver, s.indicatorCursor(iq, clock)) }
	}
	idx, more := s.resume.page(key, iq.from, s.pageLen(iq.size), build)
	base := baseURL(r)
	items := make([]*wireIndicator, len(idx))
	for k, i := range idx {
		items[k] = s.indicator(i, clock, base, iq.embed, false)
	}
	if f != nil && f.Conflict && len(items) > 0 {
		items[0].Sightings = "unavailable" // wrong JSON type: a list was expected
		items[0].Score = 3
	}
	var next, prev any
	if more {
		next = nextLink(r, iq.from+len(idx), iq.size)
	}
	if iq.from > 0 {
		prev = nextLink(r, max(iq.from-iq.size, 0), iq.size)
	}
	var total any
	if iq.totalCount && !s.mode().NoTotal {
		total = s.counts.get(key, build)
	}
	body, err := json.Marshal(map[string]any{"items": items, "total": total, "pagination": map[string]any{"next": next, "prev": prev}})
	if err != nil {
		writeJSON(w, 500, problem(500))
		return
	}
	writeBody(w, nil, body, f)
}

func (s *Server) getIndicator(w http.ResponseWriter, r *http.Request, _ Token, f *Fault) {
	clock, _ := s.snapshot()
	i, ok := parseID(s.seed, dsInds, r.PathValue("id"))
	if !ok || i >= s.indsTL.count(clock) {
		writeJSON(w, http.StatusNotFound, problem(404))
		return
	}
	v := &validation{}
	v.intParam(r.URL.Query(), "sighting_count", 100, 1, 1000)
	if v.write(w) {
		return
	}
	body, _ := json.Marshal(s.indicator(i, clock, baseURL(r), map[string]bool{"all": true}, true))
	writeBody(w, nil, body, f)
}

// indicatorTruth lists every id matching q, ignoring paging.
func (s *Server) indicatorTruth(q url.Values) (Truth, error) {
	clock, _ := s.snapshot()
	iq, v := s.parseIndicatorQuery(q, clock, false)
	if len(v.errs) > 0 {
		return Truth{}, fmt.Errorf("invalid query: %v", v.errs)
	}
	return collect(s.indicatorCursor(iq, clock), func(i int) string { return makeID(s.seed, dsInds, i) }), nil
}
