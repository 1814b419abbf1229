package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
)

func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	e.api.MaxBody = 4 << 10
	big := `{"values": ["` + strings.Repeat("a", 8<<10) + `"]}`
	r := e.do("POST", "/api/v1/lookup", e.admin, big)
	if r.status != http.StatusRequestEntityTooLarge || r.errorBody(t).Error.Code != "too_large" {
		t.Errorf("8 KiB body over a 4 KiB limit: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/lookup", e.admin, `{"values": ["203.0.113.1"]}`); r.status != http.StatusOK {
		t.Errorf("small body: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/instances/x/channels/reports/poll", e.admin, big); r.status != http.StatusNotFound {
		t.Errorf("unknown instance first: %d", r.status)
	}
}

func TestRateLimitPerKey(t *testing.T) {
	e := newEnv(t)
	e.api.RateLimit, e.api.RateBurst = 1, 5
	a, b := e.key("a", auth.Analyst, ""), e.key("b", auth.Analyst, "")
	limited := 0
	for range 8 {
		r := e.do("GET", "/api/v1/collections", a, nil)
		if r.status == http.StatusTooManyRequests {
			limited++
			if r.header.Get("Retry-After") == "" || r.errorBody(t).Error.Code != "rate_limited" {
				t.Errorf("429 without Retry-After or code: %v %s", r.header, r.body)
			}
		}
	}
	if limited < 2 {
		t.Errorf("8 quick requests with a burst of 5: %d limited", limited)
	}
	// Another key has its own budget.
	if r := e.do("GET", "/api/v1/collections", b, nil); r.status != http.StatusOK {
		t.Errorf("second key: %d", r.status)
	}
}

func TestErrorsAreJSON(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/api/v1/nothing", "", http.StatusNotFound, "not_found"},
		{"GET", "/", "", http.StatusNotFound, "not_found"},
		{"GET", "/favicon.ico", "", http.StatusNotFound, "not_found"},
		{"POST", "/healthz", "", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"PUT", "/api/v1/instances", "", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"DELETE", "/api/v1/lookup", "", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"POST", "/api/v1/lookup", `{"values": [1, 2]}`, http.StatusUnprocessableEntity, intel.EINVALID},
		{"POST", "/api/v1/lookup", `{"values": []} {}`, http.StatusBadRequest, "bad_request"},
		{"GET", "/api/v1/objects/999999", "", http.StatusNotFound, intel.ENOTFOUND},
	} {
		r := e.do(tc.method, tc.path, e.admin, tc.body)
		if r.status != tc.status || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s %s", tc.method, tc.path, r.status, r.header.Get("Content-Type"), r.body)
			continue
		}
		if b := r.errorBody(t); b.Error.Code != tc.code || strings.Contains(b.Error.Message, "goroutine") {
			t.Errorf("%s %s: %s", tc.method, tc.path, r.body)
		}
	}
	for ct, want := range map[string]int{"multipart/form-data; boundary=x": http.StatusUnsupportedMediaType, "text/xml": http.StatusUnsupportedMediaType,
		"application/x-www-form-urlencoded": http.StatusOK, "application/json; charset=utf-8": http.StatusOK} {
		req, _ := http.NewRequest("POST", e.url+"/api/v1/lookup", strings.NewReader(`{"values": ["1.2.3.4"]}`))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		req.Header.Set("Content-Type", ct) // curl -d sends a form type with a JSON body
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Content-Type %s: %d, want %d", ct, res.StatusCode, want)
		}
	}
	// Health and readiness need no key.
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.do("GET", p, "", nil); r.status != http.StatusOK {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}

func TestKeysAPI(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/v1/keys", e.admin, map[string]any{"name": "siem", "role": "analyst", "max_tlp": "TLP:AMBER"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var k service.CreatedKey
	r.json(t, &k)
	if !strings.HasPrefix(k.Token, "flint_") || k.Role != auth.Analyst || k.MaxTLP != intel.TLPAmber || !strings.HasPrefix(k.Token, k.Prefix) ||
		k.CreatedBy != "key:1 root" {
		t.Fatalf("created %+v", k)
	}
	// The new key works, with its role.
	if r := e.do("GET", "/api/v1/objects", k.Token, nil); r.status != http.StatusOK {
		t.Errorf("new key reading: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/keys", k.Token, nil); r.status != http.StatusForbidden {
		t.Errorf("analyst listing keys: %d", r.status)
	}
	// Lists never show a key.
	r = e.do("GET", "/api/v1/keys", e.admin, nil)
	if strings.Contains(string(r.body), k.Token) || strings.Contains(string(r.body), auth.Hash(k.Token)) {
		t.Errorf("key list shows a key or its hash: %s", r.body)
	}
	var list struct{ Keys []auth.Key }
	r.json(t, &list)
	if len(list.Keys) != 2 || list.Keys[1].Name != "siem" {
		t.Errorf("keys %s", r.body)
	}
	r = e.do("POST", "/api/v1/keys", e.admin, map[string]any{"name": "", "role": "god", "max_tlp": "purple"})
	if r.status != http.StatusUnprocessableEntity || fieldNames(r.errorBody(t)) != "name,role,max_tlp" {
		t.Errorf("bad key: %d %s", r.status, r.body)
	}
	for _, q := range []string{"limit=0", "limit=1001", "before=x", "before=-4"} {
		if r := e.do("GET", "/api/v1/audit?"+q, e.admin, nil); r.status != http.StatusUnprocessableEntity {
			t.Errorf("audit %s: %d %s", q, r.status, r.body)
		}
	}
	if r := e.do("DELETE", "/api/v1/keys/999", e.admin, nil); r.status != http.StatusNotFound {
		t.Errorf("revoke unknown: %d", r.status)
	}
	for range 2 { // the second changes nothing and writes no second record
		if r := e.do("DELETE", fmt.Sprintf("/api/v1/keys/%d", k.ID), e.admin, nil); r.status != http.StatusOK {
			t.Errorf("revoke: %d", r.status)
		}
	}
	r = e.do("GET", "/api/v1/audit", e.admin, nil)
	if n := strings.Count(string(r.body), `"key.revoke"`); n != 1 {
		t.Errorf("%d key.revoke records for one key revoked twice", n)
	}
	if !strings.Contains(string(r.body), `"key.revoke"`) || !strings.Contains(string(r.body), `"key.create"`) || strings.Contains(string(r.body), k.Token) {
		t.Errorf("audit: %s", r.body)
	}
}
