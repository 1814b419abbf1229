package web

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/outlet"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/stix"
	"github.com/flintcti/flint/internal/store"
)

// The intelligence pages: search, an object, IOC lookup, vulnerabilities,
// CMDB matching. The filters are read by service.ObjectQuery and
// service.VulnQuery, by the names the API takes.

func (s *Server) intelRoutes() []route {
	return []route{
		{"GET /intel", auth.ReadIntel, s.search},
		{"GET /intel/objects/{id}", auth.ReadIntel, s.object},
		{"GET /intel/lookup", auth.ReadIntel, s.lookupPage},
		{"POST /intel/lookup", auth.ReadIntel, s.lookup},
		{"GET /vulns", auth.ReadIntel, s.vulns},
		{"GET /vulns/{id}", auth.ReadIntel, s.vuln},
		{"GET /cmdb", auth.ReadIntel, s.cmdbPage},
		{"POST /cmdb", auth.ReadIntel, s.cmdbMatch},
	}
}

// pageLen is how many results a search page lists.
const pageLen = 50

// given keeps the values a form sent that are not empty (an empty field
// is no filter).
func given(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		for _, x := range vs {
			if strings.TrimSpace(x) != "" {
				out.Add(k, x)
			}
		}
	}
	return out
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, v *visit) error {
	q := given(r.URL.Query())
	form := q // what the form shows; q is what is asked
	if val := q.Get("value"); strings.HasSuffix(val, "*") {
		// "198.51.*": the values that begin so (the index serves it).
		q = given(r.URL.Query())
		q.Del("value")
		q.Set("value_prefix", strings.TrimSuffix(val, "*"))
	}
	data := map[string]any{"Q": form, "Types": intel.Types(), "TLPs": []string{"none", "clear", "green", "amber", "amber+strict", "red"}}
	if err := s.runSearch(r, v, q, service.ObjectQuery, data); err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "intel", v, "Intelligence", data)
	return nil
}

// runSearch runs a search page's query, if it has one: its filters read
// by parse (the API's), a page of pageLen unless asked otherwise; the
// result, or the refused filters, go into data.
func (s *Server) runSearch(r *http.Request, v *visit, q url.Values, parse func(url.Values) (store.Query, error), data map[string]any) error {
	if len(q) == 0 {
		return nil
	}
	f := newForm()
	if !q.Has("limit") {
		q.Set("limit", strconv.Itoa(pageLen))
	}
	query, err := parse(q)
	if err == nil {
		var res store.Result
		if res, err = s.Service.Search(r.Context(), v.P, query); err == nil {
			data["Result"] = res
		}
	}
	if err != nil {
		if !refusable(err) {
			return err
		}
		f.refuse(err)
	}
	data["Form"] = f
	return nil
}

// nextURL is the search page after cursor, with the same filters.
func nextURL(path string, q url.Values, cursor string) string {
	n := url.Values{}
	for k, vs := range q {
		if k != "cursor" {
			n[k] = vs
		}
	}
	n.Set("cursor", cursor)
	return path + "?" + n.Encode()
}

func objectID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, intel.Errorf(intel.ENOTFOUND, "no object %q: ids are positive whole numbers", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) object(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := objectID(r)
	if err != nil {
		return err
	}
	o, err := s.Service.Object(r.Context(), v.P, id)
	if err != nil {
		return err
	}
	// Its STIX 2.1 form (a bundle with the objects it refers to).
	stixJSON := ""
	if b, err := stix.Encode([]intel.Object{o.Object}, nil); err == nil {
		if js, err := json.MarshalIndent(b, "", "  "); err == nil {
			stixJSON = string(js)
		}
	}
	s.render(w, r, http.StatusOK, "object", v, string(o.Type)+" "+o.Value, map[string]any{"O": o, "STIX": stixJSON})
	return nil
}

func (s *Server) lookupPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	s.render(w, r, http.StatusOK, "lookup", v, "IOC Lookup", map[string]any{})
	return nil
}

// maxLookup bounds the values one lookup takes from the form.
const maxLookup = 10000

func (s *Server) lookup(w http.ResponseWriter, r *http.Request, v *visit) error {
	text := r.PostFormValue("values")
	var values []string
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == ' ' || r == '\t' }) {
		if line = strings.TrimSpace(line); line != "" {
			values = append(values, line)
		}
	}
	data := map[string]any{"Values": text}
	if len(values) > maxLookup {
		data["Error"] = fmt.Sprintf("%d values: at most %d at once", len(values), maxLookup)
		s.render(w, r, http.StatusUnprocessableEntity, "lookup", v, "IOC Lookup", data)
		return nil
	}
	answers, err := s.Service.Lookup(r.Context(), v.P, values)
	if err != nil {
		if !refusable(err) {
			return err
		}
		data["Error"] = intel.ErrorMessage(err)
		s.render(w, r, http.StatusUnprocessableEntity, "lookup", v, "IOC Lookup", data)
		return nil
	}
	if r.PostFormValue("format") == "csv" {
		return writeCSV(w, "flint-lookup.csv", lookupCSV(answers))
	}
	data["Answers"] = answers
	s.render(w, r, http.StatusOK, "lookup", v, "IOC Lookup", data)
	return nil
}

