package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/flintcti/flint/internal/api"
	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/notify"
	"github.com/flintcti/flint/internal/scheduler"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/testenv"
)

var simNow = testenv.SimNow

// env is a real API server over loopback HTTP on a SQLite file, with a
// simulator for the feed-source routes; every response it sees is checked
// against the OpenAPI document.
type env struct {
	t      *testing.T
	sim    *sim.Server
	simURL string
	store  *store.Store
	sched  *scheduler.Scheduler
	api    *api.Server
	url    string
	router routers.Router
	admin  string            // an admin key
	ended  chan feed.PollRun // every poll the scheduler ends
}

func newEnv(t *testing.T) *env { return newEnvOn(t, "sqlite") }

// newEnvOn is newEnv on a store of the dialect.
func newEnvOn(t *testing.T, dialect string) *env {
	t.Helper()
	te := testenv.New(t, dialect, sim.Config{Seed: 7, Now: simNow, Reports: 20, Vulnerabilities: 150, Indicators: 400,
		IndicatorWindow: 10 * 24 * time.Hour, VulnWindow: 10 * 24 * time.Hour, ReportWindow: 10 * 24 * time.Hour})
	sched := &scheduler.Scheduler{Store: te.Store, Box: te.Box, Holder: "api-test", Now: te.Sim.Clock, Version: "test", PageSize: 100,
		Addresses: testenv.Loopback, Client: testenv.FastClient}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	svc := &service.Service{Store: te.Store, Scheduler: sched, Now: te.Sim.Clock, Seal: te.Seal, TokenKey: te.Box.Derive("taxii-next"),
		SealNotify: func(id int64, what string, plain []byte) ([]byte, error) {
			return te.Box.Seal(plain, secret.RuleAD(id, what))
		},
		Notifier: &notify.Deliverer{Store: te.Store, AllowInternal: true, Timeout: 5 * time.Second, UserAgent: "Flint/test",
			Open: func(id int64, what string, sealed []byte) ([]byte, error) {
				return te.Box.Open(sealed, secret.RuleAD(id, what))
			}}}
	a := &api.Server{Service: svc, Now: te.Sim.Clock, Version: "test", BaseContext: func() context.Context { return ctx }, RateLimit: 1e6, RateBurst: 1e6}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)

	e := &env{t: t, sim: te.Sim, simURL: te.URL, store: te.Store, sched: sched, api: a, url: srv.URL, router: openapiRouter(t),
		ended: make(chan feed.PollRun, 100)}
	sched.OnEnd = func(run feed.PollRun) { e.ended <- run }
	e.admin = e.key("root", auth.Admin, "")
	return e
}

// openapiRouter loads and validates the OpenAPI document.
func openapiRouter(t *testing.T) routers.Router {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIYAML())
	if err != nil {
		t.Fatalf("openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	doc.Servers = nil // match any host
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// key creates an API key directly in the store and returns it.
func (e *env) key(name string, role auth.Role, maxTLP intel.TLP) string {
	e.t.Helper()
	token, prefix, hash := auth.NewToken()
	if _, err := e.store.CreateAPIKey(context.Background(), auth.Key{Name: name, Role: role, MaxTLP: maxTLP, Prefix: prefix}, hash); err != nil {
		e.t.Fatal(err)
	}
	return token
}

// resp is an answer of the API.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	reflect.ValueOf(v).Elem().SetZero() // fields the response omits must not keep old values
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %s is not the JSON expected: %v", r.body, err)
	}
}

// errorBody decodes an error response.
func (r resp) errorBody(t *testing.T) api.ErrorBody {
	t.Helper()
	var b api.ErrorBody
	r.json(t, &b)
	if b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("error response without code or message: %s", r.body)
	}
	return b
}

// do sends a request (body: nil, a string sent as is, or a value sent as
// JSON) with the key (none when ""), and checks the response against the
// OpenAPI document: a status or a body the document does not describe fails
// the test.
func (e *env) do(method, path, key string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.checkSpec(req, res, out)
	return resp{res.StatusCode, res.Header, out}
}

func (e *env) checkSpec(req *http.Request, res *http.Response, body []byte) {
	e.t.Helper()
	if res.StatusCode == http.StatusMethodNotAllowed || (res.StatusCode == http.StatusNotFound && strings.HasPrefix(string(body), `{"error":{"code":"not_found","message":"no route`)) {
		return // outside every documented route
	}
	vreq := req.Clone(context.Background())
	vreq.URL.Host, vreq.URL.Scheme = "", ""
	route, params, err := e.router.FindRoute(vreq)
	if err != nil {
		e.t.Fatalf("%s %s: not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		e.t.Fatalf("%s %s answered %d, which the OpenAPI document does not describe: %v\nbody: %.600s", req.Method, req.URL.Path,
			res.StatusCode, err, body)
	}
}

// addInstance adds an instance on the simulator through the store, its
// channels enabled, and returns it.
func (e *env) addInstance(name, token string) feed.Instance {
	e.t.Helper()
	settings := map[feed.Kind]feed.Settings{}
	for _, k := range feed.Kinds() {
		s := feed.DefaultSettings(name, k, e.sim.Clock())
		s.Enabled = true
		settings[k] = s
	}
	in, err := e.store.CreateInstance(context.Background(), feed.Instance{Name: name, BaseURL: e.simURL, VerifyTLS: true}, token, e.api.Service.Seal, settings)
	if err != nil {
		e.t.Fatal(err)
	}
	return in
}

// poll polls a channel to the end.
func (e *env) poll(instance string, k feed.Kind) feed.PollRun {
	e.t.Helper()
	ch, err := e.store.Channel(context.Background(), instance, k)
	if err != nil {
		e.t.Fatal(err)
	}
	run, err := e.sched.Poll(context.Background(), ch, feed.TriggerManual)
	if err != nil {
		e.t.Fatalf("poll %s/%s: %v", instance, k, err)
	}
	return run
}
