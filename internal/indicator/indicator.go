// Package indicator parses, normalises, refangs and defangs indicator values
// (docs/domain.md §6): canonical IP addresses, lower-case ASCII (IDNA) domains,
// URLs with lower-case scheme and host, lower-case hex hashes. Defanged input
// ("hxxp://evil[.]com") is accepted. Invalid values are refused with an
// error saying what is wrong. The package is pure: no I/O, no state.
package indicator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/flintcti/flint/internal/intel"
)

// profile converts domain names for lookup: it maps to lower case, applies
// the IDNA 2008 rules and refuses labels that DNS would not carry. Underscores
// are allowed because malware infrastructure uses them.
var profile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false), idna.CheckHyphens(false), idna.BidiRule())

func invalid(t intel.Type, raw, format string, args ...any) error {
	return intel.Errorf(intel.EINVALID, "%s %q: %s", t, clip(raw), fmt.Sprintf(format, args...))
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// Normalize returns the canonical form of raw as an indicator of type t, or an
// EINVALID error naming the problem. Normalize(t, Normalize(t, v)) equals
// Normalize(t, v) for every accepted v.
func Normalize(t intel.Type, raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", invalid(t, raw, "value is empty")
	}
	if !utf8.ValidString(s) {
		return "", invalid(t, raw, "not valid UTF-8")
	}
	switch t {
	case intel.IPv4, intel.IPv6:
		return normIP(t, Refang(s))
	case intel.Domain:
		return normDomain(Refang(s))
	case intel.URL:
		return normURL(Refang(s))
	case intel.Email:
		return normEmail(Refang(s))
	case intel.File:
		v := strings.ToLower(s)
		if _, ok := HashAlgoOf(v); !ok {
			return "", invalid(t, raw, "not a hash: want 32 (MD5), 40 (SHA-1), 64 (SHA-256) or 128 (SHA-512) hex digits")
		}
		return v, nil
	case intel.ExtractedConfig:
		return normJSON(raw)
	case intel.ASN:
		return normASN(s)
	case intel.RegistryKey, intel.Filename, intel.Mutex, intel.UserAgent:
		if strings.ContainsAny(s, "\x00\n\r") {
			return "", invalid(t, raw, "contains a NUL or line break")
		}
		if t == intel.RegistryKey {
			if s = strings.TrimSpace(normRegistryKey(s)); s == "" {
				return "", invalid(t, raw, "no key path")
			}
		}
		return s, nil
	}
	if !t.Valid() {
		return "", intel.Errorf(intel.EINVALID, "type %q is not known", t)
	}
	return "", intel.Errorf(intel.EINVALID, "%s is not an indicator type", t)
}

func normIP(t intel.Type, s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", invalid(t, s, "not an IP address")
	}
	if a.Zone() != "" {
		return "", invalid(t, s, "an IPv6 zone is not allowed")
	}
	a = a.Unmap()
	switch {
	case t == intel.IPv4 && !a.Is4():
		return "", invalid(t, s, "an IPv6 address, not IPv4")
	case t == intel.IPv6 && a.Is4():
		return "", invalid(t, s, "an IPv4 address, not IPv6")
	}
	return a.String(), nil
}

func normDomain(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if _, err := netip.ParseAddr(s); err == nil {
		return "", invalid(intel.Domain, s, "an IP address, not a domain")
	}
	v, err := profile.ToASCII(s)
	if err != nil {
		return "", invalid(intel.Domain, s, "not a valid domain name: %v", err)
	}
	if len(v) > 253 {
		return "", invalid(intel.Domain, s, "longer than 253 characters")
	}
	labels := strings.Split(v, ".")
	if len(labels) < 2 {
		return "", invalid(intel.Domain, s, "needs at least two labels (name.tld)")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", invalid(intel.Domain, s, "each label must be 1–63 characters")
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", invalid(intel.Domain, s, "character %q is not allowed in a domain name", c)
			}
		}
	}
	return v, nil
}

func normURL(s string) (string, error) {
	if strings.ContainsAny(s, " \t\r\n\x00") {
		return "", invalid(intel.URL, s, "contains whitespace or NUL")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", invalid(intel.URL, s, "not a URL: %v", err)
	}
	if u.Scheme == "" || u.Host == "" {
		return "", invalid(intel.URL, s, "needs a scheme and a host (scheme://host/...)")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := u.Hostname(), u.Port()
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", invalid(intel.URL, s, "an IPv6 zone is not allowed in a URL host")
		}
		host = a.String()
		if a.Is6() && !a.Is4In6() {
			host = "[" + host + "]"
		}
	} else {
		h, err := profile.ToASCII(strings.TrimSuffix(host, "."))
		if err != nil || h == "" || slices.ContainsFunc(strings.Split(h, "."), func(l string) bool { return l == "" || len(l) > 63 }) {
			return "", invalid(intel.URL, s, "host %q is not a valid domain name or IP address", host)
		}
		host = h
	}
	if port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", invalid(intel.URL, s, "port %q is not a number from 0 to 65535", port)
		}
		host += ":" + port
	}
	u.Host = host
	return u.String(), nil
}

