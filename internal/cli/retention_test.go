package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// Retention purges what expired more than its days ago, batch by batch,
// while a poll goes on writing between the batches; it is counted in the
// metrics and the audit trail, and keeps everything still valid.
func TestRetentionBesidePolling(t *testing.T) {
	_, up := upstream(t, sim.Config{Seed: 7, Reports: 1, Vulnerabilities: 1, Indicators: 8000, IndicatorWindow: 60 * 24 * time.Hour})
	dir := t.TempDir()
	mustCLI(t, dir, sim.DefaultToken+"\n", "instance", "add", "main", "--base-url", up)
	// Valid one day after the last report: most of 60 days of indicators
	// have expired.
	mustCLI(t, dir, "", "channel", "set", "main", "indicators", "--enable", "--schedule", "manual", "--deprecate-after", "1")
	mustCLI(t, dir, "", "channel", "poll", "main", "indicators")
	_, up2 := upstream(t, sim.Config{Seed: 8, Reports: 1, Vulnerabilities: 1, Indicators: 2000, IndicatorWindow: 24 * time.Hour})
	mustCLI(t, dir, sim.DefaultToken+"\n", "instance", "add", "other", "--base-url", up2)
	mustCLI(t, dir, "", "channel", "set", "other", "indicators", "--enable", "--schedule", "manual")
	ctx := context.Background()
	a, err := Open(ctx, dir, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Scheduler.Addresses = &ignite.AddrPolicy{AllowLoopback: true}
	a.Scheduler.PageSize = 100
	const days = 1
	now := time.Now()
	a.Service.Now = func() time.Time { return now }
	cutoff := now.Add(-days * 24 * time.Hour)
	expired, _ := a.Store.Count(ctx, store.Query{ValidUntilBefore: cutoff})
	valid, _ := a.Store.Count(ctx, store.Query{ValidUntilAfter: cutoff})
	if expired < 1000 || valid == 0 {
		t.Fatalf("expired %d, valid %d: the fixture needs both", expired, valid)
	}

	// Another instance's poll brings fresh indicators. Its first page
	// waits for the purge's first batch; the purge's second batch waits
	// for the poll's next page: the two interleave.
	firstBatch, nextPage := make(chan struct{}), make(chan struct{})
	pages, batches := 0, 0
	a.Scheduler.OnPage = func(run feed.PollRun) {
		if run.New == 0 {
			return
		}
		pages++
		switch pages {
		case 1:
			<-firstBatch
		case 2:
			close(nextPage)
		}
	}
	polled := make(chan error, 1)
	ch, _ := a.Store.Channel(ctx, "other", feed.Indicators)
	go func() {
		_, err := a.Scheduler.Poll(ctx, ch, feed.TriggerManual)
		polled <- err
	}()
	purged := a.Service.Purged
	a.Service.Purged = func(n int) {
		purged(n)
		batches++
		if batches == 1 {
			close(firstBatch)
			<-nextPage
		}
	}
	res, err := a.Service.PurgeExpired(ctx, auth.Operator("system:retention"), days)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	if batches < 2 || int64(res.Purged) != expired {
		t.Errorf("purged %d in %d batches; %d had expired", res.Purged, batches, expired)
	}
	if n, _ := a.Store.Count(ctx, store.Query{ValidUntilBefore: res.Cutoff}); n != 0 {
		t.Errorf("%d expired objects remain", n)
	}
	if n, _ := a.Store.Count(ctx, store.Query{ValidUntilAfter: cutoff}); n < valid {
		t.Errorf("valid objects: %d, %d before", n, valid)
	}
	// Counted in the metrics and the audit trail.
	rec := httptest.NewRecorder()
	a.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v := value(fams, "flint_retention_purged_objects_total", nil); int(v) != res.Purged {
		t.Errorf("metrics count %v purged", v)
	}
	recs, _, _ := a.Service.AuditTrail(ctx, auth.Operator("test"), 0, 10)
	var found bool
	for _, r := range recs {
		var d service.PurgeResult
		if r.Action == "purge" && r.Actor == "system:retention" && json.Unmarshal([]byte(r.Detail), &d) == nil && d.Purged == res.Purged {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit record of the purge: %+v", recs)
	}
	// Bounds and permissions.
	if _, err := a.Service.PurgeExpired(ctx, auth.Operator("x"), 0); err == nil || !strings.Contains(err.Error(), "1–3650") {
		t.Errorf("0 days: %v", err)
	}
	analyst := &auth.Principal{Name: "k", Role: auth.Analyst}
	if _, err := a.Service.PurgeExpired(ctx, analyst, 30); err == nil {
		t.Error("an analyst purged")
	}
	if _, errs, code := cli(t, dir, "", "serve", "--retention-days", "4000"); code == 0 || !strings.Contains(errs, "1–3650") {
		t.Errorf("serve --retention-days 4000: %d %s", code, errs)
	}
}
