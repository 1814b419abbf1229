package ignite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The types in this file decode values whose JSON shape differs between
// Flashpoint API families and between public sources (docs/flashpoint-api.md §1.2, §4.5).
// Each remembers enough of the original form to encode it back unchanged,
// so a decode → encode round trip loses nothing.

var jsonNull = []byte("null")

// zone styles remembered by Time for re-encoding.
const (
	zoneZ      = iota // "...Z"
	zoneOffset        // "...+00:00"
	zoneNone          // "..." (no zone; read as UTC)
	zoneDate          // "2006-01-02"
	zoneEpoch         // "1717128199" (epoch seconds in a string)
	zoneNumber        // 1717128199 (epoch seconds as a JSON number)
	zoneSpace         // "2006-01-02 15:04:05" (space separator, no zone)
)

// Time is a timestamp decoded leniently: RFC 3339 with or without fractional
// seconds, with Z, an offset or no zone (read as UTC), a bare date, or epoch
// seconds as a string or a number. JSON null and "" decode to the zero Time.
type Time struct {
	time.Time
	frac  int8 // fractional digits in the original text
	style int8 // one of the zone* constants
	set   bool // a value (not null) was decoded or assigned
}

// NewTime returns a Time that encodes as RFC 3339 in UTC with microseconds.
func NewTime(t time.Time) Time {
	return Time{Time: t.UTC(), frac: 6, style: zoneZ, set: true}
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, jsonNull) {
		*t = Time{}
		return nil
	}
	if len(b) > 0 && b[0] != '"' {
		n, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return fmt.Errorf("ignite: timestamp %s: not a string or epoch number", b)
		}
		*t = Time{Time: time.Unix(int64(n), 0).UTC(), style: zoneNumber, set: true}
		return nil
	}
	s, err := unquote(b)
	if err != nil {
		return err
	}
	if s == "" {
		*t = Time{}
		return nil
	}
	parsed, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = parsed
	return nil
}

// MarshalJSON implements json.Marshaler, reproducing the decoded form.
func (t Time) MarshalJSON() ([]byte, error) {
	if !t.set {
		return jsonNull, nil
	}
	if t.style == zoneNumber {
		return strconv.AppendInt(nil, t.Unix(), 10), nil
	}
	return strconv.AppendQuote(nil, t.text()), nil
}

func (t Time) text() string {
	u := t.Time
	switch t.style {
	case zoneDate:
		return u.Format(time.DateOnly)
	case zoneEpoch:
		return fmt.Sprintf("%09d", u.Unix()) // ParseTime reads 9 to 11 digits as epoch seconds
	}
	layout := "2006-01-02T15:04:05"
	if t.style == zoneSpace {
		layout = time.DateTime
	}
	if t.frac > 0 {
		layout += "." + strings.Repeat("0", int(t.frac))
	}
	switch t.style {
	case zoneZ:
		return u.UTC().Format(layout) + "Z"
	case zoneOffset:
		return u.Format(layout + "-07:00")
	default:
		return u.UTC().Format(layout)
	}
}

// IsSet reports whether a non-null timestamp was decoded or assigned.
func (t Time) IsSet() bool { return t.set }

// ParseTime parses a timestamp in any form the Flashpoint APIs use.
func ParseTime(s string) (Time, error) {
	if tt, ok := parseFast(s); ok {
		return tt, nil
	}
	if isDigits(s) && len(s) >= 9 && len(s) <= 11 {
		n, _ := strconv.ParseInt(s, 10, 64)
		return Time{Time: time.Unix(n, 0).UTC(), style: zoneEpoch, set: true}, nil
	}
	if len(s) == 10 {
		if d, err := time.Parse(time.DateOnly, s); err == nil {
			return Time{Time: d, style: zoneDate, set: true}, nil
		}
	}
	// Slow path: anything time.Parse understands in these layouts.
	for _, l := range []struct {
		layout string
		style  int8
	}{
		{time.RFC3339Nano, zoneOffset},
		{"2006-01-02T15:04:05.999999999", zoneNone},
		{"2006-01-02 15:04:05.999999999", zoneSpace},
		{"2006-01-02 15:04:05Z07:00", zoneOffset},
	} {
		if p, err := time.Parse(l.layout, s); err == nil {
			return Time{Time: p, style: l.style, frac: fracDigits(s), set: true}, nil
		}
	}
	return Time{}, fmt.Errorf("ignite: cannot parse timestamp %q", truncate(s, 64))
}

