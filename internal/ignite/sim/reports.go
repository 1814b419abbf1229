package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Report field salts.
const (
	rTopic = iota + 200
	rSubject
	rFeatured
	rActors
	rSources
	rAssets
	rEvents
	rAttrs
	rAttrKind
	rQuirk
)

var reportParams = set("limit", "skip", "since", "updated_since", "sort", "query", "embed")
var reportSorts = []string{"updated_at", "posted_at"}

func (s *Server) reportTitle(i int) string {
	t := reportTopics[pick(s.seed, dsReports, i, rTopic, len(reportTopics))]
	subj := reportSubjects[pick(s.seed, dsReports, i, rSubject, len(reportSubjects))]
	return fmt.Sprintf(t.title, subj)
}

func (s *Server) reportFeatured(i int) bool { return pick(s.seed, dsReports, i, rFeatured, 100) < 15 }

func (s *Server) report(i int, clock time.Time, base string) map[string]any {
	tl := s.reportsTL
	id := makeID(s.seed, dsReports, i)
	topic := reportTopics[pick(s.seed, dsReports, i, rTopic, len(reportTopics))]
	subj := reportSubjects[pick(s.seed, dsReports, i, rSubject, len(reportSubjects))]
	posted := tl.created(i)
	updated := tl.modified(i, clock)
	title := s.reportTitle(i)
	if tl.updated(i, clock) {
		title += " (Updated " + updated.Format("1/2") + ")"
	}
	tags := append(strings.Split(topic.tags, ","), subj)
	var actorList []string
	switch n := pick(s.seed, dsReports, i, rActors, 10); {
	case n < 1:
		actorList = []string{""} // seen in real data
	case n < 5:
		actorList = []string{}
	default:
		actorList = []string{actors[pick(s.seed, dsReports, i, rActors+1, len(actors))]}
	}
	var sources []map[string]any
	for k := 0; k <= pick(s.seed, dsReports, i, rSources, 2); k++ {
		sources = append(sources, map[string]any{"original": fmt.Sprintf("https://news.example.net/%d/%s-%d", posted.Year(), words[pick(s.seed, dsReports, i, rSources+1+uint64(k), len(words))], i),
			"platform_url": nil, "source": nil, "source_id": nil, "type": "External", "title": ""})
	}
	var assets, assetIDs []string
	for k := 0; k < pick(s.seed, dsReports, i, rAssets, 3); k++ {
		a := makeID(s.seed, dsReports^0xa55e7, i*4+k)
		assets, assetIDs = append(assets, "/assets/"+a), append(assetIDs, a)
	}
	titleAsset := makeID(s.seed, dsReports^0xa55e7, i*4+3)
	var body strings.Builder
	body.WriteString("<html><head></head><body><h2>Key Findings</h2>")
	fmt.Fprintf(&body, "<p>Flashpoint analysts observed activity relevant to %s.</p>", subj)
	for body.Len() < s.cfg.ReportBodyBytes {
		fmt.Fprintf(&body, "<p>%s %s %s observed on forums and chat services; see the indicators attached to this report.</p>",
			words[body.Len()%len(words)], words[(body.Len()/7)%len(words)], words[(body.Len()/13)%len(words)])
	}
	body.WriteString("</body></html>")
	summary := ""
	if pick(s.seed, dsReports, i, rQuirk, 100) >= 20 {
		summary = "Flashpoint analysts assess developments concerning " + subj + "."
	}
	return map[string]any{
		"id": id, "actors": actorList, "google_document_id": hexOf(s.seed, dsReports, i, 0x90d, 20) + "::" + strconv.FormatInt(posted.Unix(), 10),
		"title": title, "summary": summary, "tags": tags, "body": body.String(),
		"title_asset": "/assets/" + titleAsset, "title_asset_id": titleAsset, "assets": nonNil(assets), "asset_ids": nonNil(assetIDs),
		"sources": sources, "is_featured": s.reportFeatured(i),
		"ingested_at": fmtMilliOffset(posted), "posted_at": fmtMilliOffset(posted),
		"platform_url": "https://app.flashpoint.io/cti/intelligence/report/" + id,
		"notified_at":  fmtMilliOffset(posted.Add(2 * time.Minute)), "updated_at": fmtMilliOffset(updated),
		"version_posted_at": fmtMilliOffset(updated), "published_status": "published",
	}
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

type reportQuery struct {
	limit, skip int
	since       time.Time
	sortField   string
	desc        bool
	text        string
}

// parseReportQuery answers 400 {"detail"} on a bad parameter, as the reports
// API does (a date with +00:00 included).
func (s *Server) parseReportQuery(q url.Values, clock time.Time, paging bool) (*reportQuery, string) {
	rq := &reportQuery{limit: 10, sortField: "posted_at", desc: true}
	if paging {
		for _, p := range []struct {
			name   string
			dst    *int
			lo, hi int
		}{{"limit", &rq.limit, 1, 1000}, {"skip", &rq.skip, 0, 1 << 30}} {
			if v := q.Get(p.name); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < p.lo || n > p.hi {
					return nil, fmt.Sprintf("Invalid value for '%s': expected an integer between %d and %d", p.name, p.lo, p.hi)
				}
				*p.dst = n
			}
		}
	}
	for _, name := range []string{"since", "updated_since"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		t, err := parseDate(v, clock, true)
		if err != nil {
			return nil, fmt.Sprintf("Invalid value for '%s': expected format YYYY-MM-DDTHH:MM:SSZ", name)
		}
		rq.since = laterOf(rq.since, t)
	}
	if srt := q.Get("sort"); srt != "" {
		f, d, _ := strings.Cut(srt, ":")
		ok := false
		for _, a := range reportSorts {
			ok = ok || a == f
		}
		if !ok || (d != "" && d != "asc" && d != "desc") {
			return nil, fmt.Sprintf("Invalid value for 'sort': %q; expected updated_at or posted_at with :asc or :desc", srt)
		}
		rq.sortField, rq.desc = f, d == "desc"
	}
	if s.mode().IgnoreSort {
		rq.sortField, rq.desc = "posted_at", true
	}
	rq.text = strings.ToLower(q.Get("query"))
	return rq, ""
}

