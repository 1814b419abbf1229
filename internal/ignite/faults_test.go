package ignite_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
)

// requests returns how many times the simulator answered endpoint with status.
func requests(s *sim.Server, endpoint string, status int) int {
	return s.Requests()[fmt.Sprintf("%s %d", endpoint, status)]
}

func TestFaultClasses(t *testing.T) {
	ctx := context.Background()
	q := ignite.IndicatorQuery{Size: 50, ModifiedAfter: simNow.Add(-61 * 24 * time.Hour)}
	for _, tc := range []struct {
		name      string
		fault     sim.Fault
		opts      func(*ignite.Options)
		class     ignite.Class // "" means the call succeeds after retries
		code      string
		attempts  int // requests the simulator saw in all
		status    int // status of the failed attempts, for the counter
		minWaited time.Duration
	}{
		{name: "429 with Retry-After seconds is absorbed", fault: sim.Fault{Status: 429, RetryAfter: "1", Count: 2}, attempts: 3, status: 429,
			opts: func(o *ignite.Options) { o.RetryAfterCap = 2 * time.Second }, minWaited: 1900 * time.Millisecond},
		{name: "429 with an HTTP-date Retry-After is absorbed", fault: sim.Fault{Status: 429, RetryAfter: "1", RetryAfterDate: true, Count: 1}, attempts: 2, status: 429},
		{name: "503 storm shorter than the retries", fault: sim.Fault{Status: 503, Count: 3}, attempts: 4, status: 503},
		{name: "502 once", fault: sim.Fault{Status: 502, Count: 1}, attempts: 2, status: 502},
		{name: "504 once", fault: sim.Fault{Status: 504, Count: 1}, attempts: 2, status: 504},
		{name: "reset mid-body once", fault: sim.Fault{Reset: true, Count: 1}, attempts: 2, status: 200},
		{name: "persistent 500", fault: sim.Fault{Status: 500}, class: ignite.ClassUpstream, code: "500", attempts: 5, status: 500},
		{name: "persistent 429", fault: sim.Fault{Status: 429, RetryAfter: "0"}, class: ignite.ClassRateLimited, code: "429", attempts: 5, status: 429},
		{name: "persistent reset", fault: sim.Fault{Reset: true}, class: ignite.ClassNetwork, code: "reset", attempts: 5, status: 200},
		{name: "truncated JSON is not retried", fault: sim.Fault{Truncate: true}, class: ignite.ClassBadResponse, code: "bad_response", attempts: 1, status: 200},
		{name: "HTML instead of JSON", fault: sim.Fault{NotJSON: true}, class: ignite.ClassBadResponse, code: "bad_response", attempts: 1, status: 200},
		{name: "slower than the timeout", fault: sim.Fault{Latency: sim.Duration(2 * time.Second)}, class: ignite.ClassNetwork, code: "timeout", attempts: 1,
			opts: func(o *ignite.Options) { o.Timeout = 200 * time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, base := newSim(t, sim.Config{Seed: 2, Indicators: 500})
			s.SetFault(sim.EPIndicators, tc.fault)
			mods := []func(*ignite.Options){}
			if tc.opts != nil {
				mods = append(mods, tc.opts)
			}
			c := newClient(t, base, tokAll, mods...)
			started := time.Now()
			page, err := c.ListIndicators(ctx, q)
			waited := time.Since(started)
			if tc.class == "" {
				if err != nil {
					t.Fatalf("want success after retries, got %v", err)
				}
				if len(page.Items) != 50 {
					t.Fatalf("got %d items", len(page.Items))
				}
				if got := requests(s, sim.EPIndicators, tc.status); tc.status != 200 && got != tc.attempts-1 {
					t.Fatalf("simulator answered %d times with %d, want %d", got, tc.status, tc.attempts-1)
				}
				if waited < tc.minWaited {
					t.Fatalf("Retry-After not honoured: waited %v, want at least %v", waited, tc.minWaited)
				}
				return
			}
			var e *ignite.Error
			if !errors.As(err, &e) {
				t.Fatalf("want *ignite.Error, got %v", err)
			}
			if e.Class != tc.class || e.Code() != tc.code {
				t.Fatalf("class %s code %s, want %s %s (%v)", e.Class, e.Code(), tc.class, tc.code, err)
			}
			if e.Attempts != tc.attempts {
				t.Fatalf("%d attempts, want %d", e.Attempts, tc.attempts)
			}
			if strings.Contains(err.Error(), tokAll) {
				t.Fatalf("error leaks the token: %v", err)
			}
		})
	}
}