// parseFast handles YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±HH:MM] without allocating.
func parseFast(s string) (Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return Time{}, false
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return Time{}, false
	}
	i := 19
	nsec, frac := 0, 0
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if i-start < 9 {
				nsec = nsec*10 + int(s[i]-'0')
			}
			i++
		}
		frac = i - start
		if frac == 0 {
			return Time{}, false
		}
		for k := min(frac, 9); k < 9; k++ {
			nsec *= 10
		}
	}
	style := int8(zoneNone)
	if s[10] == ' ' {
		style = zoneSpace
	}
	loc := time.UTC
	offset := 0
	switch {
	case i == len(s):
	case (s[i] == 'Z' || s[i] == 'z') && i+1 == len(s):
		style = zoneZ
	case (s[i] == '+' || s[i] == '-') && len(s)-i == 6 && s[i+3] == ':':
		hh, okh := num(i+1, i+3)
		mm, okm := num(i+4, i+6)
		if !okh || !okm || hh > 23 || mm > 59 {
			return Time{}, false
		}
		offset = hh*3600 + mm*60
		if s[i] == '-' {
			offset = -offset
		}
		style = zoneOffset
		loc = time.FixedZone("", offset) // kept, so the offset re-encodes as sent
	default:
		return Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	if t.Day() != day { // 2025-02-31 and the like
		return Time{}, false
	}
	return Time{Time: t, frac: int8(min(frac, 9)), style: style, set: true}, true
}

func fracDigits(s string) int8 {
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return 0
	}
	n := 0
	for j := i + 1; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
		n++
	}
	return int8(min(n, 9))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatTime formats t the way Flashpoint date parameters must be sent:
// YYYY-MM-DDTHH:MM:SSZ in UTC (an offset such as +00:00 is answered 400).
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// Number is a float that may arrive as a JSON number, a numeric string or null.
type Number struct {
	V      float64
	Valid  bool
	quoted bool
}

// NewNumber returns a valid Number.
func NewNumber(v float64) Number { return Number{V: v, Valid: true} }

// UnmarshalJSON implements json.Unmarshaler.
func (n *Number) UnmarshalJSON(b []byte) error {
	*n = Number{}
	if bytes.Equal(b, jsonNull) {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		var err error
		if s, err = unquote(b); err != nil {
			return err
		}
		n.quoted = true
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("ignite: %s is not a number", truncate(string(b), 32))
	}
	n.V, n.Valid = v, true
	return nil
}

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	if !n.Valid {
		if n.quoted {
			return []byte(`""`), nil
		}
		return jsonNull, nil
	}
	b := strconv.AppendFloat(nil, n.V, 'f', -1, 64)
	if n.quoted {
		return strconv.AppendQuote(nil, string(b)), nil
	}
	return b, nil
}

// Ptr returns the value or nil.
func (n Number) Ptr() *float64 {
	if !n.Valid {
		return nil
	}
	v := n.V
	return &v
}

// Int is an integer that may arrive as a JSON number, a numeric string or null.
type Int struct {
	V      int64
	Valid  bool
	quoted bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	var f Number
	if err := f.UnmarshalJSON(b); err != nil {
		return err
	}
	*n = Int{V: int64(f.V), Valid: f.Valid, quoted: f.quoted}
	return nil
}

