package store

import (
	"testing"

	"github.com/flintcti/flint/internal/intel"
)

// A page cursor decodes to what was encoded, and one of the other kind
// (sorted or not), altered or forged is refused as invalid.
func TestSearchCursor(t *testing.T) {
	for _, c := range []struct {
		cur    searchCursor
		sorted bool
	}{{searchCursor{id: 1}, false}, {searchCursor{id: 123456789}, false}, {searchCursor{id: 42, key: 9.8}, true},
		{searchCursor{id: 7, key: -1}, true}, {searchCursor{id: 1 << 40, key: 0.00012}, true}} {
		s := c.cur.encode(c.sorted)
		got, err := parseCursor(s, c.sorted)
		if err != nil || got != c.cur {
			t.Errorf("%+v sorted %v: encoded %q, decoded %+v, %v", c.cur, c.sorted, s, got, err)
		}
		if _, err := parseCursor(s, !c.sorted); intel.ErrorCode(err) != intel.EINVALID {
			t.Errorf("%q taken for a cursor of the other kind: %v", s, err)
		}
	}
	for _, bad := range []string{"", "o", "x12", "o-", "ozz!", "s12", "s12_", "s_9.8", "s12_x", "o12_3", "12"} {
		for _, sorted := range []bool{false, true} {
			if _, err := parseCursor(bad, sorted); intel.ErrorCode(err) != intel.EINVALID {
				t.Errorf("cursor %q (sorted %v) accepted: %v", bad, sorted, err)
			}
		}
	}
}
