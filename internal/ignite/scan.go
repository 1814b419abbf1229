package ignite

import (
	"errors"
	"fmt"
)

// A light JSON scanner that finds value boundaries without decoding: list
// pages are split into items with one pass, and each item is then decoded
// (and validated) on its own by encoding/json. This halves the scanning of a
// page compared with decoding the envelope into []json.RawMessage.

var errTruncated = errors.New("unexpected end of JSON input")

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return 0, errTruncated
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch c := b[i]; c {
			case '"':
				end, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errTruncated
	}
	start := i
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !isSpace(b[i]) {
		i++
	}
	if i == start {
		return 0, fmt.Errorf("invalid character %q at offset %d", b[i], i)
	}
	return i, nil
}

func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errTruncated
}

// objectFields returns the raw value of each top-level key of a JSON object.
// Keys are compared as written (no escape processing): envelope keys are plain.
func objectFields(b []byte) (map[string][]byte, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := make(map[string][]byte, 4)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, trailing(b, i+1)
	}
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return nil, fmtErr(b, i, "a key")
		}
		end, err := skipString(b, i)
		if err != nil {
			return nil, err
		}
		key := string(b[i+1 : end-1])
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, fmtErr(b, i, "':'")
		}
		vstart := skipSpace(b, i+1)
		vend, err := skipValue(b, vstart)
		if err != nil {
			return nil, err
		}
		out[key] = b[vstart:vend]
		i = skipSpace(b, vend)
		if i >= len(b) {
			return nil, errTruncated
		}
		if b[i] == '}' {
			return out, trailing(b, i+1)
		}
		if b[i] != ',' {
			return nil, fmtErr(b, i, "',' or '}'")
		}
		i++
	}
}

// arrayElements splits a JSON array into its elements' raw bytes.
func arrayElements(b []byte) ([][]byte, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, errors.New("not a JSON array")
	}
	var out [][]byte
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, trailing(b, i+1)
	}
	for {
		start := skipSpace(b, i)
		end, err := skipValue(b, start)
		if err != nil {
			return nil, err
		}
		out = append(out, b[start:end])
		i = skipSpace(b, end)
		if i >= len(b) {
			return nil, errTruncated
		}
		if b[i] == ']' {
			return out, trailing(b, i+1)
		}
		if b[i] != ',' {
			return nil, fmtErr(b, i, "',' or ']'")
		}
		i++
	}
}

func trailing(b []byte, i int) error {
	if i = skipSpace(b, i); i != len(b) {
		return fmt.Errorf("invalid character %q after JSON value", b[i])
	}
	return nil
}

func fmtErr(b []byte, i int, want string) error {
	if i >= len(b) {
		return errTruncated
	}
	return fmt.Errorf("invalid character %q at offset %d, want %s", b[i], i, want)
}
