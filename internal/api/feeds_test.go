package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/api"
	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

type instanceView struct {
	feed.Instance
	Channels []feed.Channel `json:"channels"`
}

const secretToken = "good-SECRET-token-9f8e7d"

func TestInstanceLifecycle(t *testing.T) {
	e := newEnv(t)
	mgr := e.key("ops", auth.FeedManager, "")

	// Create: the token is write-only; the channels start disabled.
	r := e.do("POST", "/api/v1/instances", mgr, map[string]any{"name": "Prod", "base_url": e.simURL, "token": secretToken})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var in instanceView
	r.json(t, &in)
	if in.ID == 0 || in.Name != "Prod" || !in.VerifyTLS || !in.TokenSet || in.TokenHint != "…7d" && !strings.HasSuffix(in.TokenHint, "9f8e7d"[2:]) {
		t.Errorf("created %+v", in.Instance)
	}
	if len(in.Channels) != 3 || in.Channels[0].Settings.Enabled || in.Channels[0].Health.Status != feed.Disabled {
		t.Errorf("channels %+v", in.Channels)
	}
	if r.header.Get("Location") != fmt.Sprintf("/api/v1/instances/%d", in.ID) {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	// The same name in another case is a conflict.
	if r := e.do("POST", "/api/v1/instances", mgr, map[string]any{"name": "prod", "token": "x-token-123"}); r.status != http.StatusConflict {
		t.Errorf("duplicate: %d %s", r.status, r.body)
	}
	// Every bad field at once, none stored.
	r = e.do("POST", "/api/v1/instances", mgr, map[string]any{"name": "", "base_url": "ftp://x", "token": "two words"})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad create: %d %s", r.status, r.body)
	}
	fields := fieldNames(r.errorBody(t))
	if fields != "name,base_url,token" {
		t.Errorf("fields %s", fields)
	}
	if r := e.do("POST", "/api/v1/instances", mgr, map[string]any{"base_url": e.simURL}); fieldNames(r.errorBody(t)) != "name,token" {
		t.Errorf("missing fields: %s", r.body)
	}
	if r := e.do("POST", "/api/v1/instances", mgr, map[string]any{"name": "x", "token": "abc123456", "tokn": 1}); r.status != http.StatusBadRequest ||
		!strings.Contains(string(r.body), "tokn") {
		t.Errorf("unknown field: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/instances", mgr, map[string]any{"name": 5, "token": "abc123456"}); r.status != http.StatusUnprocessableEntity ||
		fieldNames(r.errorBody(t)) != "name" {
		t.Errorf("wrong type: %d %s", r.status, r.body)
	}

	// Read by id or by name.
	for _, ref := range []string{fmt.Sprint(in.ID), "prod"} {
		if r := e.do("GET", "/api/v1/instances/"+ref, mgr, nil); r.status != http.StatusOK {
			t.Errorf("get %s: %d", ref, r.status)
		}
	}
	if r := e.do("GET", "/api/v1/instances/nope", mgr, nil); r.status != http.StatusNotFound {
		t.Errorf("get unknown: %d", r.status)
	}

	// Update: rename and new token; the token never comes back.
	r = e.do("PATCH", fmt.Sprintf("/api/v1/instances/%d", in.ID), mgr, map[string]any{"name": "Production", "token": "good"})
	if r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	r.json(t, &in)
	if in.Name != "Production" || in.Channels[0].Instance != "Production" {
		t.Errorf("updated %+v", in.Instance)
	}

	// Test all channels: the simulator accepts "good".
	r = e.do("POST", "/api/v1/instances/Production/test", mgr, nil)
	var tests struct{ Results []service.TestResult }
	r.json(t, &tests)
	if r.status != http.StatusOK || len(tests.Results) != 3 || !tests.Results[0].OK {
		t.Errorf("test: %d %s", r.status, r.body)
	}

	// Migrate to a bad token: history stays, the channels say why.
	r = e.do("POST", "/api/v1/instances/Production/migrate", mgr, map[string]any{"base_url": e.simURL, "token": "revoked-token-1"})
	var mig struct {
		Instance instanceView
		Results  []service.TestResult
	}
	r.json(t, &mig)
	if r.status != http.StatusOK || len(mig.Results) != 3 || mig.Results[0].OK || mig.Results[0].ErrorCode != "401" {
		t.Errorf("migrate: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/instances/Production/migrate", mgr, map[string]any{"token": "abc12345"}); fieldNames(r.errorBody(t)) != "base_url" {
		t.Errorf("migrate without base_url: %s", r.body)
	}

	// Delete.
	if r := e.do("DELETE", "/api/v1/instances/Production", mgr, nil); r.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/instances", mgr, nil); !strings.Contains(string(r.body), `"instances":[]`) {
		t.Errorf("after delete: %s", r.body)
	}

	// The audit trail has every change, who made it, and no secret.
	r = e.do("GET", "/api/v1/audit", e.admin, nil)
	var trail struct{ Records []store.AuditRecord }
	r.json(t, &trail)
	var actions []string
	for _, rec := range trail.Records {
		actions = append(actions, rec.Action)
		if !strings.Contains(rec.Actor, "ops") {
			t.Errorf("record %+v: actor is not the key", rec)
		}
	}
	if got := strings.Join(actions, ","); got != "instance.delete,instance.migrate,instance.update,instance.create" {
		t.Errorf("audit actions %s", got)
	}
	for _, secret := range []string{secretToken, "revoked-token-1", `"good"`} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("the audit trail shows a token: %s", r.body)
		}
	}
}

