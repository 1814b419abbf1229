package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// A vulnerabilities poll fetches a record's detail only when it adds
// something: at most once a record in a backfill, never for a record not
// changed since the channel stored it; and its record says how many
// requests it made for how many items.
func TestVulnerabilityDetailsOnlyWhenChanged(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		cfg := smallSim()
		cfg.Modes = sim.Modes{MaxPage: 40}
		e := newEnv(t, dialect, cfg)
		e.addInstance(t, "prod", "good") // a premium token
		ctx := context.Background()
		ch := e.channel(t, "prod", feed.Vulnerabilities)
		before := sim.ByEndpoint(e.sim.Requests())
		run, err := e.sched.Poll(ctx, ch, feed.TriggerManual)
		if err != nil {
			t.Fatal(err)
		}
		after := sim.ByEndpoint(e.sim.Requests())
		details, lists := after[sim.EPVulnerability]-before[sim.EPVulnerability], after[sim.EPVulnerabilities]-before[sim.EPVulnerabilities]
		records := len(storedOriginals(t, e.store, ch.ID, intel.Vulnerability))
		if details == 0 || details > records || run.Listed < records || run.Requests != details+lists {
			t.Fatalf("backfill of %d records: %d detail and %d list requests; run listed %d, counted %d requests",
				records, details, lists, run.Listed, run.Requests)
		}
		t.Logf("backfill: %d records, %d details, %d lists, %.2f requests an item", records, details, lists, run.RequestsPerItem())

		// Read everything again (the cursor back at the start), nothing
		// having changed: no detail is fetched and nothing is written.
		rewind(t, e.store, ch)
		before = sim.ByEndpoint(e.sim.Requests())
		again, err := e.sched.Poll(ctx, e.channel(t, "prod", feed.Vulnerabilities), feed.TriggerManual)
		if err != nil {
			t.Fatal(err)
		}
		after = sim.ByEndpoint(e.sim.Requests())
		if d := after[sim.EPVulnerability] - before[sim.EPVulnerability]; d != 0 || again.New != 0 || again.Updated != 0 ||
			again.Unchanged < records || again.Listed < records {
			t.Errorf("a re-read with nothing changed: %d detail requests; run %+v", d, again)
		}

		// Records updated since are read again, with their details: those alone.
		e.sim.Advance(48 * time.Hour)
		before = sim.ByEndpoint(e.sim.Requests())
		next, err := e.sched.Poll(ctx, e.channel(t, "prod", feed.Vulnerabilities), feed.TriggerManual)
		if err != nil {
			t.Fatal(err)
		}
		after = sim.ByEndpoint(e.sim.Requests())
		if d := after[sim.EPVulnerability] - before[sim.EPVulnerability]; d == 0 || d > next.Listed || d != next.Requests-(after[sim.EPVulnerabilities]-before[sim.EPVulnerabilities]) {
			t.Errorf("after two days: %d detail requests for %d listed; run %+v", d, next.Listed, next)
		}
		checkTruth(t, e, ch, truths[1])
		runs, err := e.store.Polls(ctx, ch.ID, 10)
		if err != nil || len(runs) != 3 || runs[2].Requests != run.Requests || runs[2].Listed != run.Listed {
			t.Errorf("stored records %+v: %v", runs, err)
		}
	})
}

// rewind moves a channel's cursor back to its start time.
func rewind(t *testing.T, st *store.Store, ch feed.Channel) {
	t.Helper()
	ctx := context.Background()
	l, err := st.AcquireLease(ctx, ch.ID, "rewind", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer st.ReleaseLease(ctx, l)
	cur := `{"since":"` + ch.Settings.StartAt.UTC().Format(time.RFC3339Nano) + `"}`
	if _, err := st.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: ch.ID, Instance: ch.Instance, Channel: string(ch.Kind)},
		Collection: ch.Settings.Collection, Cursor: cur}); err != nil {
		t.Fatal(err)
	}
}