func TestConflictingItemKeepsTheRestOfThePage(t *testing.T) {
	for _, ep := range []string{sim.EPIndicators, sim.EPVulnerabilities, sim.EPReports, sim.EPEvents} {
		t.Run(ep, func(t *testing.T) {
			s, base := newSim(t, sim.Config{Seed: 4, Indicators: 300, Vulnerabilities: 300, Reports: 30})
			c := newClient(t, base, tokAll)
			ctx := context.Background()
			s.SetFault(ep, sim.Fault{Conflict: true, Count: 1})
			var good, bad int
			switch ep {
			case sim.EPIndicators:
				p, err := c.ListIndicators(ctx, ignite.IndicatorQuery{Size: 20, ModifiedAfter: simNow.Add(-61 * 24 * time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				good, bad = len(p.Items), len(p.Invalid)
			case sim.EPVulnerabilities:
				p, err := c.ListVulnerabilities(ctx, ignite.VulnerabilityQuery{Size: 20})
				if err != nil {
					t.Fatal(err)
				}
				good, bad = len(p.Items), len(p.Invalid)
			case sim.EPReports:
				p, err := c.ListReports(ctx, ignite.ReportQuery{Limit: 20})
				if err != nil {
					t.Fatal(err)
				}
				good, bad = len(p.Items), len(p.Invalid)
			case sim.EPEvents:
				reports, err := c.ListReports(ctx, ignite.ReportQuery{Limit: 30})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range reports.Items {
					if truthEvents := truth(t, s, "events", map[string][]string{"report": {r.ID}}); len(truthEvents) < 2 {
						continue
					}
					p, err := c.ListEvents(ctx, ignite.EventQuery{Report: r.ID, Limit: 10})
					if err != nil {
						t.Fatal(err)
					}
					good, bad = len(p.Items), len(p.Invalid)
					break
				}
			}
			if bad != 1 || good == 0 {
				t.Fatalf("%d good and %d invalid items: want the bad one isolated", good, bad)
			}
		})
	}
}

func TestNetworkErrorClasses(t *testing.T) {
	ctx := context.Background()
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = newClient(t, "http://"+addr, "x").ListIndicators(ctx, ignite.IndicatorQuery{})
		if ignite.ErrorCode(err) != "refused" {
			t.Fatalf("want refused, got %v", err)
		}
	})
	t.Run("dns", func(t *testing.T) {
		_, err := newClient(t, "http://flint-no-such-host.invalid", "x").ListIndicators(ctx, ignite.IndicatorQuery{})
		if ignite.ErrorCode(err) != "dns" {
			t.Fatalf("want dns, got %v", err)
		}
	})
	tlsSrv := httptest.NewTLSServer(sim.New(sim.Config{Now: simNow, Indicators: 10}).Handler())
	defer tlsSrv.Close()
	t.Run("tls verification on by default", func(t *testing.T) {
		_, err := newClient(t, tlsSrv.URL, sim.DefaultToken).ListIndicators(ctx, ignite.IndicatorQuery{})
		if ignite.ErrorCode(err) != "tls" {
			t.Fatalf("want tls, got %v", err)
		}
	})
	t.Run("tls verification off per instance", func(t *testing.T) {
		c := newClient(t, tlsSrv.URL, sim.DefaultToken, func(o *ignite.Options) { o.InsecureSkipVerify = true })
		if _, err := c.ListIndicators(ctx, ignite.IndicatorQuery{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("trusted certificate", func(t *testing.T) {
		tr := tlsSrv.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
		c := newClient(t, tlsSrv.URL, sim.DefaultToken, func(o *ignite.Options) { o.Transport = tr })
		if _, err := c.ListIndicators(ctx, ignite.IndicatorQuery{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCancellationStopsRetries(t *testing.T) {
	s, base := newSim(t, sim.Config{Seed: 2, Indicators: 100})
	s.SetFault(sim.EPIndicators, sim.Fault{Status: 503, RetryAfter: "30"})
	c := newClient(t, base, tokAll, func(o *ignite.Options) { o.RetryAfterCap = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err := c.ListIndicators(ctx, ignite.IndicatorQuery{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
	// Retries would wait out the 30 s Retry-After; a cancelled request
	// returns long before, however busy the machine.
	if d := time.Since(started); d > 20*time.Second {
		t.Fatalf("cancellation took %v: the client waited for the Retry-After", d)
	}
}

// fakeAPI serves pages from a function of the request, for pager edge cases.
func fakeAPI(t *testing.T, handle func(from int, r *http.Request) string) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		from := 0
		fmt.Sscan(r.URL.Query().Get("from")+r.URL.Query().Get("skip"), &from)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(handle(from, r)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func items(from, n int) string {
	var parts []string
	for i := from; i < from+n; i++ {
		parts = append(parts, fmt.Sprintf(`{"id": "i%d", "type": "ipv4", "value": "192.0.2.%d"}`, i, i%250))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// countItems drains p and counts its items, stopping at the first error; a
// pager that goes past 100 pages fails the test.
func countItems[T any](t *testing.T, p *ignite.Pager[T]) (int, error) {
	t.Helper()
	n := 0
	for p.More() {
		page, err := p.Next(context.Background())
		if page != nil {
			n += len(page.Items)
		}
		if err != nil {
			return n, err
		}
		if p.Pages() > 100 {
			t.Fatal("pager did not stop")
		}
	}
	return n, nil
}

func TestPagerStops(t *testing.T) {
	ctx := context.Background()
	t.Run("next null", func(t *testing.T) {
		base, calls := fakeAPI(t, func(from int, r *http.Request) string {
			next := fmt.Sprintf(`"%s?from=%d&size=10"`, ignite.PathIndicators, from+10)
			if from >= 20 {
				next = "null"
			}
			return fmt.Sprintf(`{"items": %s, "total": null, "pagination": {"next": %s}}`, items(from, 10), next)
		})
		n, err := countItems(t, newClient(t, base, "x").Indicators(ignite.IndicatorQuery{Size: 10}))
		if err != nil || n != 30 || calls.Load() != 3 {
			t.Fatalf("n=%d calls=%d err=%v", n, calls.Load(), err)
		}
	})
	t.Run("empty page", func(t *testing.T) {
		base, calls := fakeAPI(t, func(from int, r *http.Request) string {
			if from >= 20 {
				return `{"items": [], "total": null, "pagination": {"next": "/technical-intelligence/v2/indicators?from=30"}}`
			}
			return fmt.Sprintf(`{"items": %s, "total": null, "pagination": {"next": "%s?from=%d"}}`, items(from, 10), ignite.PathIndicators, from+10)
		})
		n, err := countItems(t, newClient(t, base, "x").Indicators(ignite.IndicatorQuery{Size: 10}))
		if err != nil || n != 20 || calls.Load() != 3 {
			t.Fatalf("n=%d calls=%d err=%v", n, calls.Load(), err)
		}
	})
	t.Run("next does not advance", func(t *testing.T) {
		base, calls := fakeAPI(t, func(from int, r *http.Request) string {
			return fmt.Sprintf(`{"items": %s, "total": null, "pagination": {"next": "%s?from=10&size=10"}}`, items(from, 10), ignite.PathIndicators)
		})
		_, err := countItems(t, newClient(t, base, "x").Indicators(ignite.IndicatorQuery{Size: 10}))
		if ignite.ErrorClass(err) != ignite.ClassBadResponse || !strings.Contains(err.Error(), "does not advance") || calls.Load() != 2 {
			t.Fatalf("calls=%d err=%v", calls.Load(), err)
		}
	})
	t.Run("next link to another host keeps the token home", func(t *testing.T) {
		var leaked atomic.Bool
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "" {
				leaked.Store(true)
			}
		}))
		defer evil.Close()
		base, calls := fakeAPI(t, func(from int, r *http.Request) string {
			next := fmt.Sprintf(`"%s%s?from=%d"`, evil.URL, ignite.PathIndicators, from+10)
			if from >= 10 {
				next = "null"
			}
			return fmt.Sprintf(`{"items": %s, "total": null, "pagination": {"next": %s}}`, items(from, 10), next)
		})
		n, err := countItems(t, newClient(t, base, "secret").Indicators(ignite.IndicatorQuery{Size: 10}))
		if err != nil || n != 20 || calls.Load() != 2 || leaked.Load() {
			t.Fatalf("n=%d calls=%d leaked=%v err=%v", n, calls.Load(), leaked.Load(), err)
		}
	})
	reports := func(total func(from int) int, pageLen func(from int) int) func(int, *http.Request) string {
		return func(from int, r *http.Request) string {
			n := pageLen(from)
			var parts []string
			for i := from; i < from+n; i++ {
				parts = append(parts, fmt.Sprintf(`{"id": "r%d", "title": "t"}`, i))
			}
			return fmt.Sprintf(`{"total": %d, "limit": 10, "count": %d, "skip": %d, "data": [%s]}`, total(from), n, from, strings.Join(parts, ","))
		}
	}
	t.Run("total reached", func(t *testing.T) {
		base, calls := fakeAPI(t, reports(func(int) int { return 25 }, func(from int) int { return min(10, 25-from) }))
		n, err := countItems(t, newClient(t, base, "x").Reports(ignite.ReportQuery{Limit: 10}))
		if err != nil || n != 25 || calls.Load() != 3 {
			t.Fatalf("n=%d calls=%d err=%v", n, calls.Load(), err)
		}
	})
	t.Run("total grows mid-way", func(t *testing.T) {
		total := func(from int) int {
			if from == 0 {
				return 15
			}
			return 32
		}
		base, calls := fakeAPI(t, reports(total, func(from int) int { return min(10, 32-from) }))
		n, err := countItems(t, newClient(t, base, "x").Reports(ignite.ReportQuery{Limit: 10}))
		if err != nil || n != 32 || calls.Load() != 4 {
			t.Fatalf("n=%d calls=%d err=%v", n, calls.Load(), err)
		}
	})
	t.Run("total shrinks mid-way", func(t *testing.T) {
		total := func(from int) int {
			if from == 0 {
				return 100
			}
			return 12
		}
		base, calls := fakeAPI(t, reports(total, func(from int) int { return min(10, max(12-from, 0)) }))
		n, err := countItems(t, newClient(t, base, "x").Reports(ignite.ReportQuery{Limit: 10}))
		if err != nil || n != 12 || calls.Load() != 2 {
			t.Fatalf("n=%d calls=%d err=%v", n, calls.Load(), err)
		}
	})
	t.Run("wrong envelope", func(t *testing.T) {
		base, _ := fakeAPI(t, func(int, *http.Request) string { return `{"results": []}` })
		_, err := newClient(t, base, "x").ListIndicators(ctx, ignite.IndicatorQuery{})
		if ignite.ErrorClass(err) != ignite.ClassBadResponse || !strings.Contains(err.Error(), "envelope") {
			t.Fatalf("err=%v", err)
		}
	})
}

func TestRetriesAreLoggedWithoutTheToken(t *testing.T) {
	s, base := newSim(t, sim.Config{Seed: 2, Indicators: 100})
	s.SetFault(sim.EPIndicators, sim.Fault{Status: 503, Count: 2})
	var logs strings.Builder
	c := newClient(t, base, tokAll, func(o *ignite.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if _, err := c.ListIndicators(context.Background(), ignite.IndicatorQuery{}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "ignite: retrying"); n != 2 {
		t.Fatalf("%d retry log lines, want 2:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "code=503") || strings.Contains(logs.String(), tokAll) {
		t.Fatalf("log lines:\n%s", logs.String())
	}
}

func TestNewValidatesOptions(t *testing.T) {
	for _, o := range []ignite.Options{
		{BaseURL: "ftp://api.example", Token: "x"},
		{BaseURL: "api.flashpoint.io", Token: "x"},
		{BaseURL: "https://api.flashpoint.io?x=1", Token: "x"},
		{BaseURL: "https://api.flashpoint.io", Token: " "},
		{BaseURL: "https://api.flashpoint.io", Token: "a\nb"},
	} {
		c, err := ignite.New(o)
		if err == nil || c != nil {
			t.Errorf("%+v: want an error", o.BaseURL)
			continue
		}
		if o.Token != "x" && strings.Contains(err.Error(), o.Token) && strings.TrimSpace(o.Token) != "" {
			t.Errorf("error repeats the token: %v", err)
		}
	}
	c, err := ignite.New(ignite.Options{Token: "x"})
	if err != nil || c.BaseURL() != ignite.DefaultBaseURL {
		t.Fatalf("default base URL: %v %v", err, c)
	}
}

func TestRateLimitIsPerClient(t *testing.T) {
	_, base := newSim(t, sim.Config{Seed: 2, Indicators: 100})
	c := newClient(t, base, tokAll, func(o *ignite.Options) { o.RateLimit, o.RateBurst = 10, 1 })
	started := time.Now()
	for range 6 {
		if _, err := c.ListIndicators(context.Background(), ignite.IndicatorQuery{Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// Six requests at 10/s with a burst of one cannot finish in under 500 ms.
	if d := time.Since(started); d < 450*time.Millisecond {
		t.Fatalf("6 requests took %v: the limiter did not hold them back", d)
	}
}
