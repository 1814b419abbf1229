package metrics

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flintcti/flint/internal/feed"
)

type fakeSource struct {
	chs []feed.Channel
	err error
}

func (f fakeSource) Channels(context.Context, string) ([]feed.Channel, error) { return f.chs, f.err }
func (f fakeSource) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"write": {MaxOpenConnections: 1, InUse: 1, WaitCount: 3, WaitDuration: time.Second}}
}

// every metric observed once, so that lint and the text see each family.
func populated(t *testing.T, src Source) *Metrics {
	t.Helper()
	m := New(src, "test")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.Ended("main", feed.Indicators, feed.PollRun{Outcome: feed.OutcomeOK, Started: start, Ended: start.Add(3 * time.Second)})
	m.Committed("main", feed.Indicators, feed.Counts{New: 5, Updated: 2, Unchanged: 1, Invalid: 1})
	m.Wrote("main", feed.Indicators, "commit", 20*time.Millisecond)
	u := m.Upstream("main")
	u.UpstreamRequest("indicators", 200, "200", 50*time.Millisecond)
	u.UpstreamRequest("indicators", 0, "timeout", time.Second)
	u.UpstreamRetry("indicators", "503")
	u.UpstreamWait(20 * time.Millisecond)
	u.UpstreamWait(0) // no wait: not counted
	m.Purged(4)
	m.NotifyAttempt("exposure", "failed")
	m.NotifyAttempt("exposure", "delivered")
	return m
}

// Names, help, units and types follow Prometheus conventions (client_golang's
// linter finds no problem), and each observation lands where it should.
func TestMetricsFollowConventions(t *testing.T) {
	src := fakeSource{chs: []feed.Channel{{ID: 1, Instance: "main", Kind: feed.Indicators,
		Settings: feed.Settings{Enabled: true}, Health: feed.Health{Status: feed.ConnectionError, Restores: 2, Since: time.Unix(100, 0)}}}}
	m := populated(t, src)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	want := `
# HELP flint_poll_objects_total Items polls committed, by result: new, updated, unchanged, filtered, invalid, unsupported.
# TYPE flint_poll_objects_total counter
flint_poll_objects_total{channel="indicators",instance="main",result="invalid"} 1
flint_poll_objects_total{channel="indicators",instance="main",result="new"} 5
flint_poll_objects_total{channel="indicators",instance="main",result="unchanged"} 1
flint_poll_objects_total{channel="indicators",instance="main",result="updated"} 2
# HELP flint_polls_total Polls ended, by instance, channel and outcome (ok, failed).
# TYPE flint_polls_total counter
flint_polls_total{channel="indicators",instance="main",outcome="ok"} 1
# HELP flint_upstream_requests_total Requests to Flashpoint Ignite, retries included, by instance, endpoint and code (HTTP status, or the failure: timeout, dns, tls, refused, reset, bad_response).
# TYPE flint_upstream_requests_total counter
flint_upstream_requests_total{code="200",endpoint="indicators",instance="main"} 1
flint_upstream_requests_total{code="timeout",endpoint="indicators",instance="main"} 1
# HELP flint_upstream_retries_total Requests to Flashpoint Ignite retried, by the code of the failure retried (429, 5xx, reset).
# TYPE flint_upstream_retries_total counter
flint_upstream_retries_total{code="503",endpoint="indicators",instance="main"} 1
# HELP flint_upstream_rate_limit_waits_total Requests to Flashpoint Ignite that waited for the rate limiter.
# TYPE flint_upstream_rate_limit_waits_total counter
flint_upstream_rate_limit_waits_total 1
# HELP flint_retention_purged_objects_total Deprecated objects purged by retention.
# TYPE flint_retention_purged_objects_total counter
flint_retention_purged_objects_total 4
# HELP flint_notify_attempts_total Webhook delivery attempts, by event kind and result: delivered, failed (retried later), given_up.
# TYPE flint_notify_attempts_total counter
flint_notify_attempts_total{event="exposure",result="delivered"} 1
flint_notify_attempts_total{event="exposure",result="failed"} 1
# HELP flint_channel_status A channel's working status: 1 for the status it is in (running, connection_error, disabled), 0 for the others.
# TYPE flint_channel_status gauge
flint_channel_status{channel="indicators",instance="main",status="connection_error"} 1
flint_channel_status{channel="indicators",instance="main",status="disabled"} 0
flint_channel_status{channel="indicators",instance="main",status="running"} 0
# HELP flint_channel_restore_attempts Failed restore attempts since a channel's connection error began.
# TYPE flint_channel_restore_attempts gauge
flint_channel_restore_attempts{channel="indicators",instance="main"} 2
# HELP flint_store_up Whether the store answered the scrape's read of channel health (1) or not (0).
# TYPE flint_store_up gauge
flint_store_up 1
# HELP flint_db_waits_total Times a database pool had no connection free and a caller waited.
# TYPE flint_db_waits_total counter
flint_db_waits_total{pool="write"} 3
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "flint_poll_objects_total", "flint_polls_total",
		"flint_upstream_requests_total", "flint_upstream_retries_total", "flint_upstream_rate_limit_waits_total",
		"flint_retention_purged_objects_total", "flint_channel_status", "flint_channel_restore_attempts", "flint_store_up",
		"flint_db_waits_total", "flint_notify_attempts_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.pollDuration); n != 1 {
		t.Errorf("poll duration series: %d", n)
	}
	// The Go runtime's and the process's collectors are there.
	families, _ := m.Registry().Gather()
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, n := range []string{"go_goroutines", "process_resident_memory_bytes", "flint_build_info", "flint_upstream_request_duration_seconds",
		"flint_store_write_seconds", "flint_db_connections"} {
		if !names[n] {
			t.Errorf("no %s", n)
		}
	}
}

// A store that does not answer is a 0 in flint_store_up, and the rest is
// still served.
func TestStoreDownStillServes(t *testing.T) {
	m := populated(t, fakeSource{err: errors.New("down")})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, "flint_store_up 0") || !strings.Contains(body, "flint_polls_total") ||
		strings.Contains(body, "flint_channel_status") {
		t.Fatalf("%d %s", rec.Code, body)
	}
}

// HTTP requests are labelled by the route pattern that served them, never
// by the path a client sent: the label's values are bounded.
func TestInstrumentLabelsByRoute(t *testing.T) {
	m := New(nil, "test")
	mux := http.NewServeMux()
	inner := http.NewServeMux()
	inner.HandleFunc("GET /api/v1/objects/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	inner.HandleFunc("/", http.NotFound)
	mux.Handle("/api/", inner)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("home")) })
	h := m.Instrument(mux)
	for _, p := range []string{"/api/v1/objects/1", "/api/v1/objects/2", "/api/v1/nothing/" + strings.Repeat("x", 50), "/", "/elsewhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	want := `
# HELP flint_http_requests_total HTTP requests served (REST API, TAXII, blocklists, console), by route pattern and status code.
# TYPE flint_http_requests_total counter
flint_http_requests_total{code="200",route="GET /{$}"} 1
flint_http_requests_total{code="404",route="other"} 2
flint_http_requests_total{code="418",route="GET /api/v1/objects/{id}"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "flint_http_requests_total"); err != nil {
		t.Error(err)
	}
}
