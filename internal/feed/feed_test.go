package feed

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestValidateBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                            DefaultBaseURL,
		"https://api.flashpoint.io/":  "https://api.flashpoint.io",
		"HTTPS://API.Flashpoint.io":   "https://api.flashpoint.io",
		"http://127.0.0.1:8931":       "http://127.0.0.1:8931",
		"http://localhost:1/prefix/":  "http://localhost:1/prefix",
		"http://[::1]:8931":           "http://[::1]:8931",
		"https://proxy.example/fp/v1": "https://proxy.example/fp/v1",
	} {
		got, err := ValidateBaseURL(in)
		if err != nil || got != want {
			t.Errorf("ValidateBaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"api.flashpoint.io":               "absolute http(s) URL",
		"ftp://api.flashpoint.io":         "absolute http(s) URL",
		"http://api.flashpoint.io":        "plain http",
		"http://10.0.0.1:8931":            "plain http",
		"https://api.flashpoint.io/?x=1":  "query or fragment",
		"https://api.flashpoint.io/#frag": "query or fragment",
		"https://user:pw@api.example":     "credentials",
	} {
		_, err := ValidateBaseURL(in)
		if intel.ErrorCode(err) != intel.EINVALID || !strings.Contains(err.Error(), msg) {
			t.Errorf("ValidateBaseURL(%q) error = %v, want one saying %q", in, err, msg)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestValidateNameAndToken(t *testing.T) {
	for _, ok := range []string{"Prod-Flashpoint Ignite", "a", strings.Repeat("x", 64), "Ünïcode"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", " lead", "trail ", strings.Repeat("x", 65), "tab\there"} {
		if err := ValidateName(bad); intel.ErrorCode(err) != intel.EINVALID {
			t.Errorf("ValidateName(%q) = %v", bad, err)
		}
	}
	for _, bad := range []string{"", "with space", "line\nbreak", strings.Repeat("x", 9000)} {
		err := ValidateToken(bad)
		if intel.ErrorCode(err) != intel.EINVALID {
			t.Errorf("ValidateToken(%.20q) = %v", bad, err)
		}
		if bad != "" && err != nil && strings.Contains(err.Error(), bad) {
			t.Errorf("the error repeats the token: %v", err)
		}
	}
	if h := TokenHint("abcdefghijkl"); h != "…ijkl" {
		t.Errorf("TokenHint = %q", h)
	}
	if h := TokenHint("short"); h != "…" {
		t.Errorf("a short token shows nothing: %q", h)
	}
}

func TestSettingsValidate(t *testing.T) {
	ok := DefaultSettings("prod", Indicators, now)
	if w, err := ok.Validate(Indicators, now); err != nil || len(w) != 0 {
		t.Fatalf("defaults: %v %v", w, err)
	}
	if ok.Collection != "prod Indicators" || ok.Schedule != Auto || ok.IntervalMinutes != 240 || ok.TLP != intel.TLPAmber ||
		ok.Confidence != 100 || ok.DeprecateAfterDays != 90 || ok.Enabled {
		t.Errorf("defaults = %+v", ok)
	}
	n := func(v int) *int { return &v }
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		kind Kind
		edit func(s *Settings)
		want string // "" = valid
	}{
		{"start 15 days ago", Indicators, func(s *Settings) { s.StartAt = now.Add(-MaxStartAge) }, ""},
		{"start now", Indicators, func(s *Settings) { s.StartAt = now }, ""},
		{"start too old", Indicators, func(s *Settings) { s.StartAt = now.Add(-MaxStartAge - time.Second) }, "start_at 2026-11-12T11:59:59Z is out of range"},
		{"start in the future", Indicators, func(s *Settings) { s.StartAt = now.Add(time.Second) }, "now − 15 days"},
		{"start missing", Indicators, func(s *Settings) { s.StartAt = time.Time{} }, "start_at is required"},
		{"interval 240", Indicators, func(s *Settings) { s.IntervalMinutes = 240 }, ""},
		{"interval 10080", Indicators, func(s *Settings) { s.IntervalMinutes = 10080 }, ""},
		{"interval 239", Indicators, func(s *Settings) { s.IntervalMinutes = 239 }, "interval_minutes 239 is out of range 240–10080"},
		{"interval 10081", Indicators, func(s *Settings) { s.IntervalMinutes = 10081 }, "interval_minutes 10081 is out of range"},
		{"manual checks its interval too", Indicators, func(s *Settings) { s.Schedule, s.IntervalMinutes = Manual, 0 }, "interval_minutes 0 is out of range 240–10080"},
		{"manual with an interval", Indicators, func(s *Settings) { s.Schedule, s.IntervalMinutes = Manual, 300 }, ""},
		{"schedule", Indicators, func(s *Settings) { s.Schedule = "hourly" }, `schedule "hourly" is not known; allowed: manual, auto`},
		{"tlp none", Indicators, func(s *Settings) { s.TLP = intel.TLPNone }, ""},
		{"tlp", Indicators, func(s *Settings) { s.TLP = "white" }, `tlp "white" is not known`},
		{"confidence 0", Indicators, func(s *Settings) { s.Confidence = 0 }, ""},
		{"confidence 101", Indicators, func(s *Settings) { s.Confidence = 101 }, "confidence 101 is out of range 0–100"},
		{"confidence -1", Indicators, func(s *Settings) { s.Confidence = -1 }, "confidence -1 is out of range"},
		{"deprecate 1", Indicators, func(s *Settings) { s.DeprecateAfterDays = 1 }, ""},
		{"deprecate 180", Indicators, func(s *Settings) { s.DeprecateAfterDays = 180 }, ""},
		{"deprecate 0", Indicators, func(s *Settings) { s.DeprecateAfterDays = 0 }, "deprecate_after_days 0 is out of range 1–180"},
		{"deprecate 181", Indicators, func(s *Settings) { s.DeprecateAfterDays = 181 }, "deprecate_after_days 181"},
		{"relevance 100", Indicators, func(s *Settings) { s.Relevance = n(100) }, ""},
		{"relevance 101", Indicators, func(s *Settings) { s.Relevance = n(101) }, "relevance 101 is out of range 0–100"},
		{"severity -1", Indicators, func(s *Settings) { s.Severity = n(-1) }, "severity -1 is out of range"},
		{"collection empty", Indicators, func(s *Settings) { s.Collection = "" }, "collection \"\" must be 1–128"},
		{"collection 128", Indicators, func(s *Settings) { s.Collection = strings.Repeat("c", 128) }, ""},
		{"collection 129", Indicators, func(s *Settings) { s.Collection = strings.Repeat("c", 129) }, "must be 1–128"},
		{"50 tags", Indicators, func(s *Settings) { s.Tags = make([]string, 50); fill(s.Tags) }, ""},
		{"51 tags", Indicators, func(s *Settings) { s.Tags = make([]string, 51); fill(s.Tags) }, "51 tags; at most 50"},
		{"tag 64", Indicators, func(s *Settings) { s.Tags = []string{strings.Repeat("t", 64)} }, ""},
		{"tag 65", Indicators, func(s *Settings) { s.Tags = []string{strings.Repeat("t", 65)} }, "must be 1–64"},
		{"tag empty", Indicators, func(s *Settings) { s.Tags = []string{""} }, "must be 1–64"},
		{"indicator type filter", Indicators, func(s *Settings) { s.Filters.IndicatorTypes = []string{"ipv4", "file"} }, ""},
		{"bad indicator type", Indicators, func(s *Settings) { s.Filters.IndicatorTypes = []string{"btc"} }, `indicator type "btc" is not known`},
		{"min score", Indicators, func(s *Settings) { s.Filters.MinScore = "high" }, `min_score "high" is not known`},
		{"cvss filter on vulns", Vulnerabilities, func(s *Settings) { s.Filters.MinCVSSv3 = f(7) }, ""},
		{"cvss filter range", Vulnerabilities, func(s *Settings) { s.Filters.MinCVSSv3 = f(10.5) }, "min_cvss_v3 10.5 is out of range 0–10"},
		{"cvss filter on indicators", Indicators, func(s *Settings) { s.Filters.MinCVSSv3 = f(7) }, "vulnerabilities channel only"},
		{"severity filter", Vulnerabilities, func(s *Settings) { s.Filters.MinSeverity = "urgent" }, `min_severity "urgent" is not known`},
		{"type filter on reports", Reports, func(s *Settings) { s.Filters.IndicatorTypes = []string{"ipv4"} }, "indicators channel only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSettings("prod", tt.kind, now)
			tt.edit(&s)
			_, err := s.Validate(tt.kind, now)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (intel.ErrorCode(err) != intel.EINVALID || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want EINVALID saying %q", err, tt.want)
			}
		})
	}
	r := DefaultSettings("prod", Reports, now)
	if w, err := r.Validate(Reports, now); err != nil || len(w) != 1 || !strings.Contains(w[0], "1440") {
		t.Errorf("reports below 1440 minutes: warnings %v, %v", w, err)
	}
}

func fill(tags []string) {
	for i := range tags {
		tags[i] = "tag-" + strings.Repeat("x", i%5) + string(rune('a'+i%26))
	}
}

func TestHealth(t *testing.T) {
	var h Health
	h.Enable(now)
	h.Succeeded(now, 10, true)
	if h.Status != Running || h.NoData {
		t.Fatalf("%+v", h)
	}
	for i := 0; i < NoDataAfter; i++ {
		h.Succeeded(now, 0, true)
		h.Succeeded(now, 0, false) // manual polls do not count
	}
	if !h.NoData || h.EmptyPolls != NoDataAfter {
		t.Errorf("after %d empty scheduled polls: %+v", NoDataAfter, h)
	}
	h.Succeeded(now, 1, false)
	if h.NoData {
		t.Error("items clear no_data")
	}

	h.Failed(now, "bad_response", "bad_response", "truncated body")
	if h.Status != Running || h.ErrorCode != "bad_response" {
		t.Errorf("a bad response keeps the channel running: %+v", h)
	}
	h.Failed(now, "upstream", "503", "service unavailable")
	if h.Status != ConnectionError || h.ErrorCode != "503" || !h.NextRestore.Equal(now.Add(20*time.Minute)) {
		t.Errorf("5xx after retries: %+v", h)
	}
	if h.RestoreDue(now.Add(19*time.Minute)) || !h.RestoreDue(now.Add(20*time.Minute)) {
		t.Error("restore attempts come every 20 minutes: three an hour")
	}
	h.Failed(now.Add(20*time.Minute), "upstream", "503", "still down")
	if h.Restores != 1 || !h.NextRestore.Equal(now.Add(40*time.Minute)) || !h.Since.Equal(now) {
		t.Errorf("a failed restore: %+v", h)
	}
	h.Succeeded(now.Add(40*time.Minute), 0, false)
	if h.Status != Running || h.ErrorCode != "" || h.Restores != 0 {
		t.Errorf("restored: %+v", h)
	}
	for _, c := range []string{"network", "unauthorized", "forbidden", "upstream", "rate_limited"} {
		if !Disconnects(c) {
			t.Errorf("%s must disconnect", c)
		}
	}
	for _, c := range []string{"bad_response", "invalid_request", "not_found"} {
		if Disconnects(c) {
			t.Errorf("%s must not disconnect", c)
		}
	}
	h.Disable(now)
	if h.Status != Disabled || h.RestoreDue(now.Add(time.Hour)) {
		t.Errorf("disabled by a user: %+v", h)
	}
	h.Failed(now, "network", "refused", "connection refused") // a connectivity test of a disabled channel
	if h.Status != Disabled || h.ErrorCode != "refused" || h.RestoreDue(now.Add(time.Hour)) {
		t.Errorf("a failed test must not turn a user's disable into connection_error: %+v", h)
	}
}

func TestSettingsValidateListsEveryBadField(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := DefaultSettings("main", Indicators, now)
	s.IntervalMinutes, s.Confidence, s.TLP = 5, 101, "purple"
	bad := -1
	s.Severity = &bad
	_, err := s.Validate(Indicators, now)
	if intel.ErrorCode(err) != intel.EINVALID {
		t.Fatalf("error %v, want EINVALID", err)
	}
	var got []string
	for _, f := range intel.Fields(err) {
		got = append(got, f.Field)
		if !strings.Contains(f.Message, f.Field) {
			t.Errorf("message %q does not name its field %s", f.Message, f.Field)
		}
	}
	if want := []string{"interval_minutes", "tlp", "confidence", "severity"}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for _, want := range []string{"240–10080", "allowed: none, clear", "0–100"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}
}

// A start time that has aged past 15 days since it was set is never
// rewritten by an unrelated change: it stays as stored, the change goes
// through, and a warning says what the first poll will do. A start time
// that is set must be in range.
func TestUpdateKeepsAnAgedStart(t *testing.T) {
	set := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	ch := Channel{Kind: Indicators, Settings: DefaultSettings("prod", Indicators, set)}
	start := ch.Settings.StartAt
	later := set.Add(10 * 24 * time.Hour) // the start is now 25 days back
	next := ch.Settings
	next.Confidence = 80
	warnings, err := ch.Update(next, later)
	if err != nil {
		t.Fatalf("an unrelated change refused for the aged start: %v", err)
	}
	if !ch.Settings.StartAt.Equal(start) || ch.Settings.Confidence != 80 {
		t.Errorf("start %s (was %s), confidence %d", ch.Settings.StartAt, start, ch.Settings.Confidence)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "first poll starts at the oldest time allowed") {
		t.Errorf("warnings %q", warnings)
	}
	// After the first poll the start is history: no warning.
	ch.Cursor = "{}"
	next.Confidence = 70
	if warnings, err := ch.Update(next, later); err != nil || len(warnings) != 0 {
		t.Errorf("after a poll: %q, %v", warnings, err)
	}
	// Setting an old start is refused.
	ch.Cursor = ""
	next.StartAt = later.Add(-16 * 24 * time.Hour)
	if _, err := ch.Update(next, later); intel.ErrorCode(err) != intel.EINVALID {
		t.Errorf("a start set 16 days back: %v", err)
	}
}
