// Package sim is a Flashpoint Ignite simulator: the seven endpoints Flint
// uses, served over real HTTP with the envelopes, paging, validation and
// error bodies of docs/flashpoint-api.md, deterministic data generated
// per item from (seed, index), per-dataset token entitlements, injectable
// faults, an advanceable clock, and a ground-truth admin API under /_sim/.
package sim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Datasets a token may be entitled to.
const (
	DatasetReports         = "reports"
	DatasetVulnerabilities = "vulnerabilities"
	DatasetIndicators      = "indicators"
	DatasetPremium         = "premium"
)

// AllDatasets is the entitlement of a token given without a suffix.
var AllDatasets = []string{DatasetReports, DatasetVulnerabilities, DatasetIndicators, DatasetPremium}

// Token is a bearer token the simulator accepts, with its datasets.
type Token struct {
	Value    string
	Datasets map[string]bool
}

// ParseToken reads VALUE[:DATASETS], DATASETS being a comma list of
// reports, vulnerabilities, indicators, premium.
func ParseToken(spec string) (Token, error) {
	value, ds, hasDS := strings.Cut(spec, ":")
	if value == "" {
		return Token{}, fmt.Errorf("token %q: empty value", spec)
	}
	t := Token{Value: value, Datasets: map[string]bool{}}
	if !hasDS {
		for _, d := range AllDatasets {
			t.Datasets[d] = true
		}
		return t, nil
	}
	for _, d := range strings.Split(ds, ",") {
		d = strings.TrimSpace(d)
		switch d {
		case DatasetReports, DatasetVulnerabilities, DatasetIndicators, DatasetPremium:
			t.Datasets[d] = true
		case "":
		default:
			return Token{}, fmt.Errorf("token dataset %q: want one of %s", d, strings.Join(AllDatasets, ", "))
		}
	}
	return t, nil
}

// String shows the token and its datasets (the simulator's own test tokens
// are meant to be printed).
func (t Token) String() string {
	var ds []string
	for _, d := range AllDatasets {
		if t.Datasets[d] {
			ds = append(ds, d)
		}
	}
	return t.Value + ":" + strings.Join(ds, ",")
}

// Config sets the simulator up. Zero values take defaults.
type Config struct {
	Seed            int64
	Reports         int           // reports at the initial clock (default 200)
	Vulnerabilities int           // default 2000
	Indicators      int           // default 20000
	Now             time.Time     // initial clock (default: now, to the second)
	IndicatorWindow time.Duration // indicators spread over this window before Now (default 60 days)
	VulnWindow      time.Duration // default 365 days
	ReportWindow    time.Duration // default 365 days
	Tokens          []Token       // default: one token with every dataset
	// NonPremiumDetail is what a token without "premium" gets from the
	// vulnerability detail: "thin" (the list-shaped record, default) or
	// "forbidden" (403).
	NonPremiumDetail string
	ReportBodyBytes  int // pad report bodies to at least this many bytes
	Logger           *slog.Logger
	// Modes make the simulator behave in ways the real API may (docs/flashpoint-api.md
	// does not rule them out), so that tests prove the connector right either way.
	Modes Modes
}

// Modes are behaviours of the API that public sources leave open.
type Modes struct {
	// MaxPage, when above 0, caps every list page at this many items
	// whatever the size asked, with a next link (where the endpoint sends
	// links) to the rest: a short page is not the last.
	MaxPage int `json:"max_page,omitempty"`
	// IgnoreSort answers every list in the endpoint's default order,
	// newest first, whatever sort was asked.
	IgnoreSort bool `json:"ignore_sort,omitempty"`
	// NoTotal leaves the total out of every list answer.
	NoTotal bool `json:"no_total,omitempty"`
	// UnstableOrder answers every list in an order that changes whenever
	// the data does (each clock move): a poll whose data changes mid-way
	// sees its later pages in another order than its first.
	UnstableOrder bool `json:"unstable_order,omitempty"`
}

// DefaultToken is the token used when none is configured.
const DefaultToken = "flint-sim-token"

// Server is a running simulator. Use Handler with any http.Server.
type Server struct {
	cfg   Config
	seed  uint64
	log   *slog.Logger
	mu    sync.RWMutex
	clock time.Time
	ver   int // bumped when the clock moves: part of every cache key

	tokens      map[string]Token
	faults      map[string]*Fault
	nonPremium  string
	modes       Modes
	requests    map[string]int // "endpoint status" → count
	reportsTL   timeline
	vulnsTL     timeline
	indsTL      timeline
	resume      *resumeCache
	counts      countCache
	vulnOrder   sync.Map // query key → []int (materialised sorts and unstable orders)
	cvssMu      sync.Mutex
	cvssMemo    map[string]float64
	unknownSeen sync.Map
}

