package service_test

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/service"
)

// FuzzQueryParams: whatever the query string, parsing it never panics, and
// what it accepts holds only text a database takes.
func FuzzQueryParams(f *testing.F) {
	for _, s := range []string{"q=a%00b", "type=ipv4,domain&limit=5", "product=x&min_cvss3=9&sort=-cvss3", "tag=%ff", "cursor=o1",
		"modified_after=2026-11-20", "severity=critical,high&has_cve=true", "q=" + strings.Repeat("\"", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, parse := range []func(url.Values) (string, []string, error){
			func(v url.Values) (string, []string, error) {
				q, err := service.ObjectQuery(v)
				return q.Text + q.Value + q.ValuePrefix + q.ValueContains + q.Collection + q.Instance, q.Tags, err
			},
			func(v url.Values) (string, []string, error) {
				q, err := service.VulnQuery(v)
				return q.Text + q.Product + q.Vendor, q.Tags, err
			},
		} {
			text, tags, err := parse(v)
			if err != nil {
				continue
			}
			for _, s := range append(tags, text) {
				if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
					t.Fatalf("%q accepted with text %q", raw, s)
				}
			}
		}
	})
}
