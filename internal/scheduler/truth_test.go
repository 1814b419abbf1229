package scheduler

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/store"
)

func truthIDs(t *testing.T, s *sim.Server, since time.Time) []string {
	t.Helper()
	tr, err := s.Truth(sim.DatasetIndicators, url.Values{"modified_after": {since.Format(time.RFC3339)}})
	if err != nil {
		t.Fatal(err)
	}
	ids := slices.Clone(tr.IDs)
	slices.Sort(ids)
	return ids
}

// storedIDs returns the Flashpoint ids of everything a channel stored, in
// order, an id once per object that carries it.
func storedIDs(t *testing.T, st *store.Store, channel int64) []string {
	return originals(t, st, store.Query{ChannelID: channel})
}

// originals returns the Flashpoint ids the channel of q gave the objects q
// finds, sorted, an id once per object.
func originals(t *testing.T, st *store.Store, q store.Query) []string {
	t.Helper()
	var ids []string
	q.Limit = 1000
	for {
		res, err := st.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			for _, p := range o.Sources {
				if p.ChannelID == q.ChannelID && p.OriginalID != "" { // not the attack patterns indicators come with
					ids = append(ids, p.OriginalID)
				}
			}
		}
		if res.Next == "" {
			break
		}
		q.After = res.Next
	}
	slices.Sort(ids)
	return ids
}
