package indicator

import (
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/flintcti/flint/internal/intel"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		typ  intel.Type
		in   string
		want string
	}{
		{"ipv4", intel.IPv4, " 198.51.100.23 ", "198.51.100.23"},
		{"ipv4 defanged", intel.IPv4, "198[.]51[.]100[.]23", "198.51.100.23"},
		{"ipv4 mapped in v6", intel.IPv4, "::ffff:198.51.100.23", "198.51.100.23"},
		{"ipv6 canonical", intel.IPv6, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
		{"domain lower", intel.Domain, "Bad.Example.COM.", "bad.example.com"},
		{"domain idna", intel.Domain, "Bücher.Example", "xn--bcher-kva.example"},
		{"domain defanged", intel.Domain, "evil[.]example(.)com", "evil.example.com"},
		{"domain underscore", intel.Domain, "_dmarc.example.com", "_dmarc.example.com"},
		{"url scheme and host", intel.URL, "HTTP://Bad.Example.COM/Path?Q=A#Frag", "http://bad.example.com/Path?Q=A#Frag"},
		{"url defanged", intel.URL, "hxxps://evil[.]example[.]com/x", "https://evil.example.com/x"},
		{"url hxxp upper", intel.URL, "HXXP://evil[.]com", "http://evil.com"},
		{"url ipv6 host", intel.URL, "http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a"},
		{"url idna host", intel.URL, "https://Bücher.example/ä", "https://xn--bcher-kva.example/%C3%A4"},
		{"email", intel.Email, "Alice@Example.COM", "Alice@example.com"},
		{"email defanged", intel.Email, "alice[@]example[.]com", "alice@example.com"},
		{"md5", intel.File, "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"},
		{"sha256", intel.File, strings.Repeat("A", 64), strings.Repeat("a", 64)},
		{"config sorted compact", intel.ExtractedConfig, `{"b": 1, "a": {"y": "<x>", "x": 2.50}}`, `{"a":{"x":2.50,"y":"<x>"},"b":1}`},
		{"asn", intel.ASN, "as13335", "AS13335"},
		{"asn bare", intel.ASN, "13335", "AS13335"},
		{"registry hive", intel.RegistryKey, `hklm\Software\Run`, `HKEY_LOCAL_MACHINE\Software\Run`},
		{"mutex trimmed", intel.Mutex, "  Global\\abc ", "Global\\abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.typ, tt.in)
			if err != nil {
				t.Fatalf("Normalize(%s, %q): %v", tt.typ, tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Normalize(%s, %q) = %q, want %q", tt.typ, tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name string
		typ  intel.Type
		in   string
		want string // part of the error message
	}{
		{"empty", intel.Domain, "  ", "value is empty"},
		{"ipv4 octal", intel.IPv4, "010.1.1.1", "not an IP address"},
		{"ipv4 given v6", intel.IPv4, "2001:db8::1", "not IPv4"},
		{"ipv6 given v4", intel.IPv6, "1.2.3.4", "not IPv6"},
		{"ipv6 zone", intel.IPv6, "fe80::1%eth0", "zone"},
		{"domain single label", intel.Domain, "localhost", "two labels"},
		{"domain is ip", intel.Domain, "1.2.3.4", "an IP address"},
		{"domain bad char", intel.Domain, "ev!l.com", "not allowed"},
		{"domain long label", intel.Domain, strings.Repeat("a", 64) + ".com", "1–63"},
		{"url no scheme", intel.URL, "evil.com/x", "needs a scheme and a host"},
		{"url bad port", intel.URL, "http://evil.com:99999/", "port"},
		{"url space", intel.URL, "http://evil.com/a b", "whitespace"},
		{"email no at", intel.Email, "alice.example.com", "local@domain"},
		{"email bad domain", intel.Email, "a@b", "bad domain"},
		{"hash length", intel.File, "abc123", "32 (MD5)"},
		{"hash not hex", intel.File, strings.Repeat("g", 32), "not a hash"},
		{"config not json", intel.ExtractedConfig, "{beacon", "not a JSON document"},
		{"config two docs", intel.ExtractedConfig, "{} {}", "more than one"},
		{"asn too big", intel.ASN, "AS4294967296", "AS0 to AS4294967295"},
		{"filename newline", intel.Filename, "a\nb", "line break"},
		{"entity type", intel.Vulnerability, "CVE-2024-1", "not an indicator type"},
		{"unknown type", intel.Type("btc"), "x", "not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.typ, tt.in)
			if err == nil {
				t.Fatalf("Normalize(%s, %q) = %q, want an error", tt.typ, tt.in, got)
			}
			if intel.ErrorCode(err) != intel.EINVALID {
				t.Errorf("code = %q, want %q", intel.ErrorCode(err), intel.EINVALID)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		in       string
		wantType intel.Type
		want     string
	}{
		{"198.51.100.23", intel.IPv4, "198.51.100.23"},
		{"2001:DB8::1", intel.IPv6, "2001:db8::1"},
		{"D41D8CD98F00B204E9800998ECF8427E", intel.File, "d41d8cd98f00b204e9800998ecf8427e"},
		{"hxxp://evil[.]com/a", intel.URL, "http://evil.com/a"},
		{"bob@Evil.com", intel.Email, "bob@evil.com"},
		{"AS64500", intel.ASN, "AS64500"},
		{"Evil[.]Example", intel.Domain, "evil.example"},
	}
	for _, tt := range tests {
		typ, v, err := Detect(tt.in)
		if err != nil || typ != tt.wantType || v != tt.want {
			t.Errorf("Detect(%q) = %s %q %v, want %s %q", tt.in, typ, v, err, tt.wantType, tt.want)
		}
	}
	if _, _, err := Detect("not a thing"); err == nil || !strings.Contains(err.Error(), "is not an IP address, hash") {
		t.Errorf("Detect(garbage) error = %v", err)
	}
}

// genValue draws a raw value of a type, in the forms found in the wild:
// mixed case, defanged, IDNA, IPv4-mapped IPv6.
func genValue(t *rapid.T, typ intel.Type) string {
	label := rapid.StringMatching(`[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?`)
	uLabel := rapid.SampledFrom([]string{"bücher", "münchen", "пример", "例え", "straße"})
	host := func() string {
		n := rapid.IntRange(1, 3).Draw(t, "labels")
		parts := make([]string, 0, n+1)
		for i := 0; i < n; i++ {
			if rapid.IntRange(0, 5).Draw(t, "unicode") == 0 {
				parts = append(parts, uLabel.Draw(t, "ulabel"))
			} else {
				parts = append(parts, label.Draw(t, "label"))
			}
		}
		return strings.Join(append(parts, rapid.SampledFrom([]string{"com", "ORG", "co.uk", "example"}).Draw(t, "tld")), ".")
	}
	switch typ {
	case intel.IPv4:
		b := rapid.SliceOfN(rapid.IntRange(0, 255), 4, 4).Draw(t, "octets")
		s := fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
		if rapid.Bool().Draw(t, "mapped") {
			s = "::ffff:" + s
		}
		return s
	case intel.IPv6:
		w := rapid.SliceOfN(rapid.IntRange(0, 0xffff), 8, 8).Draw(t, "words")
		parts := make([]string, 8)
		for i, x := range w {
			parts[i] = fmt.Sprintf("%X", x)
		}
		s := strings.Join(parts, ":")
		if s[:4] == "0:0:" { // keep it v6: avoid the v4-mapped prefix
			s = "1" + s[1:]
		}
		return s
	case intel.Domain:
		return host()
	case intel.URL:
		path := rapid.StringMatching(`(/[a-zA-Z0-9._~-]{0,8}){0,3}(\?[a-z]=[A-Z0-9]{1,4})?`).Draw(t, "path")
		return rapid.SampledFrom([]string{"http", "HTTPS", "ftp"}).Draw(t, "scheme") + "://" + host() + path
	case intel.Email:
		return rapid.StringMatching(`[a-zA-Z0-9._+-]{1,12}`).Draw(t, "local") + "@" + host()
	case intel.File:
		n := rapid.SampledFrom([]int{32, 40, 64, 128}).Draw(t, "hashlen")
		return rapid.StringMatching(fmt.Sprintf(`[0-9a-fA-F]{%d}`, n)).Draw(t, "hash")
	}
	t.Fatalf("no generator for %s", typ)
	return ""
}

var propertyTypes = []intel.Type{intel.IPv4, intel.IPv6, intel.Domain, intel.URL, intel.Email, intel.File}

// Normalising twice is the same as normalising once.
func TestNormalizeIdempotent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		typ := rapid.SampledFrom(propertyTypes).Draw(t, "type")
		raw := genValue(t, typ)
		once, err := Normalize(typ, raw)
		if err != nil {
			t.Fatalf("Normalize(%s, %q): %v", typ, raw, err)
		}
		twice, err := Normalize(typ, once)
		if err != nil {
			t.Fatalf("Normalize(%s, %q) (second pass): %v", typ, once, err)
		}
		if once != twice {
			t.Fatalf("not idempotent: %q -> %q -> %q", raw, once, twice)
		}
		if dt, dv, err := Detect(once); err != nil || dt != typ || dv != once {
			t.Fatalf("Detect(%q) = %s %q %v, want %s %q", once, dt, dv, err, typ, once)
		}
	})
}

// Refanging a defanged value gives the original, and a defanged value
// normalises to the same canonical value.
func TestDefangRefang(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		typ := rapid.SampledFrom(propertyTypes).Draw(t, "type")
		v, err := Normalize(typ, genValue(t, typ))
		if err != nil {
			t.Fatal(err)
		}
		d := Defang(typ, v)
		if typ == intel.Domain || typ == intel.URL || typ == intel.IPv4 {
			host := d
			if _, rest, ok := strings.Cut(d, "://"); ok {
				host, _, _ = strings.Cut(rest, "/")
				host, _, _ = strings.Cut(host, "?")
			}
			if strings.Contains(strings.ReplaceAll(host, "[.]", ""), ".") {
				t.Fatalf("Defang(%s, %q) = %q still has a live dot in the host", typ, v, d)
			}
		}
		if got := Refang(d); got != v {
			t.Fatalf("Refang(Defang(%q)) = %q (defanged %q)", v, got, d)
		}
		if got, err := Normalize(typ, d); err != nil || got != v {
			t.Fatalf("Normalize(%s, %q) = %q, %v; want %q", typ, d, got, err, v)
		}
	})
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"198.51.100.23", "hxxp://evil[.]com/a", "Bücher.Example", "a@b.c", "::ffff:1.2.3.4", `{"a":1}`, "AS1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range intel.IndicatorTypes() {
			v, err := Normalize(typ, s)
			if err != nil {
				continue
			}
			again, err := Normalize(typ, v)
			if err != nil || again != v {
				t.Fatalf("Normalize(%s) not idempotent: %q -> %q -> %q (%v)", typ, s, v, again, err)
			}
		}
	})
}
