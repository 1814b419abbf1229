package ignite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// samplesDir holds the sample API responses of docs/flashpoint-api.md §9
// (testdata/samples/README.md says where they come from).
func samplesDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join("testdata", "samples")
	if _, err := os.Stat(dir); err != nil {
		tb.Fatalf("samples not found at %s: %v", dir, err)
	}
	return dir
}

func readSample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir(tb), name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// lossless reports the first place where orig holds a value that enc lacks or
// changes. enc may hold extra keys only when their value is null or empty.
func lossless(path string, orig, enc any) error {
	switch o := orig.(type) {
	case map[string]any:
		e, ok := enc.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: object became %T", path, enc)
		}
		for k, ov := range o {
			ev, ok := e[k]
			if !ok {
				if isNothing(ov) {
					continue // null, "" or [] carried no information
				}
				return fmt.Errorf("%s.%s: lost", path, k)
			}
			if err := lossless(path+"."+k, ov, ev); err != nil {
				return err
			}
		}
		for k, ev := range e {
			if _, ok := o[k]; !ok && !emptyJSON(ev) {
				return fmt.Errorf("%s.%s: invented value %v", path, k, ev)
			}
		}
		return nil
	case []any:
		e, ok := enc.([]any)
		if !ok || len(e) != len(o) {
			return fmt.Errorf("%s: list changed: %v", path, enc)
		}
		for i := range o {
			if err := lossless(fmt.Sprintf("%s[%d]", path, i), o[i], e[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if !reflect.DeepEqual(orig, enc) {
		return fmt.Errorf("%s: %v became %v", path, orig, enc)
	}
	return nil
}

func isNothing(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	}
	return false
}

func emptyJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, v := range x {
			if !emptyJSON(v) {
				return false
			}
		}
		return true
	}
	return false
}

func generic(tb testing.TB, b []byte) any {
	tb.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		tb.Fatal(err)
	}
	return normNumbers(v)
}

// normNumbers turns json.Number into float64 so 10.0 and 10 compare equal.
func normNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			x[k] = normNumbers(vv)
		}
	case []any:
		for i := range x {
			x[i] = normNumbers(x[i])
		}
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return v
}

func roundTrip[T any](t *testing.T, raw []byte) {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	enc, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if err := lossless("$", generic(t, raw), generic(t, enc)); err != nil {
		t.Fatalf("round trip lost data: %v", err)
	}
}

func TestSamplesDecodeLosslessly(t *testing.T) {
	// Every file in the samples folder must be covered here.
	cases := map[string]func(*testing.T, []byte){
		"reports-page.json": func(t *testing.T, b []byte) {
			roundTrip[struct {
				Total int      `json:"total"`
				Limit int      `json:"limit"`
				Count int      `json:"count"`
				Skip  int      `json:"skip"`
				Data  []Report `json:"data"`
			}](t, b)
		},
		"report-detail.json":     func(t *testing.T, b []byte) { roundTrip[Report](t, b) },
		"events-for-report.json": func(t *testing.T, b []byte) { roundTrip[[]Event](t, b) },
		"vulnerabilities-page.json": func(t *testing.T, b []byte) {
			roundTrip[struct {
				Total    int             `json:"total"`
				Next     Nullable        `json:"next"`
				Previous Nullable        `json:"previous"`
				Size     int             `json:"size"`
				From     int             `json:"from"`
				Results  []Vulnerability `json:"results"`
			}](t, b)
		},
		"vulnerability-detail.json":             func(t *testing.T, b []byte) { roundTrip[Vulnerability](t, b) },
		"vulnerability-detail-unpublished.json": func(t *testing.T, b []byte) { roundTrip[Vulnerability](t, b) },
		"indicators-v2-page.json":               func(t *testing.T, b []byte) { roundTrip[indicatorEnvelope](t, b) },
		"indicators-v2-last-page.json":          func(t *testing.T, b []byte) { roundTrip[indicatorEnvelope](t, b) },
		"indicator-v2-detail.json":              func(t *testing.T, b []byte) { roundTrip[Indicator](t, b) },
		"errors.json": func(t *testing.T, b []byte) {
			var bodies map[string]json.RawMessage
			if err := json.Unmarshal(b, &bodies); err != nil {
				t.Fatal(err)
			}
			for name, body := range bodies {
				if name == "_note" {
					continue
				}
				status := 0
				fmt.Sscanf(name, "%d", &status)
				c, err := New(Options{Token: "sample-token"})
				if err != nil {
					t.Fatal(err)
				}
				e := c.statusError("test", &response{status: status, body: body, header: map[string][]string{}})
				if e.Message == "" || e.Status != status {
					t.Errorf("%s: status %d message %q", name, e.Status, e.Message)
				}
			}
		},
	}
	entries, err := os.ReadDir(samplesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		fn, ok := cases[e.Name()]
		if !ok {
			t.Errorf("sample %s has no decode test", e.Name())
			continue
		}
		t.Run(e.Name(), func(t *testing.T) { fn(t, readSample(t, e.Name())) })
	}
}

type indicatorEnvelope struct {
	Items      []Indicator `json:"items"`
	Total      *int        `json:"total"`
	Pagination struct {
		Next Nullable `json:"next"`
		Prev Nullable `json:"prev"`
	} `json:"pagination"`
}
