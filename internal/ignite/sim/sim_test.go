package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func TestIDsRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 20000; i += 7 {
		id := makeID(42, dsInds, i)
		if len(id) != 22 || seen[id] {
			t.Fatalf("id %q for %d: wrong length or repeated", id, i)
		}
		seen[id] = true
		back, ok := parseID(42, dsInds, id)
		if !ok || back != i {
			t.Fatalf("parseID(%q) = %d %v, want %d", id, back, ok, i)
		}
		if _, ok := parseID(42, dsReports, id); ok {
			t.Fatalf("an indicator id parsed as a report id")
		}
	}
}

// The grid walk must visit every existing item exactly once, in order of its
// modification time, whatever the clock.
func TestModCursorOrderAndCoverage(t *testing.T) {
	tl := newTimeline(9, dsInds, 3000, 30*24*time.Hour, testNow, 10)
	for _, clock := range []time.Time{testNow, testNow.Add(36 * time.Hour), testNow.Add(40 * 24 * time.Hour)} {
		for _, desc := range []bool{false, true} {
			c := newModCursor(tl, clock, time.Time{}, time.Time{}, desc)
			seen := map[int]bool{}
			var last time.Time
			for {
				i, ok := c.next()
				if !ok {
					break
				}
				if seen[i] {
					t.Fatalf("item %d visited twice", i)
				}
				seen[i] = true
				m := tl.modified(i, clock)
				if !last.IsZero() && ((!desc && m.Before(last)) || (desc && m.After(last))) {
					t.Fatalf("out of order at item %d: %v after %v", i, m, last)
				}
				last = m
			}
			if len(seen) != tl.count(clock) {
				t.Fatalf("clock %v: visited %d of %d items", clock, len(seen), tl.count(clock))
			}
		}
		// A window visits exactly the items modified inside it.
		lo, hi := clock.Add(-5*24*time.Hour), clock.Add(-2*24*time.Hour)
		c := newModCursor(tl, clock, lo, hi, false)
		got := 0
		for {
			i, ok := c.next()
			if !ok {
				break
			}
			if m := tl.modified(i, clock); m.Before(lo) || !m.Before(hi) {
				t.Fatalf("item %d modified %v outside [%v, %v)", i, m, lo, hi)
			}
			got++
		}
		want := 0
		for i := 0; i < tl.count(clock); i++ {
			if m := tl.modified(i, clock); !m.Before(lo) && m.Before(hi) {
				want++
			}
		}
		if got != want || want == 0 {
			t.Fatalf("window: %d items, want %d", got, want)
		}
	}
}

func TestDeterministicBytes(t *testing.T) {
	body := func() string {
		s := New(Config{Seed: 5, Now: testNow, Indicators: 500, Vulnerabilities: 100, Reports: 20})
		out := ""
		for _, path := range []string{"/technical-intelligence/v2/indicators?size=50&modified_after=-60d&embed=all",
			"/vulnerability-intelligence/v1/vulnerabilities/400003", "/finished-intelligence/v1/reports?limit=5"} {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+DefaultToken)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
			}
			out += rec.Body.String()
		}
		return out
	}
	if a, b := body(), body(); a != b {
		t.Fatal("two simulators with the same seed and clock served different bytes")
	}
}

func TestParseDate(t *testing.T) {
	now := testNow
	for _, tc := range []struct {
		in     string
		strict bool
		want   time.Time
		ok     bool
	}{
		{"2026-01-02T03:04:05Z", true, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"2026-01-02", true, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), true},
		{"-30d", false, now.AddDate(0, 0, -30), true},
		{"-8h", false, now.Add(-8 * time.Hour), true},
		{"+1w", false, now.AddDate(0, 0, 7), true},
		{"-2M", false, now.AddDate(0, -2, 0), true},
		{"-15m", false, now.Add(-15 * time.Minute), true},
		{"now-7d", false, time.Time{}, false},
		{"2026-01-02T03:04:05+00:00", true, time.Time{}, false},
		{"2026-01-02T03:04:05+00:00", false, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
	} {
		got, err := parseDate(tc.in, now, tc.strict)
		if (err == nil) != tc.ok || (tc.ok && !got.Equal(tc.want)) {
			t.Errorf("parseDate(%q, strict=%v) = %v, %v", tc.in, tc.strict, got, err)
		}
	}
}

// max_page caps every list page, with a next link to the rest, and is set
// at run time through the admin API.
func TestMaxPageMode(t *testing.T) {
	s := New(Config{Seed: 3, Indicators: 50, Vulnerabilities: 20, Reports: 10})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("PUT", srv.URL+"/_sim/modes", strings.NewReader(`{"max_page": 3}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("set modes: %v %v", err, res)
	}
	res.Body.Close()
	get := func(path string) map[string]any {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+DefaultToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return m
	}
	ind := get("/technical-intelligence/v2/indicators?size=20&sort=modified_at:asc")
	if items := ind["items"].([]any); len(items) != 3 || ind["pagination"].(map[string]any)["next"] == nil {
		t.Errorf("indicators with max_page 3: %d items, next %v", len(items), ind["pagination"])
	}
	vul := get("/vulnerability-intelligence/v1/vulnerabilities?size=20")
	if results := vul["results"].([]any); len(results) != 3 || vul["next"] == nil {
		t.Errorf("vulnerabilities with max_page 3: %d results, next %v", len(results), vul["next"])
	}
	rep := get("/finished-intelligence/v1/reports?limit=20")
	if data := rep["data"].([]any); len(data) != 3 || rep["total"].(float64) <= 3 {
		t.Errorf("reports with max_page 3: %d, total %v", len(data), rep["total"])
	}
	req, _ = http.NewRequest("PUT", srv.URL+"/_sim/modes", strings.NewReader(`{"max_page": -1}`))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 400 {
		t.Errorf("a negative max_page: %v %v", err, res)
	}
}