func (s *Server) reportCursor(rq *reportQuery, clock time.Time) cursor {
	tl := s.reportsTL
	var base cursor
	if rq.sortField == "updated_at" {
		base = newModCursor(tl, clock, rq.since, time.Time{}, rq.desc)
	} else {
		base = newIndexCursor(0, tl.count(clock)-1, rq.desc)
	}
	return &filterCursor{c: base, pred: func(i int) bool {
		if !rq.since.IsZero() && tl.modified(i, clock).Before(rq.since) {
			return false
		}
		if rq.text != "" && !strings.Contains(strings.ToLower(s.reportTitle(i)), rq.text) {
			return false
		}
		return true
	}}
}

func (s *Server) listReports(w http.ResponseWriter, r *http.Request, _ Token, f *Fault) {
	clock, ver := s.snapshot()
	q := r.URL.Query()
	s.noteUnknown(EPReports, q, reportParams)
	rq, msg := s.parseReportQuery(q, clock, true)
	if msg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": msg})
		return
	}
	key := queryKey(EPReports, ver, q, "limit", "skip")
	build := func() cursor { return s.reportCursor(rq, clock) }
	if s.mode().UnstableOrder {
		build = func() cursor { return s.shuffled(key, ver, s.reportCursor(rq, clock)) }
	}
	idx, _ := s.resume.page(key, rq.skip, s.pageLen(rq.limit), build)
	var total any = s.counts.get(key, build)
	if s.mode().NoTotal {
		total = nil
	}
	data := make([]map[string]any, len(idx))
	base := baseURL(r)
	for k, i := range idx {
		data[k] = s.report(i, clock, base)
	}
	if f != nil && f.Conflict && len(data) > 0 {
		data[0]["tags"] = "Ransomware" // a string where a list belongs
		data[0]["is_featured"] = map[string]any{}
	}
	body, _ := json.Marshal(map[string]any{"total": total, "limit": rq.limit, "count": len(data), "skip": rq.skip, "data": data})
	writeBody(w, nil, body, f)
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request, _ Token, f *Fault) {
	clock, _ := s.snapshot()
	i, ok := parseID(s.seed, dsReports, r.PathValue("id"))
	if !ok || i >= s.reportsTL.count(clock) {
		writeJSON(w, http.StatusNotFound, problem(404))
		return
	}
	body, _ := json.Marshal(s.report(i, clock, baseURL(r)))
	writeBody(w, nil, body, f)
}