func fieldNames(b api.ErrorBody) string {
	var out []string
	for _, f := range b.Error.Fields {
		out = append(out, f.Field)
	}
	return strings.Join(out, ",")
}

// No response of any route carries a token.
func TestTokensNeverReturned(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/v1/instances", e.admin, map[string]any{"name": "a", "base_url": e.simURL, "token": secretToken})
	if r.status != http.StatusCreated {
		t.Fatal(r.status)
	}
	for _, path := range []string{"/api/v1/instances", "/api/v1/instances/a", "/api/v1/instances/a/channels",
		"/api/v1/instances/a/channels/reports", "/api/v1/audit", "/healthz"} {
		r := e.do("GET", path, e.admin, nil)
		if strings.Contains(string(r.body), secretToken) || strings.Contains(string(r.body), "SECRET") {
			t.Errorf("%s shows the token: %s", path, r.body)
		}
	}
}

func TestChannelSettings(t *testing.T) {
	e := newEnv(t)
	e.addInstance("main", "good")
	path := "/api/v1/instances/main/channels/reports"
	r := e.do("PATCH", path, e.admin, map[string]any{"interval_minutes": 300, "tags": []string{"fp", "apt"}, "relevance": 40,
		"filters": map[string]any{}})
	if r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	var ch struct {
		feed.Channel
		Warnings []string
	}
	r.json(t, &ch)
	if ch.Settings.IntervalMinutes != 300 || len(ch.Settings.Tags) != 2 || *ch.Settings.Relevance != 40 || ch.Settings.TLP != intel.TLPAmber {
		t.Errorf("settings %+v", ch.Settings)
	}
	if len(ch.Warnings) != 1 || !strings.Contains(ch.Warnings[0], "1440") {
		t.Errorf("warnings %v (reports more often than daily are discouraged)", ch.Warnings)
	}
	// Unset a score with null; a list replaces.
	r = e.do("PATCH", path, e.admin, `{"relevance": null, "tags": ["x"]}`)
	ch.Channel, ch.Warnings = feed.Channel{}, nil
	r.json(t, &ch)
	if ch.Settings.Relevance != nil || len(ch.Settings.Tags) != 1 || ch.Settings.IntervalMinutes != 300 {
		t.Errorf("after null: %+v", ch.Settings)
	}

	// Every bad field, one error each; nothing changes.
	r = e.do("PATCH", path, e.admin, map[string]any{"interval_minutes": 10, "tlp": "purple", "confidence": 101, "deprecate_after_days": 0,
		"start_at": simNow.Add(-20 * 24 * time.Hour), "severity": 300, "filters": map[string]any{"min_score": "malicious"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad patch: %d %s", r.status, r.body)
	}
	b := r.errorBody(t)
	if got := fieldNames(b); got != "start_at,interval_minutes,tlp,confidence,deprecate_after_days,severity,filters" {
		t.Errorf("fields %s", got)
	}
	for _, f := range b.Error.Fields {
		if f.Field == "interval_minutes" && !strings.Contains(f.Message, "240–10080") {
			t.Errorf("message %q does not say what is allowed", f.Message)
		}
	}
	fresh, _ := e.store.Channel(context.Background(), "main", feed.Reports)
	if fresh.Settings.IntervalMinutes != 300 || fresh.Settings.TLP != intel.TLPAmber {
		t.Errorf("a refused change changed the channel: %+v", fresh.Settings)
	}
	if r := e.do("PATCH", path, e.admin, `{"confidence": "high"}`); r.status != http.StatusUnprocessableEntity || fieldNames(r.errorBody(t)) != "confidence" {
		t.Errorf("wrong type: %d %s", r.status, r.body)
	}
	for _, body := range []string{`{"start_at": "yesterday"}`, `{"start_at": 5}`} {
		if r := e.do("PATCH", path, e.admin, body); r.status != http.StatusUnprocessableEntity || fieldNames(r.errorBody(t)) != "start_at" {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	if r := e.do("PATCH", path, e.admin, `{"confidence": 5`); r.status != http.StatusBadRequest {
		t.Errorf("truncated JSON: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/api/v1/instances/main/channels/events", e.admin, `{}`); r.status != http.StatusNotFound {
		t.Errorf("unknown channel: %d %s", r.status, r.body)
	}

	// Disable, then enable.
	r = e.do("PATCH", path, e.admin, `{"enabled": false}`)
	r.json(t, &ch)
	if ch.Settings.Enabled || ch.Health.Status != feed.Disabled {
		t.Errorf("disabled: %+v %+v", ch.Settings.Enabled, ch.Health)
	}
	r = e.do("PATCH", path, e.admin, `{"enabled": true, "schedule": "manual"}`)
	ch.Channel = feed.Channel{}
	r.json(t, &ch)
	if !ch.Settings.Enabled || ch.Health.Status != feed.Running || !ch.NextRun.IsZero() {
		t.Errorf("enabled manual: %+v next %v", ch.Health, ch.NextRun)
	}
	r = e.do("GET", "/api/v1/audit?limit=3", e.admin, nil)
	var trail struct {
		Records []store.AuditRecord
		Next    string
	}
	r.json(t, &trail)
	if len(trail.Records) != 3 || trail.Records[0].Action != "channel.update" || trail.Next == "" ||
		!json.Valid(trail.Records[0].Detail) || !strings.Contains(string(trail.Records[0].Detail), `"before"`) {
		t.Errorf("audit: %s", r.body)
	}
}

func TestPollAndRuns(t *testing.T) {
	e := newEnv(t)
	e.addInstance("main", "good")
	r := e.do("POST", "/api/v1/instances/main/channels/indicators/poll", e.admin, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("poll: %d %s", r.status, r.body)
	}
	var started struct {
		RunID int64 `json:"run_id"`
	}
	r.json(t, &started)
	if started.RunID == 0 {
		t.Fatalf("no run id: %s", r.body)
	}
	// Once it has ended (a poll that never ends hangs until the test
	// binary's timeout), runs shows it.
	<-e.ended
	var runs struct{ Runs []feed.PollRun }
	e.do("GET", "/api/v1/instances/main/channels/indicators/runs", e.admin, nil).json(t, &runs)
	run := runs.Runs[0]
	// 400 indicators, and the attack patterns of their techniques.
	techniques, err := e.store.Count(context.Background(), store.Query{Types: []intel.Type{intel.AttackPattern}})
	if err != nil || techniques == 0 {
		t.Fatalf("%d attack patterns stored: %v", techniques, err)
	}
	if run.ID != started.RunID || run.Outcome != feed.OutcomeOK || run.New != 400+int(techniques) || run.Trigger != feed.TriggerManual {
		t.Errorf("run %+v", run)
	}
	if r := e.do("GET", "/api/v1/instances/main/channels/indicators/runs?limit=0", e.admin, nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("limit 0: %d", r.status)
	}
	// The collection the channel wrote.
	r = e.do("GET", "/api/v1/collections", e.admin, nil)
	var cols struct{ Collections []intel.Collection }
	r.json(t, &cols)
	if len(cols.Collections) != 1 || cols.Collections[0].Name != "main Indicators" || cols.Collections[0].Objects != 400+techniques {
		t.Errorf("collections %s", r.body)
	}

	// A poll while one runs is refused with 409.
	ch, _ := e.store.Channel(context.Background(), "main", feed.Indicators)
	lease, err := e.store.AcquireLease(context.Background(), ch.ID, "another replica", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("POST", "/api/v1/instances/main/channels/indicators/poll", e.admin, nil); r.status != http.StatusConflict {
		t.Errorf("busy: %d %s", r.status, r.body)
	}
	e.store.ReleaseLease(context.Background(), lease)

	// A channel test with a token that lacks vulnerabilities: 403, the channel alone in error.
	e.addInstance("partial", "novuln")
	r = e.do("POST", "/api/v1/instances/partial/channels/vulnerabilities/test", e.admin, nil)
	var tr service.TestResult
	r.json(t, &tr)
	if r.status != http.StatusOK || tr.OK || tr.ErrorCode != "403" || tr.Status != feed.ConnectionError {
		t.Errorf("test without entitlement: %s", r.body)
	}
}
