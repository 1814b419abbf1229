package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/web"
)

// ConsoleConfig configures the console benchmark.
type ConsoleConfig struct {
	Indicators      int
	Vulnerabilities int
	Requests        int // timed requests per page
	Keep            bool
}

// ConsolePage is one page's figures.
type ConsolePage struct {
	Page  string  `json:"page"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	Bytes int     `json:"bytes"`
}

// ConsoleResult is what the console benchmark measures.
type ConsoleResult struct {
	Indicators      int           `json:"indicators"`
	Vulnerabilities int           `json:"vulnerabilities"`
	Pages           []ConsolePage `json:"pages"`
}

var benchCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Console measures the console's pages over loopback HTTP on a store of
// indicators and vulnerabilities: each page requested Requests times by a
// signed-in admin, after one warming request; the time is the client's,
// from request to the last byte (the server's time and loopback's).
func Console(ctx context.Context, c ConsoleConfig, env Env) (ConsoleResult, error) {
	res := ConsoleResult{Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities}
	dsn, _, cleanup, err := env.tempDB("console", c.Keep)
	if err != nil {
		return res, err
	}
	defer cleanup()
	s, err := store.Open(ctx, store.Options{DSN: dsn, Logger: env.Log})
	if err != nil {
		return res, err
	}
	defer s.Close()
	if n, err := s.Count(ctx, store.Query{}); err == nil && n == 0 {
		env.progress("loading %d indicators and %d vulnerabilities", c.Indicators, c.Vulnerabilities)
		if _, err := Store(ctx, s, StoreConfig{Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities, Lookups: 1}, env); err != nil {
			return res, err
		}
	}
	box, err := secret.New([]byte(rand.Text() + rand.Text())[:32])
	if err != nil {
		return res, err
	}
	svc := &service.Service{Store: s, Seal: func(id int64, token string) ([]byte, error) {
		return box.Seal([]byte(token), secret.InstanceAD(id))
	}}
	op := auth.Operator("bench")
	if _, err := s.Instance(ctx, "bench"); err != nil {
		settings := map[feed.Kind]feed.Settings{}
		for _, k := range feed.Kinds() {
			settings[k] = feed.DefaultSettings("bench", k, time.Now())
		}
		if _, err := s.CreateInstance(ctx, feed.Instance{Name: "bench", BaseURL: feed.DefaultBaseURL, VerifyTLS: true}, "bench-token-1234", svc.Seal, settings); err != nil {
			return res, err
		}
	}
	pw := "bench console password"
	if _, err := svc.CreateUser(ctx, op, service.UserInput{Name: "bench", Role: string(auth.Admin), Password: pw}); err != nil && intel.ErrorCode(err) != intel.ECONFLICT {
		return res, err
	}
	srv := httptest.NewServer((&web.Server{Service: svc}).Handler())
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: time.Minute}
	if _, err := client.PostForm(srv.URL+"/login", url.Values{"name": {"bench"}, "password": {pw}}); err != nil {
		return res, err
	}
	var csrf string
	fetch := func(method, path, ctype string, body []byte) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if m := benchCSRF.FindSubmatch(b); m != nil {
			csrf = string(m[1])
		}
		return resp.StatusCode, b, err
	}
	if _, _, err := fetch("GET", "/sources", "", nil); err != nil {
		return res, err
	}

	// What the pages show: an indicator, a vulnerability and its product.
	ind, err := s.Search(ctx, store.Query{Types: []intel.Type{intel.IPv4}, Limit: 1, Bare: true})
	if err != nil || len(ind.Objects) == 0 {
		return res, fmt.Errorf("bench: no indicator stored (%v)", err)
	}
	nine := 9.0
	vul, err := s.Search(ctx, store.Query{CVSSv3: store.Range{Min: &nine}, Limit: 1})
	if err != nil || len(vul.Objects) == 0 {
		return res, fmt.Errorf("bench: no vulnerability with CVSS v3 ≥ 9 stored (%v)", err)
	}
	v := vul.Objects[0]
	// A product some vulnerabilities affect (software is its own object).
	sw, err := s.Search(ctx, store.Query{Types: []intel.Type{intel.Software}, Limit: 1})
	if err != nil || len(sw.Objects) == 0 || sw.Objects[0].Software == nil {
		return res, fmt.Errorf("bench: no software stored (%v)", err)
	}
	product, vendor, version := sw.Objects[0].Software.Product, sw.Objects[0].Software.Vendor, "1.0"
	var lookup []string
	for i := range 100 {
		lookup = append(lookup, fmt.Sprintf("198.51.%d.%d", i/250, i%250))
	}
	lookup[0] = strings.ReplaceAll(ind.Objects[0].Value, ".", "[.]")
	var cmdbFile bytes.Buffer
	cmdbFile.WriteString("asset,vendor,product,version\n")
	for i := range 100 {
		fmt.Fprintf(&cmdbFile, "host-%d,%s,%s,%s\n", i, vendor, product, version)
	}

	type page struct {
		name, method, path string
		body               func() (string, []byte)
	}
	form := func(v url.Values) func() (string, []byte) {
		return func() (string, []byte) {
			v.Set("csrf", csrf)
			return "application/x-www-form-urlencoded", []byte(v.Encode())
		}
	}
	upload := func() (string, []byte) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("csrf", csrf)
		fw, _ := mw.CreateFormFile("file", "cmdb.csv")
		fw.Write(cmdbFile.Bytes())
		mw.Close()
		return mw.FormDataContentType(), b.Bytes()
	}
	pages := []page{
		{"Feed Sources", "GET", "/sources", nil},
		{"instance", "GET", "/sources/bench", nil},
		{"View Details", "GET", "/sources/bench/channels/indicators", nil},
		{"channel settings", "GET", "/sources/bench/channels/indicators/settings", nil},
		{"search: type and value prefix", "GET", "/intel?type=ipv4&value=" + url.QueryEscape(prefix(ind.Objects[0].Value)+"*"), nil},
		{"search: exact value", "GET", "/intel?value=" + url.QueryEscape(ind.Objects[0].Value), nil},
		{"search: tag", "GET", "/intel?tag=" + url.QueryEscape(firstTag(ind.Objects[0])), nil},
		{"search: full text", "GET", "/intel?q=" + url.QueryEscape(v.Name), nil},
		{"object", "GET", fmt.Sprintf("/intel/objects/%d", ind.Objects[0].ID), nil},
		{"IOC lookup of 100", "POST", "/intel/lookup", form(url.Values{"values": {strings.Join(lookup, "\n")}})},
		{"vulnerabilities: product, CVSS v3 ≥ 9", "GET", "/vulns?product=" + url.QueryEscape(product) + "&min_cvss3=9&sort=-cvss3", nil},
		{"vulnerabilities: CVSS v3 ≥ 9, highest first", "GET", "/vulns?min_cvss3=9&sort=-cvss3", nil},
		{"vulnerabilities: vendor", "GET", "/vulns?vendor=" + url.QueryEscape(vendor), nil},
		{"vulnerability", "GET", fmt.Sprintf("/vulns/%d", v.ID), nil},
		{"CMDB match of 100 assets", "POST", "/cmdb", upload},
		{"API keys", "GET", "/admin/keys", nil},
		{"users", "GET", "/admin/users", nil},
		{"audit trail", "GET", "/admin/audit", nil},
	}
	n := max(1, c.Requests)
	for _, p := range pages {
		var lat []time.Duration
		size := 0
		for i := range n + 1 {
			ctype, body := "", []byte(nil)
			if p.body != nil {
				ctype, body = p.body()
			}
			t0 := time.Now()
			status, b, err := fetch(p.method, p.path, ctype, body)
			d := time.Since(t0)
			if err != nil {
				return res, err
			}
			if status != http.StatusOK {
				return res, fmt.Errorf("bench: %s %s: status %d: %.200s", p.method, p.path, status, b)
			}
			if i > 0 { // the first warms the caches
				lat = append(lat, d)
			}
			size = len(b)
		}
		r := ConsolePage{Page: p.name, P50Ms: ms(pct(lat, 50)), P99Ms: ms(pct(lat, 99)), Bytes: size}
		res.Pages = append(res.Pages, r)
		env.progress("%s: p50 %.1f ms, p99 %.1f ms, %d bytes", r.Page, r.P50Ms, r.P99Ms, r.Bytes)
	}
	return res, nil
}

// prefix is a value's first two dotted parts: a search many objects match.
func prefix(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1] + "."
}

func firstTag(o intel.Object) string {
	if len(o.Tags) > 0 {
		return o.Tags[0]
	}
	return "none"
}
