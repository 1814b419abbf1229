package scheduler

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/connector/flashpoint"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/store/storetest"
	"github.com/flintcti/flint/internal/testenv"
)

// dieMidPoll leaves a channel as a process that died during a poll leaves
// it: its lease held by holder, its poll record running, and pages of the
// poll committed with their cursor and counts.
func dieMidPoll(t *testing.T, e *env, ch feed.Channel, holder string, pages int) feed.PollRun {
	t.Helper()
	ctx := context.Background()
	lease, run, poll, src := startPoll(t, e.scheduler(holder), ch)
	for range pages {
		b, err := poll.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := e.store.BeginPages(ctx, lease)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tx.Apply(ctx, store.Page{Source: src, Collection: ch.Settings.Collection, Objects: b.Objects, Cursor: b.Cursor})
		if err != nil {
			t.Fatal(err)
		}
		c.Pages = 1
		run.Add(c)
		run.CursorAfter = b.Cursor
		if err := tx.Record(ctx, run); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !poll.More() {
		t.Fatal("the poll ended; the test needs one cut short")
	}
	return run
}

// startPoll takes a channel's lease, records a poll and opens its pages,
// as Poll does before its write path.
func startPoll(t *testing.T, s *Scheduler, ch feed.Channel) (store.Lease, feed.PollRun, *flashpoint.Poll, intel.Provenance) {
	t.Helper()
	ctx := context.Background()
	lease, run, err := s.lease(ctx, ch, feed.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := s.connector(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	poll, err := conn.Poll(ch.Kind, ch.Settings, lease.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	return lease, run, poll, intel.Provenance{ChannelID: ch.ID, Instance: ch.Instance, Channel: string(ch.Kind)}
}

func manualIndicators(t *testing.T, e *env, instance string) feed.Channel {
	t.Helper()
	ch := e.channel(t, instance, feed.Indicators)
	ch.Settings.Schedule = feed.Manual // nothing but a resume polls it
	if err := e.store.SaveChannel(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	return e.channel(t, instance, feed.Indicators)
}

func polls(t *testing.T, e *env, ch feed.Channel) []feed.PollRun {
	t.Helper()
	runs, err := e.store.Polls(context.Background(), ch.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// A poll whose process died on another host is recorded interrupted, with
// what it stored, once its lease lapses, and the scheduler resumes it from
// its cursor then, not at the channel's next scheduled run.
func TestResumeAfterTheLeaseLapses(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, smallSim())
		e.addInstance(t, "prod", "good")
		ch := manualIndicators(t, e, "prod")
		ctx := context.Background()
		dead := dieMidPoll(t, e, ch, "other-host:41", 2)

		if err := runDueAndWait(ctx, e.sched); err != nil {
			t.Fatal(err)
		}
		if runs := polls(t, e, ch); len(runs) != 1 || runs[0].Outcome != feed.OutcomeRunning {
			t.Fatalf("while the dead holder's lease runs: %+v", runs)
		}
		e.sim.Advance(e.sched.ttl() + time.Second)
		if err := runDueAndWait(ctx, e.sched); err != nil {
			t.Fatal(err)
		}
		runs := polls(t, e, ch)
		if len(runs) != 2 {
			t.Fatalf("after the lease lapsed: %d poll records, want the interrupted one and its resumption", len(runs))
		}
		cut, resumed := runs[1], runs[0]
		if cut.ErrorCode != "interrupted" || cut.Pages != 2 || cut.New != dead.New || cut.New == 0 || cut.CursorAfter != dead.CursorAfter {
			t.Errorf("interrupted record %+v; the dead poll committed %d pages, %d new, cursor %q", cut, dead.Pages, dead.New, dead.CursorAfter)
		}
		if resumed.Trigger != feed.TriggerResume || resumed.Outcome != feed.OutcomeOK || resumed.CursorBefore != dead.CursorAfter {
			t.Errorf("resumed poll %+v, want trigger resume from cursor %q", resumed, dead.CursorAfter)
		}
		if got, want := storedIDs(t, e.store, ch.ID), truthIDs(t, e.sim, ch.Settings.StartAt); !slices.Equal(got, want) {
			t.Errorf("after the resumed poll: %d stored, %d in ground truth", len(got), len(want))
		}
		if err := runDueAndWait(ctx, e.sched); err != nil {
			t.Fatal(err)
		}
		if n := len(polls(t, e, ch)); n != 2 {
			t.Errorf("a finished poll was resumed again: %d records", n)
		}
	})
}

// A process restarted on the same host takes over its dead predecessor's
// lease at once; a live process's lease is left alone.
func TestResumeTakesOverADeadProcessOfThisHost(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, smallSim())
		e.addInstance(t, "prod", "good")
		e.addInstance(t, "other", "good")
		ctx := context.Background()
		gone := exec.Command("true") // a process of this host that has exited
		if err := gone.Run(); err != nil {
			t.Fatal(err)
		}
		liveCh, deadCh := manualIndicators(t, e, "prod"), manualIndicators(t, e, "other")
		dieMidPoll(t, e, liveCh, hostPrefix()+strconv.Itoa(os.Getppid()), 1) // the test's parent lives on
		dead := dieMidPoll(t, e, deadCh, hostPrefix()+strconv.Itoa(gone.Process.Pid), 1)

		restarted := &Scheduler{Store: e.store, Box: e.box, Now: e.sim.Clock, Version: "test", PageSize: 200, Addresses: testenv.Loopback}
		if err := runDueAndWait(ctx, restarted); err != nil {
			t.Fatal(err)
		}
		if runs := polls(t, e, liveCh); len(runs) != 1 || runs[0].Outcome != feed.OutcomeRunning {
			t.Errorf("a live process's poll was taken over: %+v", runs)
		}
		if _, err := restarted.Poll(ctx, liveCh, feed.TriggerManual); !errors.Is(err, ErrBusy) {
			t.Errorf("a manual poll beside a live process's lease: %v, want ErrBusy", err)
		}
		runs := polls(t, e, deadCh)
		if len(runs) != 2 || runs[0].Trigger != feed.TriggerResume || runs[0].Outcome != feed.OutcomeOK ||
			runs[0].CursorBefore != dead.CursorAfter || runs[1].ErrorCode != "interrupted" {
			t.Fatalf("the dead process's poll was not resumed at once: %+v", runs)
		}
		if got, want := storedIDs(t, e.store, deadCh.ID), truthIDs(t, e.sim, deadCh.Settings.StartAt); !slices.Equal(got, want) {
			t.Errorf("after the resumed poll: %d stored, %d in ground truth", len(got), len(want))
		}
	})
}

// By default the scheduler reaches no loopback address: an instance whose
// base URL leads to one is in connection_error with the code saying why.
func TestDefaultAddressPolicyRefusesLoopback(t *testing.T) {
	e := newEnv(t, storetest.Dialects[0], smallSim())
	e.addInstance(t, "prod", "good")
	s := e.scheduler("test")
	s.Addresses = nil // the default policy
	ch := e.channel(t, "prod", feed.Indicators)
	if _, err := s.Test(context.Background(), ch); err == nil {
		t.Fatal("the default policy let a loopback base URL through")
	}
	if h := e.channel(t, "prod", feed.Indicators).Health; h.Status != feed.ConnectionError || h.ErrorCode != "address_refused" {
		t.Errorf("health %+v", h)
	}
}