// New returns a simulator for cfg.
func New(cfg Config) *Server {
	if cfg.Reports <= 0 {
		cfg.Reports = 200
	}
	if cfg.Vulnerabilities <= 0 {
		cfg.Vulnerabilities = 2000
	}
	if cfg.Indicators <= 0 {
		cfg.Indicators = 20000
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now().UTC().Truncate(time.Second)
	}
	cfg.Now = cfg.Now.UTC()
	if cfg.IndicatorWindow <= 0 {
		cfg.IndicatorWindow = 60 * 24 * time.Hour
	}
	if cfg.VulnWindow <= 0 {
		cfg.VulnWindow = 365 * 24 * time.Hour
	}
	if cfg.ReportWindow <= 0 {
		cfg.ReportWindow = 365 * 24 * time.Hour
	}
	if len(cfg.Tokens) == 0 {
		t, _ := ParseToken(DefaultToken)
		cfg.Tokens = []Token{t}
	}
	if cfg.NonPremiumDetail == "" {
		cfg.NonPremiumDetail = "thin"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	seed := splitmix(uint64(cfg.Seed))
	s := &Server{
		cfg:        cfg,
		seed:       seed,
		log:        cfg.Logger,
		clock:      cfg.Now,
		tokens:     map[string]Token{},
		faults:     map[string]*Fault{},
		nonPremium: cfg.NonPremiumDetail,
		modes:      cfg.Modes,
		requests:   map[string]int{},
		reportsTL:  newTimeline(seed, dsReports, cfg.Reports, cfg.ReportWindow, cfg.Now, 20),
		vulnsTL:    newTimeline(seed, dsVulns, cfg.Vulnerabilities, cfg.VulnWindow, cfg.Now, 15),
		indsTL:     newTimeline(seed, dsInds, cfg.Indicators, cfg.IndicatorWindow, cfg.Now, 10),
		resume:     newResumeCache(256),
		cvssMemo:   map[string]float64{},
	}
	for _, t := range cfg.Tokens {
		s.tokens[t.Value] = t
	}
	return s
}

// Tokens returns the configured tokens.
func (s *Server) Tokens() []Token { return s.cfg.Tokens }

func (s *Server) now() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.clock
}

func (s *Server) snapshot() (time.Time, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.clock, s.ver
}

// Clock returns the simulator's current time.
func (s *Server) Clock() time.Time { return s.now() }

// Advance moves the clock forward by d: new items appear and some change.
func (s *Server) Advance(d time.Duration) time.Time {
	s.mu.Lock()
	s.clock = s.clock.Add(d)
	s.ver++
	c := s.clock
	s.mu.Unlock()
	s.resume.clear()
	s.vulnOrder.Clear() // keyed by clock version: old orders are dead
	return c
}

// SetNonPremiumDetail switches the non-premium vulnerability detail between
// "thin" and "forbidden".
func (s *Server) SetNonPremiumDetail(mode string) error {
	if mode != "thin" && mode != "forbidden" {
		return fmt.Errorf("non-premium detail %q: want thin or forbidden", mode)
	}
	s.mu.Lock()
	s.nonPremium = mode
	s.mu.Unlock()
	return nil
}

// SetModes changes the simulator's modes.
func (s *Server) SetModes(m Modes) error {
	if m.MaxPage < 0 {
		return fmt.Errorf("max_page %d: want 0 (off) or more", m.MaxPage)
	}
	s.mu.Lock()
	s.modes = m
	s.mu.Unlock()
	return nil
}

// mode returns the simulator's modes.
func (s *Server) mode() Modes {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.modes
}

// pageLen is how many items a list page answers for size asked.
func (s *Server) pageLen(size int) int {
	s.mu.RLock()
	mp := s.modes.MaxPage
	s.mu.RUnlock()
	if mp > 0 && mp < size {
		return mp
	}
	return size
}

// Requests returns how many requests each endpoint answered with each status,
// keyed "endpoint status" ("indicators 429").
func (s *Server) Requests() map[string]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// ByEndpoint sums request counts keyed "endpoint status" (Requests,
// State.Requests) by endpoint.
func ByEndpoint(requests map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range requests {
		ep, _, _ := strings.Cut(k, " ")
		out[ep] += n
	}
	return out
}

