package stix

import "testing"

func TestValidURI(t *testing.T) {
	for s, want := range map[string]bool{
		"http://example.com/":                         true,
		"https://user@example.com:8443/a/b?c=d&e#f":   true,
		"http://[2001:db8::1]:80/x":                   true,
		"http://under_score.example.com/%41":          true,
		"urn:isbn:0451450523":                         true,
		"http://a b.example.com/":                     false,
		"http://example.com/pa th":                    false,
		"http://example.com/a\\b":                     false,
		"http://example.com/%zz":                      false,
		"http://example.com/%4":                       false,
		"http://example.com/a|b{c}":                   false,
		"http://example.com/#a#b":                     false,
		"http://example.com/[x]":                      false,
		"http://пример.рф/":                           false,
		"example.com/path":                            false,
		"1http://example.com/":                        false,
		"http://example.com/x?a=\"b\"":                false,
		"http://example.com/x?a='b'&c=(d)*+,;=:@!$~_": true,
	} {
		if got := ValidURI(s); got != want {
			t.Errorf("ValidURI(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestURIValue(t *testing.T) {
	for raw, want := range map[string]string{
		"http://example.com/a":                   "http://example.com/a",
		"http://example.com/pa th?q=a b":         "http://example.com/pa%20th?q=a%20b",
		"http://bad.example.com/x?a='b'&c=\\":    "http://bad.example.com/x?a='b'&c=%5C",
		"http://example.com/%zz%41":              "http://example.com/%25zz%41",
		"http://example.com/a|b{c}^`<>\"":        "http://example.com/a%7Cb%7Bc%7D%5E%60%3C%3E%22",
		"http://example.com/#a#b":                "http://example.com/#a%23b",
		"http://example.com/[x]":                 "http://example.com/%5Bx%5D",
		"http://[2001:db8::1]/x":                 "http://[2001:db8::1]/x",
		"http://пример.рф/путь":                  "http://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C",
		"http://user@пример.рф:8080/":            "http://user@xn--e1afmkfd.xn--p1ai:8080/",
		"https://example.com/\x01":               "https://example.com/%01",
		"http://under_score.example.com/a?b=c#d": "http://under_score.example.com/a?b=c#d",
	} {
		got, ok := URIValue(raw)
		if got != want || !ok {
			t.Errorf("URIValue(%q) = %q, %v; want %q, true", raw, got, ok, want)
		}
	}
	if _, ok := URIValue("no scheme here"); ok {
		t.Error("a value without a scheme was taken for a URI")
	}
}

func TestValidHostnameAndEmail(t *testing.T) {
	for s, want := range map[string]bool{
		"example.com": true, "xn--e1afmkfd.xn--p1ai": true, "пример.рф": true, "a-b.example.com": true,
		"under_score.example.com": false, "-bad.example.com": false, "bad-.example.com": false, "": false,
		"a..b": false, "example.com.": false, string(make([]byte, 64)) + ".com": false,
	} {
		if got := ValidHostname(s); got != want {
			t.Errorf("ValidHostname(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{
		"a@example.com": true, "first.last+tag@sub.example.org": true,
		"not an email": false, "a@under_score.example.com": false, "Name <a@example.com>": false, "a@": false, "@example.com": false,
	} {
		if got := ValidEmail(s); got != want {
			t.Errorf("ValidEmail(%q) = %v, want %v", s, got, want)
		}
	}
}
