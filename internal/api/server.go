// Package api serves Flint's REST API under /api/v1: feed sources, the
// intelligence and the questions users ask of it (docs/domain.md §7), behind API
// keys with permissions and an optional TLP cap.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// Server is the REST API. Zero fields take the defaults below.
type Server struct {
	Service *service.Service // the use cases; its store also authenticates keys and answers readiness
	Log     *slog.Logger
	Now     func() time.Time
	Version string

	// BaseContext returns the context of work that outlives a request
	// (polls started with POST .../poll); cancelling it stops them. A
	// function, as in http.Server: no context is kept in a struct.
	BaseContext func() context.Context

	RateLimit rate.Limit // requests per second per key; default 50
	RateBurst int        // default 100
	MaxBody   int64      // bytes; default 16 MiB (a 10,000-value lookup or a large CMDB fits)

	AuthFails     int           // failed authentications allowed at once per client address; default 60
	AuthFailEvery time.Duration // and then one per this; default a second

	// Metrics, when set, serves GET /metrics (Prometheus) to keys with
	// view_feed_source.
	Metrics http.Handler

	QueryBudget time.Duration // how long a search, lookup or CMDB match may run; default 10 s
	MaxHeavy    int           // lookups and CMDB matches running at once server-wide; default GOMAXPROCS (at least 2)

	exportOnce sync.Once
	exports    chan struct{}

	heavyOnce  sync.Once
	heavySlots chan struct{}
	heavyWait  chan struct{}

	touched      sync.Map // key id → time.Time of the last recorded use
	throttleOnce sync.Once
	throttle     *auth.Throttle // failed authentications per client address
}

// Defaults.
const (
	DefaultRateLimit = 50
	DefaultRateBurst = 100
	DefaultMaxBody   = 16 << 20
)

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) baseContext() context.Context {
	if s.BaseContext != nil {
		return s.BaseContext()
	}
	return context.Background()
}

// handler is what a route runs; p is nil on public routes. A returned error
// becomes the JSON error response.
type handler func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// Handler returns the API's HTTP handler, every route of Routes mounted.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	s.mountTAXII(mux)
	// Any other path gets a JSON 404 (or 405), not the mux's text.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log(), &httpError{http.StatusNotFound, "not_found", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	return s.methodNotAllowed(mux)
}

// methodNotAllowed turns the mux's plain-text 405 into a JSON error.
func (s *Server) methodNotAllowed(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := next.Handler(r); pattern == "" || pattern == "/" {
			rr := *r
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				rr.Method = m
				if _, p := next.Handler(&rr); p != "" && p != "/" {
					writeError(w, r, s.log(), &httpError{http.StatusMethodNotAllowed, "method_not_allowed",
						fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)})
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// renderer writes an error response in a transport's format (the API's
// JSON error, or TAXII's error message).
type renderer func(w http.ResponseWriter, r *http.Request, err error)

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, s.log(), err)
}

// wrap applies what every route shares: panic recovery, the body limit,
// authentication, the permission check, the rate limit and error rendering.
func (s *Server) wrap(rt route) http.Handler { return s.guard(rt, s.renderError) }

// guard is wrap with errors written by render.
func (s *Server) guard(rt route, render renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log().Error("api: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				render(w, r, errors.New("panic"))
			}
		}()
		maxBody := s.MaxBody
		if maxBody <= 0 {
			maxBody = DefaultMaxBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		var p *auth.Principal
		if rt.Perm != "" {
			var err error
			if p, err = s.authenticate(r); err != nil {
				s.authFailed(w, r, err, render)
				return
			}
			if p.List != "" && rt.Pattern != edlPattern {
				render(w, r, intel.Errorf(intel.EFORBIDDEN, "the key %q is bound to the blocklist %q and may read only it (GET /edl/%s)",
					p.Name, p.List, p.List))
				return
			}
			if !p.Can(rt.Perm) {
				render(w, r, intel.Errorf(intel.EFORBIDDEN, "the key %q (role %s) lacks the %s permission that %s %s needs",
					p.Name, p.Role, rt.Perm, rt.Method, rt.Pattern))
				return
			}
			if !s.allow(r.Context(), p.KeyID) {
				w.Header().Set("Retry-After", "1")
				render(w, r, &httpError{http.StatusTooManyRequests, "rate_limited",
					"too many requests for this key; slow down and retry after a second"})
				return
			}
		}
		if err := rt.h(w, r, p); err != nil {
			render(w, r, err)
		}
	})
}

