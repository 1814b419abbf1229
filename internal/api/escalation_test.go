package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
)

// A capped key creates only keys capped at or below its cap: it cannot mint
// itself a way around the cap.
func TestCappedAdminCannotCreateAWiderKey(t *testing.T) {
	e := newEnv(t)
	capped := e.key("capped-admin", auth.Admin, intel.TLPGreen)
	for _, tc := range []struct {
		maxTLP string
		status int
	}{
		{"", http.StatusForbidden},      // uncapped
		{"red", http.StatusForbidden},   // above its cap
		{"amber", http.StatusForbidden}, // above its cap
		{"green", http.StatusCreated},   // its own cap
		{"clear", http.StatusCreated},   // below it
	} {
		r := e.do("POST", "/api/v1/keys", capped, map[string]any{"name": "minted-" + tc.maxTLP, "role": "analyst", "max_tlp": tc.maxTLP})
		if r.status != tc.status {
			t.Errorf("capped admin creating a key capped at %q: %d %s, want %d", tc.maxTLP, r.status, r.body, tc.status)
		}
		if tc.status == http.StatusForbidden && !strings.Contains(string(r.body), "capped at TLP green") {
			t.Errorf("the refusal does not say why: %s", r.body)
		}
	}
	// The uncapped admin creates what it likes.
	if r := e.do("POST", "/api/v1/keys", e.admin, map[string]any{"name": "wide", "role": "admin"}); r.status != http.StatusCreated {
		t.Errorf("uncapped admin: %d %s", r.status, r.body)
	}
	keys, err := e.store.APIKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.HasPrefix(k.Name, "minted-") && (k.MaxTLP == "" || k.MaxTLP.Rank() > intel.TLPGreen.Rank()) {
			t.Errorf("a key wider than its creator was stored: %+v", k)
		}
	}
}

// No capped principal changes a channel's TLP, in either direction: it
// could otherwise re-mark red intelligence clear and read it.
func TestCappedKeyCannotRemarkAChannel(t *testing.T) {
	e := newEnv(t)
	e.addInstance("main", "good")
	path := "/api/v1/instances/main/channels/indicators"
	if r := e.do("PATCH", path, e.admin, map[string]any{"tlp": "red"}); r.status != http.StatusOK {
		t.Fatalf("uncapped admin sets red: %d %s", r.status, r.body)
	}
	for _, k := range []string{e.key("capped-admin", auth.Admin, intel.TLPGreen), e.key("capped-manager", auth.FeedManager, intel.TLPAmber)} {
		for _, tlp := range []string{"clear", "green", "amber+strict"} {
			if r := e.do("PATCH", path, k, map[string]any{"tlp": tlp}); r.status != http.StatusForbidden {
				t.Errorf("a capped key set the channel's TLP to %s: %d %s", tlp, r.status, r.body)
			}
		}
		// Other settings stay its to change; the same TLP given back is no change.
		if r := e.do("PATCH", path, k, map[string]any{"confidence": 80, "tlp": "red"}); r.status != http.StatusOK {
			t.Errorf("a capped key changing the confidence: %d %s", r.status, r.body)
		}
	}
	ch, err := e.store.Channel(context.Background(), "main", feed.Indicators)
	if err != nil || ch.Settings.TLP != intel.TLPRed {
		t.Fatalf("channel TLP %q after the refusals: %v", ch.Settings.TLP, err)
	}
}