// Events: each report has one to three MISP events whose attributes point at
// indicators of the indicators dataset (and a few MISP types Flint does not map).
func (s *Server) reportEventCount(i int) int { return 1 + pick(s.seed, dsReports, i, rEvents, 3) }

func (s *Server) event(report, j int, base string) map[string]any {
	reportTime := s.reportsTL.created(report)
	ts := reportTime.Add(time.Duration(j) * time.Minute)
	epoch := strconv.FormatInt(ts.Unix(), 10)
	fpid := makeID(s.seed, dsEvents, report*8+j)
	nAttrs := 1 + pick(s.seed, dsEvents, report*8+j, rAttrs, 5)
	fam := pick(s.seed, dsEvents, report*8+j, fMalware, len(malwareFamilies))
	var attrs []map[string]any
	var attackIDs []string
	for k := 0; k < nAttrs; k++ {
		n := report*64 + j*8 + k
		typ, val := s.attribute(n)
		aid := makeID(s.seed, dsEvents^0xa77, n)
		category := "Network activity"
		switch typ {
		case "md5", "sha1", "sha256", "filename", "ssdeep":
			category = "Payload delivery"
		case "mutex", "regkey":
			category = "Artifacts dropped"
		}
		attrs = append(attrs, map[string]any{
			"Galaxy": []any{}, "category": category, "comment": "", "first_seen": nil, "last_seen": nil,
			"fpid": aid, "href": base + "/technical-intelligence/v1/attribute/" + aid, "timestamp": epoch,
			"type": typ, "uuid": uuidOf(s.seed, dsEvents^0xa77, n), "value": map[string]string{typ: val, "comment": ""},
		})
	}
	m := mitre[pick(s.seed, dsEvents, report*8+j, fMitre, len(mitre))]
	attackIDs = append(attackIDs, m.id)
	tag := func(name string, galaxy bool) map[string]any {
		return map[string]any{"is_custom_galaxy": false, "is_galaxy": galaxy, "local": 0, "local_only": false, "name": name, "numerical_value": nil}
	}
	return map[string]any{
		"Event": map[string]any{
			"Attribute": attrs, "CryptographicKey": []any{}, "EventReport": []any{}, "Object": []any{},
			"Tag": []any{tag("malware:"+malwareFamilies[fam], false), tag("source:flashpoint_analyst", false), tag("mitre:"+m.id, false),
				tag("type:"+malwareClass[fam], false), tag(fmt.Sprintf("misp-galaxy:mitre-enterprise-attack-attack-pattern=%q", m.name+" - "+m.id), true)},
			"attribute_count": strconv.Itoa(nAttrs), "total_attributes": nAttrs, "benign_attributes_found": 0,
			"date": ts.UTC().Format(time.DateOnly), "event_creator_email": "info@flashpoint-intel.com",
			"info":      fmt.Sprintf("Observation: %s [%s]", malwareFamilies[fam], ts.UTC().Format(time.DateTime)),
			"protected": nil, "publish_timestamp": strconv.FormatInt(ts.Unix()+7, 10), "timestamp": epoch,
			"uuid": uuidOf(s.seed, dsEvents, report*8+j),
		},
		"attack_ids": attackIDs, "basetypes": []string{"indicator"}, "fpid": fpid,
		"header_": map[string]any{"indexed_at": ts.Unix() + 60, "ingested_at": ts.Unix() + 13, "is_visible": true,
			"observed_at": ts.Unix() + 13, "pipeline_duration": 46000000000, "source": "urn:fp:component:exporter"},
		"href": base + "/technical-intelligence/v1/event/" + fpid, "malware_description": fmt.Sprintf("<p>%q is a %s.</p>", malwareFamilies[fam], malwareClass[fam]),
	}
}