// Failed authentications are limited per client address (Server.AuthFails
// at once, then one per Server.AuthFailEvery); beyond that the address gets
// 429 without a key being looked up. At most failAddrs addresses are tracked.
const (
	DefaultAuthFails     = 60
	DefaultAuthFailEvery = time.Second
	failAddrs            = 10000
)

// authFailed answers a request whose authentication failed, logs it
// (never with the key presented) and counts it against the client's address.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, err error, render renderer) {
	addr := auth.ClientAddr(r)
	s.log().Warn("api: authentication failed", "remote", addr, "method", r.Method, "path", r.URL.Path, "reason", intel.ErrorMessage(err))
	if r.Header.Get("Authorization") != "" { // a key was tried (a missing one guesses nothing)
		s.failures().Fail(addr) // counted; the next request is judged by it
	}
	var he *httpError
	if !errors.As(err, &he) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="flint"`)
		w.Header().Add("WWW-Authenticate", `Basic realm="flint", charset="UTF-8"`)
	}
	render(w, r, err)
}

// failures is the failed-authentication throttle of client addresses.
func (s *Server) failures() *auth.Throttle {
	s.throttleOnce.Do(func() {
		burst, every := s.AuthFails, s.AuthFailEvery
		if burst <= 0 {
			burst = DefaultAuthFails
		}
		if every <= 0 {
			every = DefaultAuthFailEvery
		}
		s.throttle = &auth.Throttle{Burst: burst, Every: every, MaxAddrs: failAddrs}
	})
	return s.throttle
}

// authenticate finds the key of the request's bearer token. An address with
// too many failed attempts is refused before any look-up.
func (s *Server) authenticate(r *http.Request) (*auth.Principal, error) {
	if s.failures().Held(auth.ClientAddr(r)) {
		return nil, &httpError{http.StatusTooManyRequests, "rate_limited",
			"too many failed authentications from this address; wait before trying again"}
	}
	if len(r.Header.Values("Authorization")) > 1 {
		return nil, &httpError{http.StatusBadRequest, "bad_request", "the request has more than one Authorization header; send one"}
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, intel.Errorf(intel.EUNAUTHORIZED, "an API key is required: send Authorization: Bearer flint_... (or HTTP Basic with the key as the password)")
	}
	token, ok := credential(r)
	if !ok || !auth.LooksLikeKey(token) {
		return nil, intel.Errorf(intel.EUNAUTHORIZED, "the Authorization header must be Bearer followed by a Flint API key (flint_...), or HTTP Basic with the key as the password")
	}
	k, err := s.Service.Store.APIKeyByHash(r.Context(), auth.Hash(token))
	if err != nil {
		return nil, err
	}
	// Record the use at most once a minute per key and process: a read
	// stays a read (no write transaction per request).
	now := s.now()
	if last, ok := s.touched.Load(k.ID); !ok || now.Sub(last.(time.Time)) >= time.Minute {
		s.touched.Store(k.ID, now)
		if err := s.Service.Store.TouchAPIKey(r.Context(), k.ID, now); err != nil {
			s.log().Warn("api: recording key use failed", "key", k.ID, "error", err)
		}
	}
	return auth.PrincipalOf(k), nil
}

// credential is the key a request presents: Bearer, or HTTP Basic with the
// key as the password (firewalls and TAXII clients send Basic; the user
// name is not read).
func credential(r *http.Request) (string, bool) {
	scheme, rest, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case !ok:
		return "", false
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(rest), true
	case strings.EqualFold(scheme, "Basic"):
		_, password, ok := r.BasicAuth()
		return password, ok
	}
	return "", false
}

// allow takes a request of the key's rate limit: through the store, so
// that replicas on one PostgreSQL keep to it together. A store that cannot
// say lets the request through (it fails on its own if the store is down).
func (s *Server) allow(ctx context.Context, keyID int64) bool {
	lim, burst := s.RateLimit, s.RateBurst
	if lim <= 0 {
		lim = DefaultRateLimit
	}
	if burst <= 0 {
		burst = DefaultRateBurst
	}
	ok, err := s.Service.Store.Allow(ctx, "apikey:"+strconv.FormatInt(keyID, 10), store.Rate{PerSecond: float64(lim), Burst: burst})
	if err != nil {
		s.log().Warn("api: the key's rate limit could not be read; the request goes through", "key", keyID, "error", err)
		return true
	}
	return ok
}

// httpError is an error of the HTTP layer with its own status and code.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.message }

// statusOf maps application error codes to HTTP statuses: the one table.
var statusOf = map[string]int{
	intel.ENOTFOUND:     http.StatusNotFound,
	intel.EINVALID:      http.StatusUnprocessableEntity,
	intel.ECONFLICT:     http.StatusConflict,
	intel.EUNAUTHORIZED: http.StatusUnauthorized,
	intel.EFORBIDDEN:    http.StatusForbidden,
	intel.EINTERNAL:     http.StatusInternalServerError,
	store.EDAMAGED:      http.StatusServiceUnavailable,
}

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Error struct {
		Code    string             `json:"code"`
		Message string             `json:"message"`
		Fields  []intel.FieldError `json:"fields,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, body := classify(r, log, err)
	writeJSON(w, status, body)
}

