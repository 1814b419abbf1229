package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/notify"
)

// Notification rules and the allow-list over the API: each route checks
// its permission, a capped key cannot make a rule that sends above its
// cap, an exposure rule needs read_intel, a destination off the allow-list
// is refused, the webhook's URL never comes back, a test notification
// reaches the receiver signed, and every change is audited.
func TestNotifyAPI(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer rcv.Close()
	host := strings.TrimPrefix(rcv.URL, "http://")
	hook := rcv.URL + "/hook/TOKENPART-abc"
	manager, analyst := e.key("fm", auth.FeedManager, ""), e.key("an", auth.Analyst, "")
	capped := e.key("capped admin", auth.Admin, intel.TLPGreen)

	rule := map[string]any{"name": "ops", "event": "channel_error", "webhook": hook, "secret": "0123456789abcdef-secret"}
	for _, key := range []string{manager, analyst} {
		if r := e.do("POST", "/api/v1/notify/rules", key, rule); r.status != http.StatusForbidden {
			t.Errorf("a rule by a key without manage_notifications: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/api/v1/notify/destinations", key, map[string]string{"pattern": host}); r.status != http.StatusForbidden {
			t.Errorf("a destination by a key without manage_destinations: %d", r.status)
		}
	}
	if r := e.do("POST", "/api/v1/notify/rules", e.admin, rule); r.status != 422 || !strings.Contains(string(r.body), "not on the allow-list") ||
		strings.Contains(string(r.body), "TOKENPART") {
		t.Fatalf("a destination not allowed: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/notify/destinations", e.admin, map[string]string{"pattern": "https://" + host}); r.status != 422 {
		t.Errorf("a pattern with a scheme: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/notify/destinations", e.admin, map[string]string{"pattern": host}); r.status != http.StatusCreated {
		t.Fatalf("allow: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/notify/destinations", e.admin, map[string]string{"pattern": host}); r.status != http.StatusConflict {
		t.Errorf("allow twice: %d", r.status)
	}
	// A capped key: its rules send nothing above its cap, by default and when asked.
	wide := map[string]any{"name": "wide", "event": "exposure", "webhook": hook, "max_tlp": "amber"}
	if r := e.do("POST", "/api/v1/notify/rules", capped, wide); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "capped") {
		t.Errorf("a green-capped key makes an amber rule: %d %s", r.status, r.body)
	}
	delete(wide, "max_tlp")
	var made notify.Rule
	r := e.do("POST", "/api/v1/notify/rules", capped, wide)
	if r.status != http.StatusCreated {
		t.Fatalf("capped rule: %d %s", r.status, r.body)
	}
	r.json(t, &made)
	if made.MaxTLP != intel.TLPGreen {
		t.Errorf("a capped key's rule: max TLP %s", made.MaxTLP)
	}
	r = e.do("POST", "/api/v1/notify/rules", e.admin, rule)
	if r.status != http.StatusCreated || strings.Contains(string(r.body), "TOKENPART") || strings.Contains(string(r.body), "secret\"") {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	r.json(t, &made)
	if made.URLHint != "http://"+host+"/…" || !made.HasSecret || made.MaxTLP != intel.TLPAmber || made.Format != "json" {
		t.Errorf("the rule: %+v", made)
	}
	r = e.do("GET", "/api/v1/notify/rules", e.admin, nil)
	if r.status != 200 || strings.Contains(string(r.body), "TOKENPART") || !strings.Contains(string(r.body), `"ops"`) {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/notify/rules", e.admin, map[string]any{"name": "bad", "event": "no_data", "webhook": hook,
		"filters": map[string]any{"severities": []string{"high"}}}); r.status != 422 || !strings.Contains(string(r.body), "exposure rules only") {
		t.Errorf("a severity filter on a no_data rule: %d %s", r.status, r.body)
	}

	// A test notification: delivered, signed, with an idempotency key.
	var res struct {
		Delivered bool   `json:"delivered"`
		Status    int    `json:"status"`
		Error     string `json:"error"`
	}
	r = e.do("POST", "/api/v1/notify/rules/ops/test", e.admin, nil)
	r.json(t, &res)
	if r.status != 200 || !res.Delivered || res.Status != http.StatusAccepted {
		t.Fatalf("test: %d %s", r.status, r.body)
	}
	mu.Lock()
	if len(got) != 1 || got[0].Header.Get(notify.SignatureHeader) == "" || got[0].Header.Get(notify.IdempotencyHeader) == "" ||
		got[0].URL.Path != "/hook/TOKENPART-abc" {
		t.Errorf("the receiver got %d requests: %v", len(got), got)
	}
	var doc map[string]any
	json.Unmarshal(bodies[0], &doc)
	mu.Unlock()
	if doc["type"] != "test" || doc["rule"] != "ops" {
		t.Errorf("test document: %v", doc)
	}
	// Off the allow-list: the test is refused before any request, named.
	if r := e.do("DELETE", "/api/v1/notify/destinations/"+url.PathEscape(host), manager, nil); r.status != http.StatusForbidden {
		t.Errorf("disallow by a feed manager: %d", r.status)
	}
	if r := e.do("DELETE", "/api/v1/notify/destinations/"+url.PathEscape(host), e.admin, nil); r.status != http.StatusNoContent {
		t.Fatalf("disallow: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/api/v1/notify/rules/ops/test", e.admin, nil)
	r.json(t, &res)
	if res.Delivered || !strings.Contains(res.Error, "not on the allow-list") {
		t.Errorf("test off the allow-list: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/notify/deliveries?state=given_up", e.admin, nil); r.status != 200 {
		t.Errorf("deliveries: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/notify/deliveries?state=lost", e.admin, nil); r.status != 422 {
		t.Errorf("deliveries in an unknown state: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/api/v1/notify/rules/OPS", e.admin, nil); r.status != http.StatusNoContent {
		t.Errorf("remove: %d", r.status)
	}
	if r := e.do("DELETE", "/api/v1/notify/rules/ops", e.admin, nil); r.status != http.StatusNotFound {
		t.Errorf("remove twice: %d", r.status)
	}
	r = e.do("GET", "/api/v1/audit?limit=100", e.admin, nil)
	for _, want := range []string{"notify.destination.allow", "notify.destination.disallow", "notify.rule.add", "notify.rule.test", "notify.rule.remove"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("no %s in the audit trail", want)
		}
	}
	if strings.Contains(string(r.body), "TOKENPART") || strings.Contains(string(r.body), "0123456789abcdef-secret") {
		t.Error("the audit trail holds the webhook's token or the secret")
	}
}
