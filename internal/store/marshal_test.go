package store

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

// sampleDetails builds details out of fuzzer input: every kind of field the
// writer encodes, with the strings and numbers given.
func sampleDetails(s1, s2 string, f float64, n int64, raw []byte) intel.Details {
	epss := f
	d := intel.Details{
		Hashes:         map[intel.HashAlgo]string{intel.HashAlgo(s1): s2, "SHA-256": s1, "MD5": s2},
		AttackPatterns: []string{s1, s2},
		MalwareNames:   []string{s2},
		ActorNames:     []string{s1},
		PlatformURL:    "https://app.flashpoint.io/" + s1 + "?a=1&b=<2>",
		Vulnerability: &intel.VulnerabilityDetail{FlashpointID: n, CVEIDs: []string{s1}, Solution: s2,
			CVSSv3: &intel.CVSS{Version: "3.1", Score: f, Vector: s1}, EPSS: &epss,
			Timelines: map[string]string{s1: s2, "disclosed_at": "2024-01-02T03:04:05Z", s2: s1}},
		Report: &intel.ReportDetail{},
	}
	if json.Valid(raw) {
		d.Config = raw
	}
	return d
}

func sameAsStdlib(t *testing.T, v any) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := marshal(v)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("errors differ: encoding/json %v, marshal %v", werr, gerr)
	}
	if werr == nil && !bytes.Equal(want, got) {
		t.Fatalf("encodings differ:\nencoding/json %s\nmarshal       %s", want, got)
	}
}

func TestMarshalMatchesStdlib(t *testing.T) {
	strs := []string{"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>", "tab\tnl\ncr\r\x00\x1f",
		"unicode é 漢字 🙂", "line\u2028sep\u2029", "bad utf-8 \xff\xfe end", "ctrl \x7f"}
	floats := []float64{0, 1, 0.1, 9.8, 1e-7, 0.000001, 123456789, 1e21, 1e20, -0.5, math.SmallestNonzeroFloat64}
	raws := [][]byte{nil, []byte(`{"b": 1, "a" : [1, 2, {"c":"<&>"}]}`), []byte(" \"x\" "), []byte(`{"k":"\u00e9"}`)}
	for _, s1 := range strs {
		for _, s2 := range strs {
			sameAsStdlib(t, []string{s1, s2})
			for _, f := range floats {
				for _, raw := range raws {
					d := sampleDetails(s1, s2, f, int64(f*1000), raw)
					sameAsStdlib(t, &d)
				}
			}
		}
	}
	var empty []string
	sameAsStdlib(t, empty)
	o := intel.Object{Tags: []string{"a"}, FirstSeen: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)}
	sameAsStdlib(t, &o.Details)
}

func FuzzMarshalMatchesStdlib(f *testing.F) {
	f.Add("a", "b", 0.5, int64(7), []byte(`{"x": [1, 2]}`))
	f.Add("<&>", "\xff", 1e-9, int64(-1), []byte(`"s"`))
	f.Fuzz(func(t *testing.T, s1, s2 string, fl float64, n int64, raw []byte) {
		if math.IsNaN(fl) || math.IsInf(fl, 0) {
			return // neither encodes these
		}
		d := sampleDetails(s1, s2, fl, n, raw)
		sameAsStdlib(t, &d)
		sameAsStdlib(t, []string{s1, s2})
	})
}
