package stix

import (
	"net/mail"
	"strings"

	"golang.org/x/net/idna"
)

// The OASIS schemas give three observable values a format: a URL is a
// "uri" (RFC 3986), a domain name an "idn-hostname" (RFC 5890), an email
// address an "email" (RFC 5322). A value Flint keeps as a valid indicator
// may not be one: a URL with a space or a backslash, an internationalised
// host, a domain with an underscore. Flint's rule (docs/stix.md):
//   - a URL is written as a URI: what RFC 3986 does not allow is
//     percent-encoded as UTF-8 and an internationalised host becomes its
//     A-label; the indicator's pattern uses the same text, and the value as
//     Flint keeps it stays in the extension's "value";
//   - a domain name or email address that is not valid in its format gets
//     its indicator, whose pattern carries the value, and no observable.
// Nothing is dropped: every indicator is written.

// hostnameProfile is the check of an idn-hostname: letters, digits and
// hyphens in labels of 1–63 (U-labels allowed), as RFC 5890 and the OASIS
// validator want; no underscore.
var hostnameProfile = idna.New(idna.MapForLookup(), idna.StrictDomainName(true), idna.ValidateLabels(true),
	idna.BidiRule(), idna.VerifyDNSLength(true))

// ValidHostname reports whether s is an idn-hostname.
func ValidHostname(s string) bool {
	if s == "" || strings.HasSuffix(s, ".") {
		return false
	}
	_, err := hostnameProfile.ToASCII(s)
	return err == nil
}

// ValidEmail reports whether s is an email address as the "email" format
// wants: a bare addr-spec whose domain is a host name.
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && ValidHostname(s[at+1:])
}

// uriAllowed are the characters RFC 3986 allows outside a percent-encoding
// (unreserved, gen-delims and sub-delims).
func uriAllowed(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// ValidURI reports whether s is an absolute URI by RFC 3986: a scheme,
// then only the characters it allows, percent-encodings of two hex digits,
// one fragment at most, and brackets only around an IP literal host.
func ValidURI(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon < 1 || !validScheme(s[:colon]) {
		return false
	}
	rest := s[colon+1:]
	host, hostStart := "", -1
	if strings.HasPrefix(rest, "//") {
		auth := rest[2:]
		if end := strings.IndexAny(auth, "/?#"); end >= 0 {
			auth = auth[:end]
		}
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			auth = auth[at+1:]
		}
		host, hostStart = auth, strings.Index(rest, auth)
		if strings.HasPrefix(host, "[") {
			end := strings.IndexByte(host, ']')
			if end < 0 || (end+1 < len(host) && host[end+1] != ':') {
				return false
			}
			host = host[:end+1]
		}
	}
	fragments := 0
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '%':
			if i+2 >= len(rest) || !isHex(rest[i+1]) || !isHex(rest[i+2]) {
				return false
			}
			i += 2
		case c == '#':
			if fragments++; fragments > 1 {
				return false
			}
		case c == '[' || c == ']':
			if hostStart < 0 || i < hostStart || i >= hostStart+len(host) || !strings.HasPrefix(host, "[") {
				return false
			}
		case !uriAllowed(c):
			return false
		}
	}
	return true
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// URIValue writes a URL as a URI by Flint's rule: an internationalised host
// as its A-label, then every byte RFC 3986 does not allow, a '%' that does
// not start a percent-encoding, a second '#' and a bracket outside an IP
// literal host percent-encoded. ok is false when even that is not a URI
// (no scheme): the indicator is then written without its observable.
func URIValue(raw string) (uri string, ok bool) {
	s := raw
	if colon := strings.Index(s, "://"); colon > 0 {
		auth := s[colon+3:]
		end := strings.IndexAny(auth, "/?#")
		if end < 0 {
			end = len(auth)
		}
		hostport := auth[:end]
		userinfo := ""
		if at := strings.LastIndexByte(hostport, '@'); at >= 0 {
			userinfo, hostport = hostport[:at+1], hostport[at+1:]
		}
		host, port := hostport, ""
		if !strings.HasPrefix(host, "[") {
			if c := strings.LastIndexByte(host, ':'); c >= 0 {
				host, port = host[:c], host[c:]
			}
			if ascii, err := idna.Lookup.ToASCII(host); err == nil && ascii != host && !isASCII(host) {
				host = ascii
			}
		}
		s = s[:colon+3] + userinfo + host + port + auth[end:]
	}
	var b strings.Builder
	colon := strings.IndexByte(s, ':')
	hostFrom, hostTo := -1, -1
	if strings.HasPrefix(s[colon+1:], "//[") {
		hostFrom = colon + 3
		if end := strings.IndexByte(s[hostFrom:], ']'); end >= 0 {
			hostTo = hostFrom + end
		}
	}
	fragment := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
		case c == '#' && !fragment && i > colon:
			fragment = true
			b.WriteByte(c)
		case (c == '[' || c == ']') && i >= hostFrom && i <= hostTo:
			b.WriteByte(c)
		case uriAllowed(c) && c != '#' && c != '[' && c != ']':
			b.WriteByte(c)
		default:
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	uri = b.String()
	return uri, ValidURI(uri)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
