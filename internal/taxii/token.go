package taxii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// Token is where the next page of a walk starts, bound to what asked for
// it: the key (a token given to one key is refused to another), its TLP
// cap (by rank, so a key whose cap changed cannot resume a walk made
// under the old one), the collection and the filter's digest.
type Token struct {
	Key        int64  // the API key's id
	CapRank    int    // the cap's rank (intel.TLP.Rank; -1: no cap)
	Collection int64  // the Flint collection
	Filter     string // Filter.Digest (16 hex digits)
	Stamp      int64  // resume at the entry stamped at least this (µs)
	Skip       int    // of the objects of the entry stamped Stamp, this many were served
}

const tokenVersion = 1

// ErrToken is a token this server did not give, or that was altered.
var ErrToken = errors.New("taxii: the next token is not one this server gave for this request")

// Sign writes t as an opaque token, authenticated with key (HMAC-SHA256):
// a client can neither forge one nor alter one unnoticed.
func Sign(key []byte, t Token) string {
	b := make([]byte, 0, 64)
	b = append(b, tokenVersion)
	b = binary.AppendVarint(b, t.Key)
	b = binary.AppendVarint(b, int64(t.CapRank))
	b = binary.AppendVarint(b, t.Collection)
	b = binary.AppendVarint(b, t.Stamp)
	b = binary.AppendVarint(b, int64(t.Skip))
	b = append(b, t.Filter...)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	b = append(b, m.Sum(nil)[:16]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Verify reads a token Sign wrote with key.
func Verify(key []byte, s string) (Token, error) {
	var t Token
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+16 || b[0] != tokenVersion {
		return t, ErrToken
	}
	body, mac := b[:len(b)-16], b[len(b)-16:]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)[:16]) {
		return t, ErrToken
	}
	rest := body[1:]
	var vals [5]int64
	for i := range vals {
		v, n := binary.Varint(rest)
		if n <= 0 {
			return t, ErrToken
		}
		vals[i], rest = v, rest[n:]
	}
	t.Key, t.CapRank, t.Collection, t.Stamp, t.Skip = vals[0], int(vals[1]), vals[2], vals[3], int(vals[4])
	t.Filter = string(rest)
	if t.Skip < 0 {
		return Token{}, ErrToken
	}
	return t, nil
}
