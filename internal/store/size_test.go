package store

import (
	"context"
	"testing"

	"github.com/flintcti/flint/internal/intel"
)

// Size tells what the database takes on disk, and grows with what it holds.
func TestSize(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		empty, err := s.Size(ctx)
		if err != nil || empty <= 0 {
			t.Fatalf("size of an empty store: %d, %v", empty, err)
		}
		l := MustLease(t, s, 1)
		MustApply(t, s, l, ipv4Page(intel.Provenance{ChannelID: 1, Instance: "prod", Channel: "indicators"}, 0, 5000, c.Now(), "1"))
		full, err := s.Size(ctx)
		if err != nil || full <= empty {
			t.Fatalf("size with 5,000 indicators: %d (empty: %d), %v", full, empty, err)
		}
	})
}
