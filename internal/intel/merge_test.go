package intel

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	t0   = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	srcA = Provenance{ChannelID: 1, Instance: "prod", Channel: "indicators"}
	srcB = Provenance{ChannelID: 2, Instance: "lab", Channel: "reports"}
)

func view(reported time.Time, tlp TLP, conf int, until time.Time, tags ...string) *Object {
	return &Object{Type: Domain, Value: "evil.example", TLP: tlp, Confidence: conf, Tags: tags,
		Reported: reported, ValidUntil: until, LastSeen: reported, FirstSeen: reported, OriginalID: "fp-1"}
}

func TestMergeNew(t *testing.T) {
	got, changed := Merge(nil, view(t0, TLPGreen, 70, t0.Add(90*24*time.Hour), "b", "a", "b"), srcA, MostRestrictiveTLP)
	if !changed {
		t.Error("a new object must count as changed")
	}
	want := []Provenance{{ChannelID: 1, Instance: "prod", Channel: "indicators", OriginalID: "fp-1",
		FirstReported: t0, LastReported: t0, TLP: TLPGreen, Confidence: 70, ValidUntil: t0.Add(90 * 24 * time.Hour)}}
	if d := cmp.Diff(want, got.Sources); d != "" {
		t.Errorf("sources (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"a", "b"}, got.Tags); d != "" {
		t.Errorf("tags (-want +got):\n%s", d)
	}
}

func TestMergeRules(t *testing.T) {
	day := 24 * time.Hour
	cur, _ := Merge(nil, view(t0, TLPGreen, 70, t0.Add(30*day), "x"), srcA, MostRestrictiveTLP)

	t.Run("same view again is unchanged", func(t *testing.T) {
		if _, changed := Merge(&cur, view(t0, TLPGreen, 70, t0.Add(30*day), "x"), srcA, MostRestrictiveTLP); changed {
			t.Error("re-reading the same item changed the object")
		}
	})
	t.Run("sub-microsecond noise is unchanged", func(t *testing.T) {
		if _, changed := Merge(&cur, view(t0.Add(300*time.Nanosecond), TLPGreen, 70, t0.Add(30*day), "x"), srcA, MostRestrictiveTLP); changed {
			t.Error("nanoseconds the store does not keep changed the object")
		}
	})
	t.Run("second source: most restrictive TLP, highest confidence, longest validity, tag union", func(t *testing.T) {
		got, changed := Merge(&cur, view(t0.Add(day), TLPAmberStrict, 90, t0.Add(10*day), "y"), srcB, MostRestrictiveTLP)
		if !changed || got.TLP != TLPAmberStrict || got.Confidence != 90 || !got.ValidUntil.Equal(t0.Add(30*day)) {
			t.Errorf("changed=%v tlp=%s confidence=%d valid_until=%s", changed, got.TLP, got.Confidence, got.ValidUntil)
		}
		if d := cmp.Diff([]string{"x", "y"}, got.Tags); d != "" {
			t.Errorf("tags (-want +got):\n%s", d)
		}
		if len(got.Sources) != 2 || got.Sources[1].TLP != TLPAmberStrict || got.Sources[0].TLP != TLPGreen {
			t.Errorf("each source keeps its own TLP: %+v", got.Sources)
		}
		least, _ := Merge(&cur, view(t0.Add(day), TLPAmberStrict, 90, t0.Add(10*day)), srcB, LeastRestrictiveTLP)
		if least.TLP != TLPGreen {
			t.Errorf("least-restrictive policy gave %s, want green", least.TLP)
		}
	})
	t.Run("a later report revives an expired object", func(t *testing.T) {
		later := t0.Add(100 * day)
		got, _ := Merge(&cur, view(later, TLPGreen, 70, later.Add(30*day)), srcA, MostRestrictiveTLP)
		if !got.ValidUntil.Equal(later.Add(30*day)) || !got.Sources[0].LastReported.Equal(later) || !got.Sources[0].FirstReported.Equal(t0) {
			t.Errorf("valid_until=%s sources=%+v", got.ValidUntil, got.Sources)
		}
		if !got.LastSeen.Equal(later) || !got.FirstSeen.Equal(t0) {
			t.Errorf("first/last seen = %s / %s", got.FirstSeen, got.LastSeen)
		}
	})
	t.Run("an older re-read keeps the newer details and terms", func(t *testing.T) {
		newer := view(t0.Add(day), TLPRed, 50, t0.Add(60*day))
		newer.Description, newer.Hashes = "new", map[HashAlgo]string{SHA1: "bb"}
		cur2, _ := Merge(&cur, newer, srcA, MostRestrictiveTLP)
		older := view(t0, TLPGreen, 70, t0.Add(30*day))
		older.Description, older.Hashes = "old", map[HashAlgo]string{MD5: "aa"}
		got, _ := Merge(&cur2, older, srcA, MostRestrictiveTLP)
		if got.Description != "new" || got.TLP != TLPRed || !got.ValidUntil.Equal(t0.Add(60*day)) {
			t.Errorf("description=%q tlp=%s valid_until=%s", got.Description, got.TLP, got.ValidUntil)
		}
		if d := cmp.Diff(map[HashAlgo]string{MD5: "aa", SHA1: "bb"}, got.Hashes); d != "" {
			t.Errorf("hashes are a union (-want +got):\n%s", d)
		}
	})
	t.Run("software versions are a union", func(t *testing.T) {
		a := &Object{Type: Software, Value: "acme:widget", TLP: TLPAmber, Reported: t0,
			Details: Details{Software: &SoftwareDetail{Vendor: "Acme", Product: "Widget", Versions: []string{"1.0"}}}}
		s1, _ := Merge(nil, a, srcA, MostRestrictiveTLP)
		b := *a
		b.Reported = t0.Add(day)
		b.Software = &SoftwareDetail{Vendor: "Acme", Product: "Widget", Versions: []string{"2.0", "1.0"}, CPEs: []string{"cpe:2.3:a:acme:widget:2.0:*:*:*:*:*:*:*"}}
		got, changed := Merge(&s1, &b, srcB, MostRestrictiveTLP)
		if !changed || !cmp.Equal(got.Software.Versions, []string{"1.0", "2.0"}) || len(got.Software.CPEs) != 1 {
			t.Errorf("changed=%v software=%+v", changed, got.Software)
		}
	})
}

func TestTLP(t *testing.T) {
	for in, want := range map[string]TLP{"TLP:WHITE": TLPClear, "Amber+Strict": TLPAmberStrict, "": TLPNone, "red": TLPRed} {
		if got, err := ParseTLP(in); err != nil || got != want {
			t.Errorf("ParseTLP(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseTLP("purple"); ErrorCode(err) != EINVALID {
		t.Errorf("ParseTLP(purple) error = %v", err)
	}
	if got := MostRestrictive(TLPGreen, TLP("bogus"), TLPAmber); got != TLP("bogus") {
		t.Errorf("an unknown label must rank as the most restrictive, got %s", got)
	}
}

func TestValidate(t *testing.T) {
	ok := Object{Type: Domain, Value: "a.example", TLP: TLPAmber, Confidence: 50}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := func(f func(o *Object)) error { o := ok; f(&o); return o.Validate() }
	n := 101
	for name, err := range map[string]error{
		"confidence": bad(func(o *Object) { o.Confidence = 101 }),
		"tlp":        bad(func(o *Object) { o.TLP = "pink" }),
		"relevance":  bad(func(o *Object) { o.Relevance = &n }),
		"type":       bad(func(o *Object) { o.Type = "btc" }),
		"tag":        bad(func(o *Object) { o.Tags = []string{""} }),
		"validity":   bad(func(o *Object) { o.ValidFrom, o.ValidUntil = t0, t0.Add(-time.Hour) }),
	} {
		if ErrorCode(err) != EINVALID {
			t.Errorf("%s: error = %v, want EINVALID", name, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	if got := Expiry(t0, 90, time.Time{}); !got.Equal(t0.Add(90 * 24 * time.Hour)) {
		t.Errorf("without a source expiry: %s", got)
	}
	src := t0.Add(time.Hour)
	if got := Expiry(t0, 90, src); !got.Equal(src) {
		t.Errorf("the source's expiry wins: %s", got)
	}
}
