package stix

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

func TestParsePattern(t *testing.T) {
	tests := []struct {
		in   string
		want []Comparison // of the first observation
		obs  int
		qual []string
	}{
		{in: "[ipv4-addr:value = '198.51.100.23']", obs: 1,
			want: []Comparison{{ObjectType: "ipv4-addr", Path: "value", Operator: "=", Value: "198.51.100.23", IsString: true}}},
		{in: `[file:hashes.'SHA-256' = 'ab' OR file:hashes.MD5 = 'cd']`, obs: 1,
			want: []Comparison{{ObjectType: "file", Path: "hashes.SHA-256", Operator: "=", Value: "ab", IsString: true},
				{ObjectType: "file", Path: "hashes.MD5", Operator: "=", Value: "cd", IsString: true}}},
		{in: `[url:value = 'http://x/?a=\'b\'&c=\\']`, obs: 1,
			want: []Comparison{{ObjectType: "url", Path: "value", Operator: "=", Value: `http://x/?a='b'&c=\`, IsString: true}}},
		{in: `[network-traffic:dst_port NOT IN (80, 443) AND network-traffic:protocols[*] = 'tcp']`, obs: 1,
			want: []Comparison{{ObjectType: "network-traffic", Path: "dst_port", Negated: true, Operator: "IN", Value: "80,443"},
				{ObjectType: "network-traffic", Path: "protocols[*]", Operator: "=", Value: "tcp", IsString: true}}},
		{in: `([domain-name:value LIKE '%.evil.example'] OR [autonomous-system:number >= 64500]) FOLLOWEDBY [file:size > 1024.5] WITHIN 300 SECONDS`, obs: 3,
			want: []Comparison{{ObjectType: "domain-name", Path: "value", Operator: "LIKE", Value: "%.evil.example", IsString: true}},
			qual: []string{"WITHIN 300 SECONDS"}},
		{in: `[process:created > t'2026-01-01T00:00:00Z'] REPEATS 5 TIMES START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'`, obs: 1,
			want: []Comparison{{ObjectType: "process", Path: "created", Operator: ">", Value: "t2026-01-01T00:00:00Z"}},
			qual: []string{"REPEATS 5 TIMES", "START t2026-01-01T00:00:00Z STOP t2026-02-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.in)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", tt.in, err)
			continue
		}
		if len(p.Observations) != tt.obs {
			t.Errorf("%q: %d observations, want %d", tt.in, len(p.Observations), tt.obs)
		}
		if d := cmp.Diff(tt.want, p.Observations[0]); d != "" {
			t.Errorf("%q (-want +got):\n%s", tt.in, d)
		}
		if d := cmp.Diff(tt.qual, p.Qualifiers); d != "" {
			t.Errorf("%q qualifiers (-want +got):\n%s", tt.in, d)
		}
	}
}

func TestParsePatternRejects(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "expected an observation",
		"ipv4-addr:value = '1.2.3.4'":            "expected an observation",
		"[ipv4-addr:value = '1.2.3.4'":           `expected "]"`,
		"[ipv4-addr:value = '1.2.3.4']]":         "unexpected",
		"[ipv4-addr:value = '1.2.3.4]":           "unterminated string",
		"[ipv4-addr:value == '1.2.3.4']":         "expected a literal",
		"[ipv4-addr:value ~ '1.2.3.4']":          "unexpected character",
		"[ipv4-addr value = '1.2.3.4']":          `expected ":"`,
		"[ipv4-addr:value = '1'] WITHIN 5":       "SECONDS",
		"[ipv4-addr:value = '1'] WITHIN 5 HOURS": "SECONDS",
		"[a:b = 'x\\q']":                         "unterminated string",
		"[a:b IN ('x',]":                         "expected a string or number",
		"([a:b = 'x']":                           `expected ")"`,
	} {
		_, err := ParsePattern(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePattern(%q) error = %v, want one saying %q", in, err, want)
		}
	}
}

// Any string survives Quote and ParsePattern unchanged.
func TestQuoteRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.String().Draw(t, "s")
		p, err := ParsePattern("[url:value = " + Quote(s) + "]")
		if err != nil {
			t.Fatalf("Quote(%q): %v", s, err)
		}
		if got := p.Observations[0][0].Value; got != s {
			t.Fatalf("Quote(%q) parsed back as %q", s, got)
		}
	})
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"[ipv4-addr:value = '198.51.100.23']", `[file:hashes.'SHA-256' = 'ab' OR file:name = 'x']`,
		`([a:b IN (1, 2)] AND [c:d NOT LIKE 'x']) WITHIN 5 SECONDS`, `[a:b[*].c = t'2020-01-01T00:00:00Z']`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			return
		}
		if len(p.Observations) == 0 {
			t.Fatalf("%q parsed with no observation", s)
		}
		if strings.Count(s, "[") < len(p.Observations) {
			t.Fatalf("%q: more observations than brackets", s)
		}
	})
}

// Decode never panics on hostile bundles, and what it accepts it can encode.
func FuzzDecode(f *testing.F) {
	objs, rels := sample()
	b, _ := Encode(objs, rels)
	raw, _ := json.Marshal(b)
	f.Add(raw)
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"indicator","pattern":"[ipv4-addr:value = '1.2.3.4']"}]}`))
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"relationship","source_ref":"x","target_ref":"y"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, rels, err := Decode(data)
		if err != nil {
			return
		}
		for i := range objs {
			if objs[i].Type == "" {
				t.Fatalf("decoded an object without a type: %+v", objs[i])
			}
		}
		_, _ = Encode(objs, rels) // may refuse (e.g. a file without a hash) but must not panic
	})
}
