package scheduler

import (
	"context"
	"net/url"
	"slices"
	"sync/atomic"
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
	return slices.Compact(originals(t, st, store.Query{ChannelID: channel, Types: []intel.Type{typ}}))
}

// A channel, with what the simulator's ground truth for it is asked by.
type channelTruth struct {
	kind    feed.Kind
	dataset string
	param   string
	typ     intel.Type // the objects to count ("": every object, by Flashpoint id)
}

var truths = []channelTruth{
	{feed.Indicators, sim.DatasetIndicators, "modified_after", ""},
	{feed.Vulnerabilities, sim.DatasetVulnerabilities, "updated_after", intel.Vulnerability},
	{feed.Reports, sim.DatasetReports, "updated_since", intel.Report},
}

// checkTruth compares what a channel stored with the ground truth at the
// simulator's clock now.
func checkTruth(t *testing.T, e *env, ch feed.Channel, c channelTruth) {
	t.Helper()
	truth, err := e.sim.Truth(c.dataset, url.Values{c.param: {ch.Settings.StartAt.Format(time.RFC3339)}})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(truth.IDs))
	var got []string
	if c.typ == "" {
		got = storedIDs(t, e.store, ch.ID)
	} else {
		got = storedOriginals(t, e.store, ch.ID, c.typ)
	}
	if !slices.Equal(got, want) {
		missing := 0
		for _, id := range want {
			if _, ok := slices.BinarySearch(got, id); !ok {
				missing++
			}
		}
		t.Errorf("%s: %d stored, %d in ground truth, %d missing", c.kind, len(got), len(want), missing)
	}
}

// Whatever the server's page length, order or totals, each channel stores
// exactly the ground truth: a page shorter than asked is not the last while
// the server says more follow, and no poll rests on the order it asked for.
func TestPagingModesKeepEveryItem(t *testing.T) {
	for _, tc := range []struct {
		name  string
		modes sim.Modes
	}{
		{"max_page=3", sim.Modes{MaxPage: 3}},
		{"no_total", sim.Modes{NoTotal: true}},
		{"max_page=3,no_total", sim.Modes{MaxPage: 3, NoTotal: true}},
		{"ignore_sort", sim.Modes{IgnoreSort: true}},
		{"ignore_sort,max_page=3,no_total", sim.Modes{IgnoreSort: true, MaxPage: 3, NoTotal: true}},
		{"ignore_sort,max_page=1", sim.Modes{IgnoreSort: true, MaxPage: 1}},
		{"unstable_order", sim.Modes{UnstableOrder: true, MaxPage: 7}},
		{"unstable_order,no_total", sim.Modes{UnstableOrder: true, MaxPage: 7, NoTotal: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, dialect string) {
				cfg := smallSim()
				cfg.Modes = tc.modes
				e := newEnv(t, dialect, cfg)
				e.addInstance(t, "prod", "good")
				for _, c := range truths {
					ch := e.channel(t, "prod", c.kind)
					if _, err := e.sched.Poll(context.Background(), ch, feed.TriggerManual); err != nil {
						t.Fatalf("%s: %v", c.kind, err)
					}
					checkTruth(t, e, ch, c)
				}
			})
		})
	}
}

// Items updated while a poll pages leave its frozen window, and the items
// after them move back a place (and, with an unstable order, the whole
// order changes): the poll still reads every item of its window, and the
// next poll the ones updated meanwhile. Each channel, each order.
func TestItemsUpdatedMidPoll(t *testing.T) {
	for name, modes := range map[string]sim.Modes{
		"newest first":           {IgnoreSort: true, MaxPage: 5},
		"unstable order":         {UnstableOrder: true, MaxPage: 5},
		"newest first, no total": {IgnoreSort: true, MaxPage: 5, NoTotal: true},
		"ascending, as asked":    {MaxPage: 5},
	} {
		t.Run(name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, dialect string) {
				for _, c := range truths {
					cfg := smallSim()
					cfg.Modes = modes
					e := newEnv(t, dialect, cfg)
					e.addInstance(t, "prod", "good")
					ch := e.channel(t, "prod", c.kind)
					s := e.scheduler("test")
					var pages atomic.Int64
					s.at = func(p point) {
						if p == fetchedPage && pages.Add(1) == 3 {
							e.sim.Advance(48 * time.Hour) // items are updated between two pages of the poll
						}
					}
					if _, err := s.Poll(context.Background(), ch, feed.TriggerManual); err != nil {
						t.Fatal(err)
					}
					s.at = nil
					if _, err := s.Poll(context.Background(), e.channel(t, "prod", c.kind), feed.TriggerManual); err != nil {
						t.Fatal(err)
					}
					checkTruth(t, e, ch, c)
				}
			})
		})
	}
}
