package outlet

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/intel"
)

func TestAllowed(t *testing.T) {
	var entries []Allow
	for _, s := range []string{"1.2.3.4", "*.example.com", "203.0.113.0/24", "2001:db8::/32", "hxxp://bad[.]example[.]org/x"} {
		a, err := ParseAllow(s)
		if err != nil {
			t.Fatalf("ParseAllow(%q): %v", s, err)
		}
		entries = append(entries, a)
	}
	a := NewAllowed(entries)
	for _, c := range []struct {
		t     intel.Type
		value string
		want  bool
	}{
		{intel.IPv4, "1.2.3.4", true},
		{intel.IPv4, "1.2.3.5", false},
		{intel.IPv4, "203.0.113.77", true},
		{intel.IPv6, "2001:db8::1", true},
		{intel.IPv6, "2001:db9::1", false},
		{intel.Domain, "example.com", true},
		{intel.Domain, "a.b.example.com", true},
		{intel.Domain, "notexample.com", false},
		{intel.URL, "http://cdn.example.com/x", true},
		{intel.URL, "https://user@203.0.113.9:8443/y", true},
		{intel.URL, "http://[2001:db8::5]/z", true},
		{intel.URL, "http://example.net/", false},
		{intel.URL, "http://bad.example.org/x", true},
		{intel.Email, "x@mail.example.com", true},
		{intel.File, strings.Repeat("a", 64), false},
	} {
		if got := a.Contains(c.t, c.value); got != c.want {
			t.Errorf("Contains(%s %s) = %v, want %v", c.t, c.value, got, c.want)
		}
	}
	if _, err := ParseAllow("not a value at all!"); err == nil {
		t.Error("nonsense accepted")
	}
	if d := NewAllowed(DefaultAllows); !d.Contains(intel.IPv4, "10.0.0.1") || !d.Contains(intel.IPv4, "192.168.1.1") ||
		d.Contains(intel.IPv4, "8.8.8.8") || !d.Contains(intel.IPv6, "fe80::1") {
		t.Error("the default ranges")
	}
}

func TestListEntryAndLines(t *testing.T) {
	l := List{Name: "x", Types: []ListType{"md5", "url"}, Format: CSV}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	md5 := strings.Repeat("b", 32)
	file := intel.Object{Type: intel.File, Value: strings.Repeat("a", 64), Details: intel.Details{Hashes: map[intel.HashAlgo]string{intel.MD5: strings.ToUpper(md5)}}}
	if v, typ, ok := l.Entry(file.Type, file.Value, file.Hashes); !ok || v != md5 || typ != "md5" {
		t.Errorf("a file's md5: %q %q %v", v, typ, ok)
	}
	if _, _, ok := l.Entry(intel.Domain, "example.com", nil); ok {
		t.Error("a domain in a list of md5 and url")
	}
	var b bytes.Buffer
	o := intel.Object{Type: intel.URL, Value: "=cmd|' /C calc'!A0", Tags: []string{"+evil"}, Confidence: 50}
	if err := l.Line(&b, o.Value, "url", &o); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "'=cmd") || !strings.Contains(b.String(), "'+evil") {
		t.Errorf("a formula reached a CSV cell unescaped: %s", b.String())
	}
	b.Reset()
	pa := List{Format: PaloAlto}
	pa.Line(&b, "https://example.com/a?b", "url", &o)
	if b.String() != "example.com/a?b\n" {
		t.Errorf("PAN-OS line %q", b.String())
	}
	bad := List{Name: "Has Space", Types: []ListType{"nope"}, MinConfidence: -1, MinScore: "bad", MaxTLP: "purple", Limit: -1, Format: "xml"}
	err := bad.Validate()
	if n := len(intel.Fields(err)); n != 7 {
		t.Errorf("%d field errors, want 7: %v", n, err)
	}
}