// Handler serves the API and the /_sim/ admin endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	api := func(endpoint, dataset string, h func(w http.ResponseWriter, r *http.Request, tok Token, f *Fault)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			// Counted when the status is written, before the client can have
			// the response: a client that has its answer finds it counted.
			rec := &statusRecorder{ResponseWriter: w, status: 200, onStatus: func(code int) { s.count(endpoint, code) }}
			defer rec.counted()
			tok, ok := s.authenticate(rec, r)
			if !ok {
				return
			}
			if !tok.Datasets[dataset] {
				writeJSON(rec, http.StatusForbidden, map[string]any{"detail": "Forbidden"})
				return
			}
			f := s.takeFault(endpoint)
			if f != nil && f.Latency > 0 {
				select {
				case <-time.After(time.Duration(f.Latency)):
				case <-r.Context().Done():
					return
				}
			}
			if s.applyStatusFault(rec, f) {
				return
			}
			h(rec, r, tok, f)
		}
	}
	mux.Handle("GET /finished-intelligence/v1/reports", api(EPReports, DatasetReports, s.listReports))
	mux.Handle("GET /finished-intelligence/v1/reports/{id}", api(EPReport, DatasetReports, s.getReport))
	mux.Handle("GET /technical-intelligence/v1/event", api(EPEvents, DatasetReports, s.listEvents))
	mux.Handle("GET /vulnerability-intelligence/v1/vulnerabilities", api(EPVulnerabilities, DatasetVulnerabilities, s.listVulnerabilities))
	mux.Handle("GET /vulnerability-intelligence/v1/vulnerabilities/{id}", api(EPVulnerability, DatasetVulnerabilities, s.getVulnerability))
	mux.Handle("GET /technical-intelligence/v2/indicators", api(EPIndicators, DatasetIndicators, s.listIndicators))
	mux.Handle("GET /technical-intelligence/v2/indicators/{id}", api(EPIndicator, DatasetIndicators, s.getIndicator))

	mux.HandleFunc("GET /_sim/state", s.adminState)
	mux.HandleFunc("POST /_sim/clock", s.adminClock)
	mux.HandleFunc("GET /_sim/faults", s.adminFaults)
	mux.HandleFunc("PUT /_sim/faults/{endpoint}", s.adminSetFault)
	mux.HandleFunc("DELETE /_sim/faults", s.adminClearFaults)
	mux.HandleFunc("DELETE /_sim/faults/{endpoint}", s.adminClearFaults)
	mux.HandleFunc("PUT /_sim/non-premium-detail", s.adminNonPremium)
	mux.HandleFunc("PUT /_sim/modes", s.adminModes)
	mux.HandleFunc("GET /_sim/truth/{dataset}", s.adminTruth)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, problem(404))
	})
	return mux
}

type statusRecorder struct {
	http.ResponseWriter
	status   int
	onStatus func(code int) // once, when the status is known
	done     bool
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.counted()
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.done {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// counted reports the status once.
func (r *statusRecorder) counted() {
	if !r.done {
		r.done = true
		r.onStatus(r.status)
	}
}

// Hijack lets the reset fault take the connection over.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.counted()
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("sim: connection cannot be hijacked")
	}
	return hj.Hijack()
}

func (s *Server) count(endpoint string, status int) {
	s.mu.Lock()
	s.requests[endpoint+" "+strconv.Itoa(status)]++
	s.mu.Unlock()
}

// authenticate checks the bearer token: 401 with the real bodies when it is
// missing, malformed or unknown.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (Token, bool) {
	h := r.Header.Get("Authorization")
	scheme, value, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad token; invalid JSON"})
		return Token{}, false
	}
	t, known := s.tokens[strings.TrimSpace(value)]
	if !known {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid signature"})
		return Token{}, false
	}
	return t, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func problem(status int) map[string]any {
	return map[string]any{"type": "about:blank", "title": "Error", "detail": http.StatusText(status), "status": status}
}

// validation collects 422 errors in the FastAPI shape {detail, errors[{loc,msg,input}]}.
type validation struct {
	errs []map[string]any
}

func (v *validation) add(param, msg, input string) {
	v.errs = append(v.errs, map[string]any{"loc": []string{"query", param}, "msg": msg, "input": input})
}