func normEmail(s string) (string, error) {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", invalid(intel.Email, s, "not an address of the form local@domain")
	}
	local := s[:at]
	if strings.ContainsAny(local, " \t\r\n\x00<>") {
		return "", invalid(intel.Email, s, "the local part contains whitespace or angle brackets")
	}
	d, err := normDomain(s[at+1:])
	if err != nil {
		return "", invalid(intel.Email, s, "bad domain: %v", intel.ErrorMessage(err))
	}
	return local + "@" + d, nil
}

func normJSON(raw string) (string, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", invalid(intel.ExtractedConfig, raw, "not a JSON document: %v", err)
	}
	if dec.More() {
		return "", invalid(intel.ExtractedConfig, raw, "more than one JSON document")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // map keys come out sorted: a canonical form
		return "", invalid(intel.ExtractedConfig, raw, "cannot re-encode: %v", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func normASN(s string) (string, error) {
	n := strings.TrimPrefix(strings.ToUpper(s), "AS")
	v, err := strconv.ParseUint(n, 10, 32)
	if err != nil {
		return "", invalid(intel.ASN, s, "not an AS number (AS0 to AS4294967295)")
	}
	return "AS" + strconv.FormatUint(v, 10), nil
}

var hives = map[string]string{
	"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER", "HKCR": "HKEY_CLASSES_ROOT",
	"HKU": "HKEY_USERS", "HKCC": "HKEY_CURRENT_CONFIG",
}

func normRegistryKey(s string) string {
	root, rest, _ := strings.Cut(s, `\`)
	if full, ok := hives[strings.ToUpper(root)]; ok {
		root = full
	} else if strings.HasPrefix(strings.ToUpper(root), "HKEY_") {
		root = strings.ToUpper(root)
	}
	if rest == "" {
		return root
	}
	return root + `\` + rest
}

// HashAlgoOf tells which hash algorithm a lower-case hex digest belongs to,
// by its length.
func HashAlgoOf(v string) (intel.HashAlgo, bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	switch len(v) {
	case 32:
		return intel.MD5, true
	case 40:
		return intel.SHA1, true
	case 64:
		return intel.SHA256, true
	case 128:
		return intel.SHA512, true
	}
	return "", false
}

// Detect guesses the type of a value given without one (a lookup), and
// returns it normalised. The order: IP, hash, URL, email, ASN, domain.
func Detect(raw string) (intel.Type, string, error) {
	s := Refang(strings.TrimSpace(raw))
	if s == "" {
		return "", "", intel.Errorf(intel.EINVALID, "value is empty")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Unmap().Is4() {
			v, err := normIP(intel.IPv4, s)
			return intel.IPv4, v, err
		}
		v, err := normIP(intel.IPv6, s)
		return intel.IPv6, v, err
	}
	if _, ok := HashAlgoOf(strings.ToLower(s)); ok {
		return intel.File, strings.ToLower(s), nil
	}
	if strings.Contains(s, "://") {
		v, err := normURL(s)
		return intel.URL, v, err
	}
	if strings.Contains(s, "@") && !strings.Contains(s, "/") {
		v, err := normEmail(s)
		return intel.Email, v, err
	}
	if len(s) > 2 && strings.EqualFold(s[:2], "AS") {
		if v, err := normASN(s); err == nil {
			return intel.ASN, v, nil
		}
	}
	v, err := normDomain(s)
	if err != nil {
		return "", "", intel.Errorf(intel.EINVALID,
			"%q is not an IP address, hash, URL, email address, AS number or domain name", clip(raw))
	}
	return intel.Domain, v, nil
}

// refangs undo the common defanging notations. Longer forms come first so
// that "[://]" is not half-rewritten by "[:]".
var refangs = strings.NewReplacer(
	"[://]", "://", "[:]", ":", "[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "(dot)", ".",
	"[@]", "@", "(@)", "@", "[at]", "@", "(at)", "@",
)

// Refang undoes defanging: "hxxp://evil[.]com" becomes "http://evil.com".
func Refang(s string) string {
	for defanged, live := range map[string]string{"hxxp": "http", "hxxps": "https", "fxp": "ftp"} {
		if len(s) > len(defanged)+1 && strings.EqualFold(s[:len(defanged)], defanged) &&
			(s[len(defanged)] == ':' || s[len(defanged)] == '[') {
			s = live + s[len(defanged):]
			break
		}
	}
	if !strings.ContainsAny(s, "[({") {
		return s
	}
	return refangs.Replace(s)
}

// Defang makes a normalised value safe to paste: URLs lose their live scheme
// and every dot of a host becomes "[.]". Refang(Defang(t, v)) == v.
func Defang(t intel.Type, v string) string {
	switch t {
	case intel.IPv4, intel.Domain:
		return strings.ReplaceAll(v, ".", "[.]")
	case intel.Email:
		local, domain, _ := strings.Cut(v, "@")
		return local + "[@]" + strings.ReplaceAll(domain, ".", "[.]")
	case intel.URL:
		scheme, rest, ok := strings.Cut(v, "://")
		if !ok {
			return v
		}
		switch scheme {
		case "http":
			scheme = "hxxp"
		case "https":
			scheme = "hxxps"
		case "ftp":
			scheme = "fxp"
		}
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		return scheme + "://" + strings.ReplaceAll(rest[:end], ".", "[.]") + rest[end:]
	}
	return v
}
