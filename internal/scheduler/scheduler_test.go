package scheduler

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/store/storetest"
	"github.com/flintcti/flint/internal/testenv"
)

var simNow = testenv.SimNow

type env struct {
	sim   *sim.Server
	url   string
	dsn   string
	store *store.Store
	box   *secret.Box
	sched *Scheduler
	te    *testenv.Env
}

// newEnv starts a simulator over HTTP and a store of the dialect, with the
// scheduler's clock on the simulator's.
func newEnv(t *testing.T, dialect string, cfg sim.Config) *env {
	t.Helper()
	cfg.Now = simNow
	return newEnvAt(t, dialect, cfg)
}

// newEnvAt is newEnv with the simulator's clock as cfg sets it.
func newEnvAt(t *testing.T, dialect string, cfg sim.Config) *env {
	t.Helper()
	te := testenv.New(t, dialect, cfg)
	e := &env{sim: te.Sim, url: te.URL, dsn: te.DSN, store: te.Store, box: te.Box, te: te}
	e.sched = e.scheduler("test")
	return e
}

// scheduler returns a scheduler on the environment's store and clock, as a
// process named holder would run it.
func (e *env) scheduler(holder string) *Scheduler {
	return &Scheduler{Store: e.store, Box: e.box, Holder: holder, Now: e.sim.Clock, Version: "test", PageSize: 200, Addresses: testenv.Loopback,
		Client: testenv.FastClient}
}

// addInstance adds an instance of the simulator with every channel enabled.
func (e *env) addInstance(t *testing.T, name, token string) feed.Instance {
	t.Helper()
	return e.te.AddInstance(t, name, token, func(_ feed.Kind, s *feed.Settings) { s.Enabled = true })
}

func (e *env) channel(t *testing.T, instance string, k feed.Kind) feed.Channel {
	t.Helper()
	return e.te.Channel(t, instance, k)
}

func forEachDialect(t *testing.T, f func(t *testing.T, dialect string)) {
	storetest.ForEachDialect(t, f)
}

func smallSim() sim.Config {
	return sim.Config{Seed: 11, Reports: 15, Vulnerabilities: 150, Indicators: 1500,
		IndicatorWindow: 20 * 24 * time.Hour, VulnWindow: 20 * 24 * time.Hour, ReportWindow: 20 * 24 * time.Hour}
}

func TestPollEveryChannel(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, smallSim())
		e.addInstance(t, "prod", "good")
		ctx := context.Background()
		for _, tc := range []struct {
			kind    feed.Kind
			dataset string
			param   string
		}{
			{feed.Indicators, sim.DatasetIndicators, "modified_after"},
			{feed.Vulnerabilities, sim.DatasetVulnerabilities, "updated_after"},
			{feed.Reports, sim.DatasetReports, "updated_since"},
		} {
			ch := e.channel(t, "prod", tc.kind)
			start := ch.Settings.StartAt.Format(time.RFC3339)
			run, err := e.sched.Poll(ctx, ch, feed.TriggerManual)
			if err != nil {
				t.Fatalf("%s: %v", tc.kind, err)
			}
			truth, err := e.sim.Truth(tc.dataset, url.Values{tc.param: {start}})
			if err != nil {
				t.Fatal(err)
			}
			q := store.Query{ChannelID: ch.ID, Types: map[feed.Kind][]intel.Type{feed.Indicators: intel.IndicatorTypes(),
				feed.Vulnerabilities: {intel.Vulnerability}, feed.Reports: {intel.Report}}[tc.kind]}
			n, err := e.store.Count(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind != feed.Vulnerabilities && int(n) != truth.Count {
				t.Errorf("%s: %d stored, ground truth %d", tc.kind, n, truth.Count)
			}
			if tc.kind == feed.Vulnerabilities && int(n) < truth.Count {
				t.Errorf("%s: %d stored for %d records", tc.kind, n, truth.Count)
			}
			if run.Outcome != feed.OutcomeOK || run.Pages == 0 || run.New == 0 || run.CursorAfter == "" {
				t.Errorf("%s run %+v", tc.kind, run)
			}
			after := e.channel(t, "prod", tc.kind)
			if after.Health.Status != feed.Running || after.Cursor != run.CursorAfter || !after.NextRun.After(e.sim.Clock()) {
				t.Errorf("%s after the poll: %+v", tc.kind, after)
			}
			runs, _ := e.store.Polls(ctx, ch.ID, 0)
			if len(runs) != 1 || runs[0].Outcome != feed.OutcomeOK || runs[0].New != run.New {
				t.Errorf("%s poll records %+v", tc.kind, runs)
			}
		}
	})
}

