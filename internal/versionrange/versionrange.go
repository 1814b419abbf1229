// Package versionrange compares product versions, a thin layer over
// hashicorp/go-version that admits when it cannot tell.
package versionrange

import (
	"strings"
	"sync"

	"github.com/hashicorp/go-version"
)

// Compare returns -1, 0 or 1 as a is before, equal to or after b, and ok
// false when the order cannot be told: a version that does not parse, or one
// with a suffix go-version would read as a pre-release (OpenSSL's 1.1.1k
// sorts below 1.1.1 there, which is wrong).
func Compare(a, b string) (int, bool) {
	va, ok1 := parse(a)
	vb, ok2 := parse(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return va.Compare(vb), true
}

func parse(s string) (*version.Version, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, false
	}
	memo.Lock()
	m, ok := memo.m[s]
	memo.Unlock()
	if ok {
		return m.v, m.ok
	}
	v, err := version.NewVersion(s)
	ok = err == nil && v.Prerelease() == "" && v.Metadata() == ""
	if !ok {
		v = nil
	}
	memo.Lock()
	if len(memo.m) >= memoSize {
		clear(memo.m) // bounded whatever the strings it is given
	}
	memo.m[s] = parsed{v, ok}
	memo.Unlock()
	return v, ok
}

// memo keeps versions parsed (go-version's regular expression dominated
// matching an inventory: every asset's version against every listed one).
// A parsed version is never changed, so it is shared.
var memo = struct {
	sync.Mutex
	m map[string]parsed
}{m: map[string]parsed{}}

const memoSize = 1 << 16

type parsed struct {
	v  *version.Version
	ok bool
}

// Equal reports whether two versions are the same, by value when both parse
// ("7.2" and "7.2.0") and by text otherwise.
func Equal(a, b string) bool {
	if c, ok := Compare(a, b); ok {
		return c == 0
	}
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}