// classify finds an error's status and body (logging a server fault).
func classify(r *http.Request, log *slog.Logger, err error) (int, ErrorBody) {
	var body ErrorBody
	status := http.StatusInternalServerError
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		status, body.Error.Code, body.Error.Message = he.status, he.code, he.message
	case errors.As(err, &mbe):
		status, body.Error.Code = http.StatusRequestEntityTooLarge, "too_large"
		body.Error.Message = fmt.Sprintf("the request body is over the limit of %d bytes", mbe.Limit)
	case isBudget(err):
		status, body.Error.Code, body.Error.Message = http.StatusServiceUnavailable, "timeout", err.Error()
	default:
		code := intel.ErrorCode(err)
		status, body.Error.Code, body.Error.Message = statusOf[code], code, intel.ErrorMessage(err)
		if status == 0 { // a code the table lacks is a server fault, never status 0
			status = http.StatusInternalServerError
		}
		body.Error.Fields = intel.Fields(err)
		if code == intel.EINTERNAL {
			log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		}
	}
	return status, body
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads a JSON body into v, refusing unknown fields and trailing data.
func decode(r *http.Request, v any) error {
	// curl -d sends application/x-www-form-urlencoded; its body is read as
	// JSON all the same (keys ride in a header, so this opens no CSRF hole).
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") &&
		!strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return &httpError{http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("Content-Type %q is not accepted here; send application/json", ct)}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return &httpError{http.StatusBadRequest, "bad_request", "the request body has data after its JSON value"}
	}
	return nil
}

// strictUnmarshal decodes b over v, refusing unknown fields.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// decodeError explains a JSON decoding failure: a value of the wrong type is
// a 422 naming the field, anything else a 400.
func decodeError(err error) error {
	var mbe *http.MaxBytesError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &te) && te.Field != "":
		return intel.Invalid([]intel.FieldError{{Field: te.Field,
			Message: fmt.Sprintf("%s must be a JSON %s, not %s", te.Field, jsonKind(te.Type.Kind()), te.Value)}})
	case errors.Is(err, io.EOF):
		return &httpError{http.StatusBadRequest, "bad_request", "the request body is empty; this route takes a JSON object"}
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return &httpError{http.StatusBadRequest, "bad_request", "the request body is not valid JSON for this route: " + msg}
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	if k >= reflect.Int && k <= reflect.Float64 {
		return "number"
	}
	return k.String()
}

// drain reads and discards a body a route does not use (refusing a huge one).
func drain(r *http.Request) error {
	_, err := io.Copy(io.Discard, r.Body)
	return err
}

// intParam reads an integer query parameter in [lo, hi], def when absent.
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, intel.Invalid([]intel.FieldError{{Field: name, Message: fmt.Sprintf("%s %q must be a whole number in %d–%d", name, v, lo, hi)}})
	}
	return n, nil
}

// NewHTTPServer wraps the API handler in a server with timeouts fit for it:
// slow clients cannot hold connections, and the largest requests (a
// 10,000-value lookup) have room.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