func TestHealthBadToken(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, smallSim())
		e.addInstance(t, "prod", "wrong-token")
		for _, k := range feed.Kinds() {
			h, err := e.sched.Test(context.Background(), e.channel(t, "prod", k))
			if ignite.ErrorCode(err) != "401" {
				t.Errorf("%s: %v", k, err)
			}
			ch := e.channel(t, "prod", k)
			if h != ch.Health {
				t.Errorf("%s: Test returned %+v, the channel's health is %+v", k, h, ch.Health)
			}
			if ch.Health.Status != feed.ConnectionError || ch.Health.ErrorCode != "401" || !ch.NextRun.Equal(e.sim.Clock().Add(feed.RestoreEvery)) {
				t.Errorf("%s: %+v next %s", k, ch.Health, ch.NextRun)
			}
		}
	})
}

func TestHealthForbiddenDataset(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, smallSim())
		e.addInstance(t, "lab", "novuln")
		ctx := context.Background()
		for _, k := range feed.Kinds() {
			_, err := e.sched.Poll(ctx, e.channel(t, "lab", k), feed.TriggerManual)
			ch := e.channel(t, "lab", k)
			if k == feed.Vulnerabilities {
				if ignite.ErrorCode(err) != "403" || ch.Health.Status != feed.ConnectionError || ch.Health.ErrorCode != "403" {
					t.Errorf("vulnerabilities without the dataset: %v, %+v", err, ch.Health)
				}
				continue
			}
			if err != nil || ch.Health.Status != feed.Running {
				t.Errorf("%s must keep running: %v, %+v", k, err, ch.Health)
			}
		}
	})
}

// A 5xx storm disables the channel; it comes back by itself, through the
// restore attempts, once the simulator recovers.
func TestHealthRestores(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, smallSim())
		e.addInstance(t, "prod", "good")
		ctx := context.Background()
		e.sim.SetFault(sim.EPIndicators, sim.Fault{Status: 503})
		ch := e.channel(t, "prod", feed.Indicators)
		if _, err := e.sched.Poll(ctx, ch, feed.TriggerScheduled); ignite.ErrorCode(err) != "503" {
			t.Fatalf("poll during a storm: %v", err)
		}
		ch = e.channel(t, "prod", feed.Indicators)
		if ch.Health.Status != feed.ConnectionError || ch.Health.ErrorCode != "503" {
			t.Fatalf("after the storm: %+v", ch.Health)
		}
		failedAt := e.sim.Clock()

		// Still down at the first attempt: it fails and the next comes 20 minutes later.
		e.sim.Advance(feed.RestoreEvery)
		if err := runDueAndWait(ctx, e.sched); err != nil {
			t.Fatal(err)
		}
		ch = e.channel(t, "prod", feed.Indicators)
		if ch.Health.Status != feed.ConnectionError || ch.Health.Restores != 1 || !ch.NextRun.Equal(failedAt.Add(2*feed.RestoreEvery)) {
			t.Fatalf("after a failed attempt: %+v next %s", ch.Health, ch.NextRun)
		}
		// Not due before then.
		e.sim.ClearFaults()
		e.sim.Advance(feed.RestoreEvery - time.Minute)
		runDueAndWait(ctx, e.sched)
		if ch = e.channel(t, "prod", feed.Indicators); ch.Health.Status != feed.ConnectionError {
			t.Fatalf("restored before the attempt was due: %+v", ch.Health)
		}
		e.sim.Advance(time.Minute)
		runDueAndWait(ctx, e.sched)
		ch = e.channel(t, "prod", feed.Indicators)
		if ch.Health.Status != feed.Running || ch.Health.ErrorCode != "" || ch.Cursor == "" {
			t.Fatalf("after recovery: %+v cursor %q", ch.Health, ch.Cursor)
		}
		runs, _ := e.store.Polls(ctx, ch.ID, 0)
		if len(runs) != 2 || runs[0].Trigger != feed.TriggerRestore || runs[0].Outcome != feed.OutcomeOK || runs[1].ErrorCode != "503" {
			t.Errorf("poll records: %+v", runs)
		}
	})
}

// 429s that the retries absorb disable nothing.
func TestHealthAbsorbedRateLimits(t *testing.T) {
	e := newEnv(t, "sqlite", smallSim())
	e.addInstance(t, "prod", "good")
	e.sim.SetFault(sim.EPIndicators, sim.Fault{Status: 429, RetryAfter: "0", Count: 3})
	ch := e.channel(t, "prod", feed.Indicators)
	if _, err := e.sched.Poll(context.Background(), ch, feed.TriggerManual); err != nil {
		t.Fatal(err)
	}
	if ch = e.channel(t, "prod", feed.Indicators); ch.Health.Status != feed.Running {
		t.Errorf("absorbed 429s changed the health: %+v", ch.Health)
	}
}