// attribute picks an indicator of the indicators dataset (or an unmapped
// MISP type) for attribute number n.
func (s *Server) attribute(n int) (typ, val string) {
	if pick(s.seed, dsEvents, n, rAttrKind, 100) < 8 {
		if pick(s.seed, dsEvents, n, rAttrKind+1, 2) == 0 {
			return "mutex", "Global\\" + words[pick(s.seed, dsEvents, n, fWord1, len(words))] + "-" + base36(uint64(n))
		}
		return "email-src", "billing@" + s.domainOf(dsEvents, n)
	}
	i := pick(s.seed, dsEvents, n, rAttrKind+2, s.cfg.Indicators)
	v := s.indValue(i)
	switch s.indType(i) {
	case "ipv4":
		if n%2 == 0 {
			return "ip-dst|port", v + "|" + strconv.Itoa(443+n%5000)
		}
		return "ip-dst", v
	case "ipv6":
		return "ip-src", v
	case "domain":
		return "domain", v
	case "url":
		return "url", v
	case "file":
		return "sha256", v
	}
	return "filename", fileNames[n%len(fileNames)]
}

func uuidOf(seed, salt uint64, i int) string {
	x := hexOf(seed, salt, i, 0x0d1d, 16)
	return x[:8] + "-" + x[8:12] + "-4" + x[13:16] + "-a" + x[17:20] + "-" + x[20:32]
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, _ Token, f *Fault) {
	clock, _ := s.snapshot()
	q := r.URL.Query()
	s.noteUnknown(EPEvents, q, set("report", "limit", "skip", "sort_timestamp", "attack_ids"))
	v := &validation{}
	limit := v.intParam(q, "limit", 10, 1, 10000)
	skip := v.intParam(q, "skip", 0, 0, 1<<30)
	order := v.enumList(q, "sort_timestamp", []string{"asc", "desc"})
	if q.Get("report") == "" {
		v.add("report", "Field required", "")
	}
	if v.write(w) {
		return
	}
	ri, ok := parseID(s.seed, dsReports, q.Get("report"))
	var events []map[string]any
	if ok && ri < s.reportsTL.count(clock) {
		n := s.reportEventCount(ri)
		desc := len(order) == 0 || order[0] == "desc"
		for k := skip; k < min(skip+limit, n); k++ {
			j := k
			if desc {
				j = n - 1 - k
			}
			events = append(events, s.event(ri, j, baseURL(r)))
		}
		w.Header().Set("X-Fp-Total-Hits", strconv.Itoa(n))
	} else {
		w.Header().Set("X-Fp-Total-Hits", "0")
	}
	if events == nil {
		events = []map[string]any{}
	}
	if f != nil && f.Conflict && len(events) > 0 {
		events[0]["Event"] = []any{"conflict"}
	}
	body, _ := json.Marshal(events)
	writeBody(w, nil, body, f)
}

// Truth lists every id a query matches in the endpoint's order, ignoring
// paging: dataset is reports, vulnerabilities, indicators or events.
func (s *Server) Truth(dataset string, q url.Values) (Truth, error) {
	switch dataset {
	case DatasetIndicators:
		return s.indicatorTruth(q)
	case DatasetVulnerabilities:
		return s.vulnTruth(q)
	case DatasetReports:
		clock, _ := s.snapshot()
		rq, msg := s.parseReportQuery(q, clock, false)
		if msg != "" {
			return Truth{}, fmt.Errorf("%s", msg)
		}
		return collect(s.reportCursor(rq, clock), func(i int) string { return makeID(s.seed, dsReports, i) }), nil
	case "events":
		clock, _ := s.snapshot()
		ri, ok := parseID(s.seed, dsReports, q.Get("report"))
		t := Truth{IDs: []string{}}
		if ok && ri < s.reportsTL.count(clock) {
			for j := 0; j < s.reportEventCount(ri); j++ {
				t.IDs = append(t.IDs, makeID(s.seed, dsEvents, ri*8+j))
			}
		}
		t.Count = len(t.IDs)
		return t, nil
	}
	return Truth{}, fmt.Errorf("unknown dataset %q: want reports, vulnerabilities, indicators or events", dataset)
}

// collect drains c into a Truth, naming each item with id.
func collect(c cursor, id func(int) string) Truth {
	t := Truth{IDs: []string{}}
	for {
		i, ok := c.next()
		if !ok {
			break
		}
		t.IDs = append(t.IDs, id(i))
	}
	t.Count = len(t.IDs)
	return t
}