// An instance name is never read as another instance's id.
func TestNumericInstanceNames(t *testing.T) {
	e := newEnv(t)
	first := e.addInstance("alpha", "good")
	second := e.addInstance("beta", "good")
	for _, name := range []string{fmt.Sprint(first.ID), "007"} {
		r := e.do("POST", "/api/v1/instances", e.admin, map[string]any{"name": name, "base_url": e.simURL, "token": "good"})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "all digits") {
			t.Errorf("instance named %q: %d %s", name, r.status, r.body)
		}
		r = e.do("PATCH", "/api/v1/instances/beta", e.admin, map[string]any{"name": name})
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("rename to %q: %d %s", name, r.status, r.body)
		}
	}
	// A name stored before the rule (here written to the store directly)
	// does not shadow the instance whose id it spells.
	legacy, err := e.store.CreateInstance(context.Background(), feed.Instance{Name: fmt.Sprint(second.ID), BaseURL: e.simURL, VerifyTLS: true},
		"good", e.api.Service.Seal, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got feed.Instance
	e.do("GET", fmt.Sprintf("/api/v1/instances/%d", second.ID), e.admin, nil).json(t, &got)
	if got.ID != second.ID || got.Name != "beta" {
		t.Errorf("GET /instances/%d answered instance %d %q (the legacy one is %d)", second.ID, got.ID, got.Name, legacy.ID)
	}
	e.do("GET", fmt.Sprintf("/api/v1/instances/%d", legacy.ID), e.admin, nil).json(t, &got)
	if got.ID != legacy.ID {
		t.Errorf("the legacy instance is not reachable by its id: %+v", got)
	}
}

// The stored Flashpoint token never goes to another server: a base URL
// with another scheme, host or port needs the token again.
func TestBaseURLChangeNeedsTheToken(t *testing.T) {
	e := newEnv(t)
	e.addInstance("main", "good")
	mgr := e.key("manager", auth.FeedManager, "")
	elsewhere := strings.Replace(e.simURL, "127.0.0.1", "localhost", 1)
	r := e.do("PATCH", "/api/v1/instances/main", mgr, map[string]any{"base_url": elsewhere})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "give the token again") {
		t.Fatalf("a new host without the token: %d %s", r.status, r.body)
	}
	in, _ := e.store.Instance(context.Background(), "main")
	if in.BaseURL != e.simURL {
		t.Fatalf("the base URL changed anyway: %s", in.BaseURL)
	}
	// The same server written differently, or a path below it, keeps the token.
	if r := e.do("PATCH", "/api/v1/instances/main", mgr, map[string]any{"base_url": e.simURL + "/"}); r.status != http.StatusOK {
		t.Errorf("the same origin: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/api/v1/instances/main", mgr, map[string]any{"base_url": elsewhere, "token": "good"}); r.status != http.StatusOK {
		t.Errorf("a new host with the token: %d %s", r.status, r.body)
	}
}

// /healthz without a key says whether each channel is healthy and nothing
// else; a key that may view feed sources gets the details.
func TestHealthzWithoutAKeyRevealsNothing(t *testing.T) {
	e := newEnv(t)
	e.addInstance("Secret Ops Tenant", "wrong-token")
	ch, _ := e.store.Channel(context.Background(), "Secret Ops Tenant", feed.Indicators)
	e.sched.Test(context.Background(), ch) // 401: the channel is in connection_error with a message
	r := e.do("GET", "/healthz", "", nil)
	body := string(r.body)
	if r.status != http.StatusOK || !strings.Contains(body, `"degraded"`) || !strings.Contains(body, `"healthy":false`) {
		t.Fatalf("public healthz: %d %s", r.status, body)
	}
	for _, leak := range []string{"Secret Ops", "indicators", "401", "unauthorized", "version", "message"} {
		if strings.Contains(body, leak) {
			t.Errorf("public healthz shows %q: %s", leak, body)
		}
	}
	r = e.do("GET", "/healthz", e.key("viewer", auth.Analyst, ""), nil)
	if body := string(r.body); !strings.Contains(body, "Secret Ops Tenant") || !strings.Contains(body, `"error_code":"401"`) {
		t.Errorf("healthz with a view_feed_source key: %s", body)
	}
	if r := e.do("GET", "/healthz", "flint_notakeynotakeynotakey", nil); r.status != http.StatusUnauthorized {
		t.Errorf("healthz with a bad key: %d", r.status)
	}
}