func lookupCSV(answers []service.LookupAnswer) [][]string {
	rows := [][]string{{"value", "normalized", "known", "type", "score", "tlp", "confidence", "valid_until", "deprecated", "last_seen", "tags", "sources"}}
	for _, a := range answers {
		conf := ""
		if a.Confidence != nil {
			conf = strconv.Itoa(*a.Confidence)
		}
		var src []string
		for _, p := range a.Sources {
			src = append(src, p.Instance+"/"+p.Channel)
		}
		rows = append(rows, []string{a.Value, a.Normalized, strconv.FormatBool(a.Known), string(a.Type), string(a.Score), string(a.TLP), conf,
			csvTime(a.ValidUntil), strconv.FormatBool(a.Deprecated), csvTime(a.LastSeen), strings.Join(a.Tags, ";"), strings.Join(src, ";")})
	}
	return rows
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// writeCSV sends rows as a CSV download, each cell that a spreadsheet
// would read as a formula escaped (as the blocklists' CSV is).
func writeCSV(w http.ResponseWriter, name string, rows [][]string) error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	for i, row := range rows {
		if i > 0 {
			for j := range row {
				row[j] = outlet.EscapeCell(row[j])
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, err := w.Write(b.Bytes())
	return err
}

func (s *Server) vulns(w http.ResponseWriter, r *http.Request, v *visit) error {
	q := given(r.URL.Query())
	data := map[string]any{"Q": q, "Sorts": []string{"-cvss3", "cvss3", "-cvss4", "-cvss2", "-epss", "-published", "published"},
		"Severities": []string{"critical", "high", "medium", "low"}}
	if err := s.runSearch(r, v, q, service.VulnQuery, data); err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "vulns", v, "Vulnerabilities", data)
	return nil
}

func (s *Server) vuln(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := objectID(r)
	if err != nil {
		return err
	}
	vv, err := s.Service.Vulnerability(r.Context(), v.P, id)
	if err != nil {
		return err
	}
	var vectors []decodedVector
	for _, c := range []*intel.CVSS{vv.CVSSv4, vv.CVSSv3, vv.CVSSv2} {
		if c != nil {
			vectors = append(vectors, decodeVector(c))
		}
	}
	s.render(w, r, http.StatusOK, "vuln", v, vv.Value, map[string]any{"V": vv, "Vectors": vectors})
	return nil
}

func (s *Server) cmdbPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	s.render(w, r, http.StatusOK, "cmdb", v, "CMDB", map[string]any{})
	return nil
}

func (s *Server) cmdbMatch(w http.ResponseWriter, r *http.Request, v *visit) error {
	data := map[string]any{}
	fail := func(msg string) error {
		data["Error"] = msg
		s.render(w, r, http.StatusUnprocessableEntity, "cmdb", v, "CMDB", data)
		return nil
	}
	file, hdr, err := r.FormFile("file")
	if err != nil {
		return fail("Choose a CMDB file (CSV with a header row naming asset, vendor, product, version, cpe; or JSON).")
	}
	defer file.Close()
	raw, err := io.ReadAll(io.LimitReader(file, maxForm))
	if err != nil {
		return err
	}
	var assets []cmdb.Asset
	if t := bytes.TrimSpace(raw); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		var doc struct {
			Assets []cmdb.Asset `json:"assets"`
		}
		if t[0] == '[' {
			err = json.Unmarshal(t, &doc.Assets)
		} else {
			err = json.Unmarshal(t, &doc)
		}
		if err != nil {
			return fail(fmt.Sprintf("%s is not JSON of assets ({\"assets\": [{\"asset\", \"vendor\", \"product\", \"version\", \"cpe\"}]}): %v", hdr.Filename, err))
		}
		assets = doc.Assets
	} else if assets, err = cmdb.ParseCSV(bytes.NewReader(raw)); err != nil {
		if !refusable(err) {
			return err
		}
		return fail(intel.ErrorMessage(err))
	}
	m, err := s.Service.MatchCMDB(r.Context(), v.P, assets)
	if err != nil {
		if !refusable(err) {
			return err
		}
		return fail(intel.ErrorMessage(err))
	}
	if r.PostFormValue("format") == "csv" {
		rows := [][]string{{"asset", "vendor", "product", "version", "cpe", "vulnerability", "title", "severity", "cvss_v3", "how", "reason", "error"}}
		for _, res := range m.Results {
			a := res.Asset
			if len(res.Matches) == 0 {
				rows = append(rows, []string{a.Asset, a.Vendor, a.Product, a.Version, a.CPE, "", "", "", "", "", "", res.Error})
			}
			for _, x := range res.Matches {
				score := ""
				if x.CVSSv3 != nil {
					score = strconv.FormatFloat(*x.CVSSv3, 'f', 1, 64)
				}
				rows = append(rows, []string{a.Asset, a.Vendor, a.Product, a.Version, a.CPE, x.Value, x.Title, x.Severity, score, x.How, x.Reason, res.Error})
			}
		}
		return writeCSV(w, "flint-cmdb-matches.csv", rows)
	}
	data["Match"], data["File"] = m, hdr.Filename
	s.render(w, r, http.StatusOK, "cmdb", v, "CMDB", data)
	return nil
}
