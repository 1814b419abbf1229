package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/store"
)

// scrape reads a /metrics page into its families.
func scrape(t *testing.T, url, key string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return res.StatusCode, fams
}

// value sums the family's series whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
	f := fams[name]
	if f == nil {
		return 0
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && labels[k] == v
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// flint serve counts what a poll did and what the API served, at
// /metrics on --metrics-listen without a key and on the main address
// with a key that has view_feed_source.
func TestServeMetrics(t *testing.T) {
	s, up := upstream(t, sim.Config{Seed: 4, Reports: 2, Vulnerabilities: 10, Indicators: 700, IndicatorWindow: 10 * 24 * time.Hour})
	s.SetFault(sim.EPIndicators, sim.Fault{Status: 503, RetryAfter: "0", Count: 1}) // one retry
	dir := t.TempDir()
	mustCLI(t, dir, sim.DefaultToken+"\n", "instance", "add", "main", "--base-url", up)
	mustCLI(t, dir, "", "channel", "set", "main", "indicators", "--enable", "--schedule", "manual")
	admin := mustCLI(t, dir, "", "apikey", "create", "--name", "ops", "--role", "admin")
	analyst := mustCLI(t, dir, "", "apikey", "create", "--name", "reader", "--role", "analyst")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"--data-dir", dir, "--log-level", "warn", "--upstream-loopback", "serve", "--listen", "127.0.0.1:0",
			"--metrics-listen", "127.0.0.1:0"}, &out, &errb)
	}()
	mline, ok := out.waitFor("flint metrics on ", done)
	if !ok {
		t.Fatalf("serve ended: %s", errb.String())
	}
	line, ok := out.waitFor("flint serving on http://", done)
	if !ok {
		t.Fatalf("serve ended: %s", errb.String())
	}
	base := "http://" + strings.Fields(line)[0]
	metricsURL := strings.TrimSpace(mline)

	// Poll through the API and wait for the poll's end to be counted.
	req, _ := http.NewRequest("POST", base+"/api/v1/instances/1/channels/indicators/poll", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("poll: %v %v", res, err)
	}
	res.Body.Close()
	var fams map[string]*dto.MetricFamily
	for {
		_, fams = scrape(t, metricsURL, "")
		if value(fams, "flint_polls_total", nil) >= 1 {
			break
		}
		select {
		case <-done:
			t.Fatalf("serve ended: %s", errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	ch := map[string]string{"instance": "main", "channel": "indicators"}
	if v := value(fams, "flint_polls_total", map[string]string{"instance": "main", "channel": "indicators", "outcome": "ok"}); v != 1 {
		t.Errorf("ok polls: %v", v)
	}
	newObjects := value(fams, "flint_poll_objects_total", map[string]string{"instance": "main", "channel": "indicators", "result": "new"})
	var stored store.Result
	if out, _, _ := cli(t, dir, "", "--json", "search", "--limit", "1000"); json.Unmarshal([]byte(out), &stored) != nil ||
		newObjects < 700 || int(newObjects) != len(stored.Objects) {
		t.Errorf("new objects counted: %v, stored %d", newObjects, len(stored.Objects))
	}
	if v := value(fams, "flint_upstream_requests_total", map[string]string{"endpoint": "indicators", "code": "200"}); v < 1 {
		t.Errorf("upstream 200s: %v", v)
	}
	if v := value(fams, "flint_upstream_requests_total", map[string]string{"endpoint": "indicators", "code": "503"}); v != 1 {
		t.Errorf("upstream 503s: %v", v)
	}
	if v := value(fams, "flint_upstream_retries_total", map[string]string{"endpoint": "indicators", "code": "503"}); v != 1 {
		t.Errorf("retries: %v", v)
	}
	if v := value(fams, "flint_store_write_seconds", map[string]string{"operation": "commit"}); v < 1 {
		t.Errorf("commits timed: %v", v)
	}
	if v := value(fams, "flint_poll_duration_seconds", ch); v != 1 {
		t.Errorf("poll durations: %v", v)
	}
	if v := value(fams, "flint_channel_status", map[string]string{"instance": "main", "channel": "indicators", "status": "running"}); v != 1 {
		t.Errorf("channel running: %v", v)
	}
	if v := value(fams, "flint_http_requests_total", map[string]string{"route": "POST /api/v1/instances/{id}/channels/{channel}/poll",
		"code": "202"}); v != 1 {
		t.Errorf("API requests by route: %v", v)
	}
	if value(fams, "flint_db_max_open_connections", map[string]string{"pool": "write"}) < 1 || fams["go_goroutines"] == nil {
		t.Error("no pool or runtime metrics")
	}

	// On the main address: a key with view_feed_source, not without one.
	if code, _ := scrape(t, base+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a key: %d", code)
	}
	code, fams := scrape(t, base+"/metrics", analyst)
	if code != http.StatusOK || value(fams, "flint_polls_total", nil) != 1 {
		t.Errorf("/metrics with a key: %d", code)
	}
	// Every secret stays out: the upstream token and the keys.
	body := func(url string) string {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}(metricsURL)
	for _, secret := range []string{sim.DefaultToken, admin, analyst} {
		if strings.Contains(body, secret) {
			t.Errorf("the metrics show a secret")
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exit %d: %s", code, errb.String())
	}
}
