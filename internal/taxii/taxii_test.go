package taxii

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

func TestAcceptable(t *testing.T) {
	for accept, want := range map[string]bool{
		"application/taxii+json;version=2.1":                   true,
		"application/taxii+json; version=2.1":                  true,
		"application/taxii+json":                               true,
		"application/json, application/taxii+json;version=2.1": true,
		"application/taxii+json;version=2.0":                   false,
		"application/stix+json;version=2.1":                    false,
		"application/json":                                     false,
		"*/*":                                                  false,
		"":                                                     false,
	} {
		if got := Acceptable(accept); got != want {
			t.Errorf("Acceptable(%q) = %v", accept, got)
		}
	}
}

// A token reads back as written; any change to it, or another key, is
// refused.
func TestTokenIsTamperEvident(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	tok := Token{Key: 7, CapRank: 2, Collection: 3, Filter: "00ff00ff00ff00ff", Stamp: 1764633600123456, Skip: 2}
	s := Sign(key, tok)
	got, err := Verify(key, s)
	if err != nil || got != tok {
		t.Fatalf("Verify(Sign) = %+v, %v", got, err)
	}
	for i := range s {
		b := []byte(s)
		b[i] ^= 1
		if _, err := Verify(key, string(b)); err == nil {
			if got, _ := Verify(key, string(b)); got != tok { // base64's spare low bits may decode alike
				t.Errorf("flipping byte %d gave a good token %+v", i, got)
			}
		}
	}
	for _, bad := range []string{"", "x", s[:len(s)-1], s + "A", strings.Repeat("A", 80)} {
		if _, err := Verify(key, bad); err == nil {
			t.Errorf("Verify(%q) succeeded", bad)
		}
	}
	if _, err := Verify([]byte("another key"), s); err == nil {
		t.Error("a token verified under another key")
	}
}

func TestParseFilter(t *testing.T) {
	v := url.Values{"added_after": {"2026-11-20T12:00:00.000509Z"}, "limit": {"5000"},
		"match[type]": {"indicator,relationship"}, "match[version]": {"first,2026-11-20T12:00:00Z"},
		"match[id]": {"indicator--8E997F1D-4DFA-5C6A-BC5F-974DE248BD9A"}}
	f, err := ParseFilter(v, ObjectsParams...)
	if err != nil {
		t.Fatal(err)
	}
	if f.Limit != MaxPage || !f.AddedAfter.Equal(time.Date(2026, 11, 20, 12, 0, 0, 509000, time.UTC)) || len(f.Types) != 2 ||
		len(f.Versions) != 2 || f.Versions[0].Keyword != "first" || f.IDs[0] != "indicator--8e997f1d-4dfa-5c6a-bc5f-974de248bd9a" {
		t.Errorf("%+v", f)
	}
	// The digest names the selection, not the page.
	g := f
	g.Limit, g.Next = 3, "x"
	if f.Digest() != g.Digest() {
		t.Error("the digest depends on limit or next")
	}
	g.Types = []string{"relationship", "indicator"}
	if f.Digest() != g.Digest() {
		t.Error("the digest depends on the order of match[type]")
	}
	g.Types = []string{"indicator"}
	if f.Digest() == g.Digest() {
		t.Error("the digest ignores match[type]")
	}
	// Mistakes are named; a parameter of another endpoint is refused.
	_, err = ParseFilter(url.Values{"limit": {"-1"}, "match[id]": {"x"}, "foo": {"1"}}, ObjectsParams...)
	for _, field := range []string{"limit", "match[id]", "foo"} {
		if !strings.Contains(intel.ErrorMessage(err)+fmtFields(err), field) {
			t.Errorf("the error does not name %s: %v", field, err)
		}
	}
	if _, err := ParseFilter(url.Values{"match[type]": {"indicator"}}, VersionsParams...); err == nil {
		t.Error("versions took match[type]")
	}
}

func fmtFields(err error) string {
	var b strings.Builder
	for _, f := range intel.Fields(err) {
		b.WriteString(f.Field + ": " + f.Message + "\n")
	}
	return b.String()
}