// MarshalJSON implements json.Marshaler.
func (n Int) MarshalJSON() ([]byte, error) {
	if !n.Valid {
		return jsonNull, nil
	}
	b := strconv.AppendInt(nil, n.V, 10)
	if n.quoted {
		return strconv.AppendQuote(nil, string(b)), nil
	}
	return b, nil
}

// CWEID is a CWE number sent either as an integer (22) or as text ("CWE-22").
type CWEID struct {
	V      int
	Valid  bool
	prefix bool // sent as "CWE-n"
	quoted bool // sent as "n"
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *CWEID) UnmarshalJSON(b []byte) error {
	*c = CWEID{}
	if bytes.Equal(b, jsonNull) {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		var err error
		if s, err = unquote(b); err != nil {
			return err
		}
		c.quoted = true
		if len(s) > 4 && strings.EqualFold(s[:4], "CWE-") {
			s, c.prefix, c.quoted = s[4:], true, false
		}
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("ignite: cwe_id %s is neither an integer nor CWE-n", truncate(string(b), 32))
	}
	c.V, c.Valid = v, true
	return nil
}

// MarshalJSON implements json.Marshaler.
func (c CWEID) MarshalJSON() ([]byte, error) {
	switch {
	case !c.Valid:
		return jsonNull, nil
	case c.prefix:
		return strconv.AppendQuote(nil, "CWE-"+strconv.Itoa(c.V)), nil
	case c.quoted:
		return strconv.AppendQuote(nil, strconv.Itoa(c.V)), nil
	}
	return strconv.AppendInt(nil, int64(c.V), 10), nil
}

// String returns "CWE-n", or "" when unset.
func (c CWEID) String() string {
	if !c.Valid {
		return ""
	}
	return "CWE-" + strconv.Itoa(c.V)
}

// Scalar holds a value seen as a string in some sources and a number in
// others (ransomware_score: "High", "None", 0.45 or null).
type Scalar struct {
	Str   string  // the text form ("High"), or the number formatted
	Num   float64 // the numeric form, when IsNum
	IsNum bool
	Valid bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (s *Scalar) UnmarshalJSON(b []byte) error {
	*s = Scalar{}
	switch {
	case bytes.Equal(b, jsonNull):
		return nil
	case len(b) > 0 && b[0] == '"':
		s.Valid = true
		var err error
		s.Str, err = unquote(b)
		return err
	case bytes.Equal(b, []byte("true")) || bytes.Equal(b, []byte("false")):
		s.Valid, s.Str = true, string(b)
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("ignite: %s is neither text nor a number", truncate(string(b), 32))
	}
	s.Num, s.IsNum, s.Valid, s.Str = v, true, true, string(b)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (s Scalar) MarshalJSON() ([]byte, error) {
	switch {
	case !s.Valid:
		return jsonNull, nil
	case s.IsNum:
		return strconv.AppendFloat(nil, s.Num, 'f', -1, 64), nil
	case s.Str == "true" || s.Str == "false":
		return []byte(s.Str), nil
	}
	return json.Marshal(s.Str)
}

// Nullable is a string field where null and absence must be told apart
// (the `next` link of a page: absent means "page by offset", null means "last page").
type Nullable struct {
	Value   string
	Present bool // the key was in the document
	Null    bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Nullable) UnmarshalJSON(b []byte) error {
	n.Present = true
	if bytes.Equal(b, jsonNull) {
		n.Null, n.Value = true, ""
		return nil
	}
	if err := json.Unmarshal(b, &n.Value); err != nil {
		return errors.New("ignite: link is not a string")
	}
	return nil
}

// MarshalJSON implements json.Marshaler.
func (n Nullable) MarshalJSON() ([]byte, error) {
	if n.Null || !n.Present {
		return jsonNull, nil
	}
	return json.Marshal(n.Value)
}

// unquote reads a JSON string, without the cost of json.Unmarshal when it
// holds no escapes (timestamps and numbers never do).
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		return string(b[1 : len(b)-1]), nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", err
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