func (v *validation) write(w http.ResponseWriter) bool {
	if len(v.errs) == 0 {
		return false
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": "Validation error", "errors": v.errs})
	return true
}

// intParam reads a non-negative integer parameter with a default and an upper bound.
func (v *validation) intParam(q url.Values, name string, def, lo, hi int) int {
	s := q.Get(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		v.add(name, "Input should be a valid integer, unable to parse string as an integer", s)
	case n < lo:
		v.add(name, fmt.Sprintf("Input should be greater than or equal to %d", lo), s)
	case n > hi:
		v.add(name, fmt.Sprintf("Input should be less than or equal to %d", hi), s)
	default:
		return n
	}
	return def
}

func (v *validation) floatParam(q url.Values, name string, lo, hi float64) *float64 {
	s := q.Get(name)
	if s == "" {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < lo || f > hi {
		v.add(name, fmt.Sprintf("Input should be a number between %g and %g", lo, hi), s)
		return nil
	}
	return &f
}

func (v *validation) boolParam(q url.Values, name string) *bool {
	s := q.Get(name)
	if s == "" {
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		v.add(name, "Input should be a valid boolean", s)
		return nil
	}
	return &b
}

// enumList reads a comma list whose values must be in allowed.
func (v *validation) enumList(q url.Values, name string, allowed []string) []string {
	raw := q.Get(name)
	if raw == "" {
		return nil
	}
	var out []string
	for _, x := range strings.Split(raw, ",") {
		x = strings.TrimSpace(x)
		ok := false
		for _, a := range allowed {
			if strings.EqualFold(x, a) {
				ok, x = true, a
				break
			}
		}
		if !ok {
			quoted := make([]string, len(allowed))
			for i, a := range allowed {
				quoted[i] = "'" + a + "'"
			}
			v.add(name, "Input should be "+strings.Join(quoted[:len(quoted)-1], ", ")+" or "+quoted[len(quoted)-1], x)
			continue
		}
		out = append(out, x)
	}
	return out
}

func list(q url.Values, name string) []string {
	raw := q.Get(name)
	if raw == "" {
		return nil
	}
	var out []string
	for _, x := range strings.Split(raw, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// parseDate reads a date parameter: YYYY-MM-DDTHH:MM:SS[.f]Z, a bare date,
// or a relative value (-30d, -8h, +1w, M months, m minutes). "now-7d" is
// refused, as by the real API. strictZ refuses offsets such as +00:00
// (the reports endpoint answers those 400).
func parseDate(s string, now time.Time, strictZ bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if (s[0] == '-' || s[0] == '+') && len(s) >= 3 {
		n, err := strconv.Atoi(s[1 : len(s)-1])
		if err == nil {
			if s[0] == '-' {
				n = -n
			}
			switch s[len(s)-1] {
			case 'm':
				return now.Add(time.Duration(n) * time.Minute), nil
			case 'h':
				return now.Add(time.Duration(n) * time.Hour), nil
			case 'd':
				return now.AddDate(0, 0, n), nil
			case 'w':
				return now.AddDate(0, 0, 7*n), nil
			case 'M':
				return now.AddDate(0, n, 0), nil
			case 'y':
				return now.AddDate(n, 0, 0), nil
			}
		}
		return time.Time{}, fmt.Errorf("invalid relative date %q", s)
	}
	if len(s) == 10 {
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t, nil
		}
	}
	if strictZ && len(s) > 19 && !strings.HasSuffix(s, "Z") {
		return time.Time{}, fmt.Errorf("expected format YYYY-MM-DDTHH:MM:SSZ")
	}
	for _, l := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("expected format YYYY-MM-DDTHH:MM:SSZ")
}

// dateParam reads a date into the validation (422 on error).
func (v *validation) dateParam(q url.Values, name string, now time.Time) time.Time {
	s := q.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := parseDate(s, now, false)
	if err != nil {
		v.add(name, "Input should be a valid datetime: "+err.Error(), s)
	}
	return t
}

// noteUnknown logs each query parameter the simulator does not interpret, once.
func (s *Server) noteUnknown(endpoint string, q url.Values, known map[string]bool) {
	for k := range q {
		if known[k] {
			continue
		}
		if _, seen := s.unknownSeen.LoadOrStore(endpoint+"?"+k, true); !seen {
			s.log.Info("sim: ignoring unrecognised parameter", "endpoint", endpoint, "param", k)
		}
	}
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// queryKey is a cache key: the endpoint, the clock version and the query
// minus paging parameters.
func queryKey(endpoint string, ver int, q url.Values, drop ...string) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		skip := false
		for _, d := range drop {
			if k == d {
				skip = true
			}
		}
		if !skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(endpoint)
	b.WriteString("|")
	b.WriteString(strconv.Itoa(ver))
	for _, k := range keys {
		b.WriteString("|" + k + "=" + strings.Join(q[k], ","))
	}
	return b.String()
}

// baseURL is the scheme and host the request came in on, for links.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// nextLink is the page link with from moved to from.
func nextLink(r *http.Request, from, size int) string {
	q := r.URL.Query()
	q.Set("from", strconv.Itoa(from))
	q.Set("size", strconv.Itoa(size))
	return baseURL(r) + r.URL.Path + "?" + q.Encode()
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }
func fmtSec(t time.Time) string  { return t.UTC().Format("2006-01-02T15:04:05Z") }
func fmtMilliOffset(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000") + "+00:00"
}