// Two schedulers on one database never poll the same channel at once: while
// one's poll is under way (held after its first page, on observed progress,
// not on latency), the other's is refused as busy, and the first goes on.
func TestOnePollAtATime(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, smallSim())
		e.addInstance(t, "prod", "good")
		ch := e.channel(t, "prod", feed.Indicators)
		first, second := e.sched, e.scheduler("replica-2")
		inPoll, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		first.at = func(p point) {
			if p == fetchedPage {
				once.Do(func() { close(inPoll); <-release })
			}
		}
		done := make(chan error, 1)
		go func() {
			_, err := first.Poll(context.Background(), ch, feed.TriggerManual)
			done <- err
		}()
		<-inPoll
		if _, err := second.Poll(context.Background(), ch, feed.TriggerManual); !errors.Is(err, ErrBusy) {
			t.Errorf("a second scheduler's poll while the first's runs: %v, want busy", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Errorf("the first poll: %v", err)
		}
	})
}

func TestNextRun(t *testing.T) {
	interval := 240 * time.Minute
	seen := map[time.Duration]bool{}
	for id := int64(1); id <= 50; id++ {
		next := NextRun(id, interval, simNow)
		if !next.After(simNow) || next.Sub(simNow) > interval {
			t.Fatalf("channel %d: next %s", id, next)
		}
		if again := NextRun(id, interval, simNow.Add(time.Second)); !again.Equal(next) {
			t.Fatalf("channel %d: the slot moved from %s to %s", id, next, again)
		}
		if after := NextRun(id, interval, next); !after.Equal(next.Add(interval)) {
			t.Fatalf("channel %d: after its slot: %s", id, after)
		}
		seen[next.Sub(simNow).Truncate(10*time.Minute)] = true
	}
	if len(seen) < 10 {
		t.Errorf("50 channels fall in %d ten-minute slots; they should spread over the interval", len(seen))
	}
}

// Incremental polls bring exactly what changed; three empty scheduled polls
// flag no_data, and items clear it.
func TestIncrementalAndNoData(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, smallSim())
		e.addInstance(t, "prod", "good")
		ctx := context.Background()
		ch := e.channel(t, "prod", feed.Vulnerabilities)
		first, err := e.sched.Poll(ctx, ch, feed.TriggerManual)
		if err != nil {
			t.Fatal(err)
		}
		since := e.sim.Clock()
		e.sim.Advance(72 * time.Hour)
		changed, err := e.sim.Truth(sim.DatasetVulnerabilities, url.Values{"updated_after": {since.Format(time.RFC3339)}})
		if err != nil {
			t.Fatal(err)
		}
		second, err := e.sched.Poll(ctx, e.channel(t, "prod", feed.Vulnerabilities), feed.TriggerScheduled)
		if err != nil {
			t.Fatal(err)
		}
		// The second poll re-reads from ten minutes before the first began
		// (clock-skew margin): exactly the changed records are new or
		// updated; the margin's re-reads are unchanged.
		if changed.Count == 0 || second.New+second.Updated < changed.Count {
			t.Fatalf("%d records changed in three days; the poll wrote %d new and %d updated objects", changed.Count, second.New, second.Updated)
		}
		if second.New+second.Updated+second.Unchanged > first.New+first.Updated+first.Unchanged {
			t.Errorf("the incremental poll read more than the first: %+v vs %+v", second, first)
		}

		// no_data: indicators channel polled on schedule with nothing new.
		ind := e.channel(t, "prod", feed.Indicators)
		ind.Settings.Filters.IndicatorTypes = []string{"ipv6"}
		ind.Settings.Filters.MinScore = intel.ScoreMalicious
		if err := e.store.SaveChannel(ctx, ind); err != nil {
			t.Fatal(err)
		}
		e.sched.Poll(ctx, e.channel(t, "prod", feed.Indicators), feed.TriggerManual)
		for i := 0; i < feed.NoDataAfter; i++ {
			if _, err := e.sched.Poll(ctx, e.channel(t, "prod", feed.Indicators), feed.TriggerScheduled); err != nil {
				t.Fatal(err)
			}
		}
		if h := e.channel(t, "prod", feed.Indicators).Health; !h.NoData || h.Status != feed.Running {
			t.Errorf("after %d empty scheduled polls: %+v", feed.NoDataAfter, h)
		}
		e.sim.Advance(48 * time.Hour)
		if _, err := e.sched.Poll(ctx, e.channel(t, "prod", feed.Indicators), feed.TriggerScheduled); err != nil {
			t.Fatal(err)
		}
		if h := e.channel(t, "prod", feed.Indicators).Health; h.NoData {
			t.Errorf("items did not clear no_data: %+v", h)
		}
	})
}

// loopback is the address policy of the tests: the simulator is local.

// runDueAndWait runs what is due and waits until it is done.
func runDueAndWait(ctx context.Context, s *Scheduler) error {
	err := s.RunDue(ctx)
	s.Wait()
	return err
}
