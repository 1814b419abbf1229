package scheduler

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// storedOriginals returns the distinct Flashpoint ids of the objects of type
// typ a channel stored, in order.
func storedOriginals(t *testing.T, st *store.Store, channel int64, typ intel.Type) []string {
	t.Helper()
	seen := map[string]bool{}
	q := store.Query{ChannelID: channel, Types: []intel.Type{typ}, Limit: 1000}
	for {
		res, err := st.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			for _, p := range o.Sources {
				if p.ChannelID == channel {
					seen[p.OriginalID] = true
				}
			}
		}
		if res.Next == "" {
			break
		}
		q.After = res.Next
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Whatever the server's page length, each channel stores exactly the
// ground truth: a page shorter than asked is not the last while the server
// says more follow.
func TestPagingModesKeepEveryItem(t *testing.T) {
	for name, modes := range map[string]sim.Modes{"max_page=3": {MaxPage: 3}} {
		t.Run(name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, dialect string) {
				cfg := smallSim()
				cfg.Modes = modes
				e := newEnv(t, dialect, cfg)
				e.addInstance(t, "prod", "good")
				for _, tc := range []struct {
					kind    feed.Kind
					dataset string
					param   string
					typ     intel.Type
				}{
					{feed.Indicators, sim.DatasetIndicators, "modified_after", ""},
					{feed.Vulnerabilities, sim.DatasetVulnerabilities, "updated_after", intel.Vulnerability},
					{feed.Reports, sim.DatasetReports, "updated_since", intel.Report},
				} {
					ch := e.channel(t, "prod", tc.kind)
					if _, err := e.sched.Poll(context.Background(), ch, feed.TriggerManual); err != nil {
						t.Fatalf("%s: %v", tc.kind, err)
					}
					truth, err := e.sim.Truth(tc.dataset, url.Values{tc.param: {ch.Settings.StartAt.Format(time.RFC3339)}})
					if err != nil {
						t.Fatal(err)
					}
					want := slices.Sorted(slices.Values(truth.IDs))
					var got []string
					if tc.typ == "" {
						got = storedIDs(t, e.store, ch.ID)
					} else {
						got = storedOriginals(t, e.store, ch.ID, tc.typ)
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s: %d stored, %d in ground truth", tc.kind, len(got), len(want))
					}
				}
			})
		})
	}
}
