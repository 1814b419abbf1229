package ignite

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-05-28T21:12:56.445+00:00", "2025-12-23T11:18:12.238000Z", "2024-01-01T00:00:00Z",
		"2025-01-02T01:00:00.000001", "2024-05-31", "1717128199", "2024-02-30T00:00:00Z", "2024-05-28 21:12:56", "9999-12-31T23:59:60.999999999-23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			return
		}
		// What parses re-encodes and parses back to the same instant.
		b, err := json.Marshal(tm)
		if err != nil {
			t.Fatalf("marshal %q: %v", s, err)
		}
		var back Time
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q re-encoded as %s does not parse: %v", s, b, err)
		}
		if !back.Equal(tm.Time) && back.Sub(tm.Time).Abs() >= time.Second {
			t.Fatalf("%q: %v became %v", s, tm.Time, back.Time)
		}
	})
}

func fuzzSeeds(f *testing.F, names ...string) {
	// Seeds are compacted: the fuzzer makes little progress from
	// whitespace-heavy multi-kilobyte inputs.
	for _, n := range names {
		var buf bytes.Buffer
		if err := json.Compact(&buf, readSample(f, n)); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte(`{"items": [{"id": 5, "score": "x", "modified_at": 17}], "pagination": {"next": 3}}`))
	f.Add([]byte(`{"results": [{"id": "12", "cwes": [{"cwe_id": "CWE-x"}], "scores": {"ransomware_score": [1]}}]}`))
	f.Add([]byte(`[{"Event": {"timestamp": "abc", "attribute_count": true}}]`))
}

func FuzzDecodeIndicatorsPage(f *testing.F) {
	fuzzSeeds(f, "indicators-v2-page.json", "indicators-v2-last-page.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := (&Client{}).decodeIndicators(&response{status: 200, body: body})
		if err != nil {
			if ErrorClass(err) != ClassBadResponse {
				t.Fatalf("decode error of class %q: %v", ErrorClass(err), err)
			}
			return
		}
		for _, it := range p.Items {
			_ = it.Tags()
			if len(it.Raw) == 0 {
				t.Fatal("item without raw JSON")
			}
		}
	})
}

func FuzzDecodeVulnerability(f *testing.F) {
	fuzzSeeds(f, "vulnerability-detail.json", "vulnerability-detail-unpublished.json", "vulnerabilities-page.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var v Vulnerability
		if json.Unmarshal(body, &v) != nil {
			return
		}
		for _, c := range v.CVSSv2s {
			_ = c.Vector()
		}
		for _, c := range v.CWEs {
			_ = c.CWEID.String()
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

func FuzzDecodeReportsAndEvents(f *testing.F) {
	fuzzSeeds(f, "reports-page.json", "report-detail.json", "events-for-report.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var events []Event
		if json.Unmarshal(body, &events) == nil {
			for _, e := range events {
				for _, a := range e.Event.Attribute {
					_ = a.TypedValue()
				}
			}
		}
		var r Report
		if json.Unmarshal(body, &r) == nil {
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2", 2 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{"Fri, 27 Nov 2026 09:59:00 GMT", 0, true}, // in the past: retry now
		{"", 0, false},
		{"-3", 0, false},
		{"soon", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLenientScalars(t *testing.T) {
	var v struct {
		A Number
		B Number
		C Int
		D CWEID
		E CWEID
		F Scalar
		G Scalar
		H Time
		I Time
		J Time
		K Time
	}
	in := `{"A": "8.9", "B": null, "C": "14", "D": "CWE-79", "E": 22, "F": "High", "G": 0.45,
	        "H": "2025-01-02T01:00:00.000001", "I": "1717128199", "J": "2024-05-28T21:12:56.445+02:00", "K": 1717128199}`
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	switch {
	case !v.A.Valid || v.A.V != 8.9, v.B.Valid, v.C.V != 14, v.D.V != 79 || v.D.String() != "CWE-79", v.E.V != 22,
		v.F.Str != "High" || v.F.IsNum, !v.G.IsNum || v.G.Num != 0.45:
		t.Fatalf("scalars: %+v", v)
	case !v.H.Equal(time.Date(2025, 1, 2, 1, 0, 0, 1000, time.UTC)):
		t.Fatalf("no-zone time read as %v", v.H.Time)
	case v.I.Unix() != 1717128199 || v.K.Unix() != 1717128199:
		t.Fatalf("epoch: %v %v", v.I.Time, v.K.Time)
	case !v.J.Equal(time.Date(2024, 5, 28, 19, 12, 56, 445e6, time.UTC)):
		t.Fatalf("offset time: %v", v.J.Time)
	}
	out, _ := json.Marshal(v)
	want := `{"A":"8.9","B":null,"C":"14","D":"CWE-79","E":22,"F":"High","G":0.45,"H":"2025-01-02T01:00:00.000001","I":"1717128199","J":"2024-05-28T21:12:56.445+02:00","K":1717128199}`
	if string(out) != want {
		t.Fatalf("re-encoded:\n%s\nwant\n%s", out, want)
	}
	for _, bad := range []string{`{"A": "abc"}`, `{"D": "CWE-"}`, `{"H": "yesterday"}`, `{"F": {}}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
