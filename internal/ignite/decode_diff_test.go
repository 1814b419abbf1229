package ignite

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	gojson "github.com/goccy/go-json"
)

// List items are decoded with goccy/go-json for speed (decodeItems); these
// tests hold it to what encoding/json decodes from the same bytes, on the
// published samples and on whatever the fuzzer makes of them.

// sameAsStdlib decodes raw into a T with both decoders and reports a
// difference: in the value, or one failing where the other succeeds.
func sameAsStdlib[T any](t *testing.T, raw []byte) {
	t.Helper()
	var std, fast T
	stdErr := json.Unmarshal(raw, &std)
	fastErr := gojson.Unmarshal(raw, &fast)
	switch {
	case stdErr != nil && fastErr != nil:
	case stdErr != nil:
		t.Fatalf("%T: encoding/json refuses %q (%v) but go-json accepts it", std, raw, stdErr)
	case fastErr != nil:
		t.Fatalf("%T: go-json refuses %q (%v) but encoding/json accepts it", std, raw, fastErr)
	case !reflect.DeepEqual(std, fast):
		t.Fatalf("%T decoded differently from %q:\nencoding/json: %+v\ngo-json:       %+v", std, raw, std, fast)
	}
}

func sampleItems(tb testing.TB, name string) [][]byte {
	tb.Helper()
	b := readSample(tb, name)
	if elems, err := arrayElements(b); err == nil {
		return elems
	}
	fields, err := objectFields(b)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	for _, key := range []string{"items", "results", "data"} {
		if v, ok := fields[key]; ok {
			elems, err := arrayElements(v)
			if err != nil {
				tb.Fatalf("%s: %s: %v", name, key, err)
			}
			return elems
		}
	}
	return [][]byte{b} // a single item
}

var diffSamples = []string{"indicators-v2-page.json", "indicators-v2-last-page.json", "indicator-v2-detail.json",
	"vulnerabilities-page.json", "vulnerability-detail.json", "vulnerability-detail-unpublished.json",
	"reports-page.json", "report-detail.json", "events-for-report.json"}

func checkAllTypes(t *testing.T, raw []byte) {
	t.Helper()
	sameAsStdlib[Indicator](t, raw)
	sameAsStdlib[Vulnerability](t, raw)
	sameAsStdlib[Report](t, raw)
	sameAsStdlib[Event](t, raw)
}

func TestItemDecodingMatchesStdlib(t *testing.T) {
	n := 0
	for _, name := range diffSamples {
		for _, raw := range sampleItems(t, name) {
			checkAllTypes(t, raw)
			n++
		}
	}
	// Lenient decoding: numbers as strings, nulls, wrong types.
	for _, raw := range []string{
		`{"id": "12", "score": {"value": "malicious"}, "modified_at": "2024-05-28T21:12:56Z"}`,
		`{"id": 12, "cvss_v3": {"score": "9.8"}, "cwes": null, "products": [{"name": null}]}`,
		`{"id": null, "tags": ["a", 1, null], "hashes": {"md5": 5}}`,
		`{"Event": {"timestamp": "1717128199", "Attribute": [{"value": 3}]}}`,
		`{"id": 1, "id": 2}`, `{"ID": "x"}`, `{"\u0069d": 7}`, `{"id": 1e3}`, `{"id": -0}`, `{}`, `[]`, `null`, `"x"`, `7`,
	} {
		checkAllTypes(t, []byte(raw))
		n++
	}
	if n < 20 {
		t.Fatalf("only %d items compared; the samples were not found", n)
	}
}

func FuzzItemDecodingMatchesStdlib(f *testing.F) {
	for _, name := range diffSamples {
		for _, raw := range sampleItems(f, name) {
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil { // see fuzzSeeds
				f.Fatal(err)
			}
			f.Add(buf.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, err := skipValue(raw, 0); err != nil {
			return // decodeItems only sees items the page scanner split out
		}
		checkAllTypes(t, raw)
	})
}
