package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/connector/flashpoint"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// batch is a page of n IPv4 indicators numbered from first.
func batch(first, n int, cursor string) *flashpoint.Batch {
	b := &flashpoint.Batch{Cursor: cursor, Remaining: -1, Counts: feed.Counts{Listed: n, Requests: 1}}
	for i := first; i < first+n; i++ {
		b.Objects = append(b.Objects, intel.Object{Type: intel.IPv4, Value: fmt.Sprintf("10.0.%d.%d", i/256, i%256),
			TLP: intel.TLPAmber, Confidence: 80, Reported: simNow})
	}
	return b
}

// waitingPages is a closed channel holding the pages, as if all were
// fetched before the writer looked.
func waitingPages(fs ...fetched) <-chan fetched {
	c := make(chan fetched, len(fs))
	for _, f := range fs {
		c <- f
	}
	close(c)
	return c
}

func TestGathererJoinsWaitingPagesAndHoldsTheOneThatDoesNotFit(t *testing.T) {
	g := &gatherer{pages: waitingPages(fetched{b: batch(0, 30, "c1")}, fetched{b: batch(30, 40, "c2")}, fetched{b: batch(70, 50, "c3")},
		fetched{b: batch(120, 10, "c4")}), max: 100}
	var got []string
	for {
		gr, ok, err := g.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%d objects to %s in %d pages, %d listed", len(gr.objects), gr.cursor, gr.counts.Pages, gr.counts.Listed))
	}
	// 30 + 40 fit in 100; the page of 50 does not and is held for the
	// next group, which the last page of 10 joins.
	want := []string{"70 objects to c2 in 2 pages, 70 listed", "60 objects to c4 in 2 pages, 60 listed"}
	if !slices.Equal(got, want) {
		t.Errorf("groups %q, want %q", got, want)
	}
}

func TestGathererKeepsTheFirstBatchIntact(t *testing.T) {
	first := batch(0, 3, "c1")
	first.Objects = slices.Grow(first.Objects, 100) // room to append in place
	before := slices.Clone(first.Objects)
	g := &gatherer{pages: waitingPages(fetched{b: first}, fetched{b: batch(3, 2, "c2")}), max: 100}
	gr, _, _ := g.next()
	if len(gr.objects) != 5 || !slices.EqualFunc(first.Objects, before, func(a, b intel.Object) bool { return a.Value == b.Value }) ||
		len(first.Objects[:cap(first.Objects)][3].Value) != 0 {
		t.Errorf("the group wrote into the first batch's slice (group of %d)", len(gr.objects))
	}
}

func TestGathererErrorAfterAGroup(t *testing.T) {
	boom := errors.New("upstream failed")
	g := &gatherer{pages: waitingPages(fetched{b: batch(0, 5, "c1")}, fetched{err: boom}), max: 100}
	gr, ok, err := g.next()
	if !ok || err != nil || len(gr.objects) != 5 || !errors.Is(gr.err, boom) {
		t.Fatalf("group %d objects, ok %v, err %v, group err %v: want the page, then the error after it", len(gr.objects), ok, err, gr.err)
	}
	if _, ok, _ := g.next(); ok {
		t.Error("a group after the error")
	}
	// An error as the next page is returned at once.
	g = &gatherer{pages: waitingPages(fetched{err: boom}), max: 100}
	if _, ok, err := g.next(); !ok || !errors.Is(err, boom) {
		t.Errorf("first page an error: ok %v, err %v", ok, err)
	}
}

// writerEnv is a group writer on a fresh SQLite store, holding the lease
// of an indicators channel.
func writerEnv(t *testing.T) (*groupWriter, *feed.PollRun, *env, feed.Channel) {
	t.Helper()
	e := newEnv(t, "sqlite", smallSim())
	e.addInstance(t, "acme", "good")
	ch := e.channel(t, "acme", feed.Indicators)
	lease, err := e.store.AcquireLease(context.Background(), ch.ID, "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.store.StartPoll(context.Background(), feed.PollRun{ChannelID: ch.ID, Trigger: feed.TriggerManual, Holder: "test"})
	if err != nil {
		t.Fatal(err)
	}
	w := &groupWriter{s: e.sched, lease: &lease, run: &run, renewed: e.sim.Clock(),
		page: store.Page{Source: intel.Provenance{ChannelID: ch.ID, Instance: ch.Instance, Channel: string(ch.Kind)}, Collection: "c"}}
	t.Cleanup(w.close)
	return w, &run, e, ch
}

func groupOf(b *flashpoint.Batch) group {
	c := b.Counts
	c.Pages = 1
	return group{objects: b.Objects, cursor: b.Cursor, remaining: b.Remaining, counts: c}
}

func TestGroupWriterAgeDoublesAndCommitsCount(t *testing.T) {
	w, run, e, ch := writerEnv(t)
	ctx := context.Background()
	var ages []time.Duration
	for i := range 7 {
		if err := w.apply(ctx, groupOf(batch(10*i, 10, fmt.Sprint("c", i)))); err != nil {
			t.Fatal(err)
		}
		if i == 0 && !w.shouldCommit(true) {
			t.Error("the first transaction of a poll stays open: a restarted poll would not move its cursor at once")
		}
		if err := w.commit(ctx); err != nil {
			t.Fatal(err)
		}
		ages = append(ages, w.maxAge)
	}
	want := []time.Duration{commitAge / 16, commitAge / 8, commitAge / 4, commitAge / 2, commitAge, commitAge, commitAge}
	if !slices.Equal(ages, want) {
		t.Errorf("ages allowed after each commit %v, want %v", ages, want)
	}
	if run.Pages != 7 || run.New != 70 || run.Listed != 70 || run.Requests != 7 || run.CursorAfter != "c6" {
		t.Errorf("run after 7 commits: %+v", run.Counts)
	}
	// The record committed with the pages says the same.
	runs, err := e.store.Polls(ctx, ch.ID, 1)
	if err != nil || len(runs) != 1 || runs[0].Counts != run.Counts || runs[0].CursorAfter != "c6" {
		t.Errorf("recorded %+v (%v), want %+v", runs, err, run.Counts)
	}
	// Without a page waiting, a transaction commits; with one waiting and
	// the transaction young and small, it stays open.
	if err := w.apply(ctx, groupOf(batch(70, 10, "c7"))); err != nil {
		t.Fatal(err)
	}
	if !w.shouldCommit(false) || w.shouldCommit(true) {
		t.Errorf("commit with nothing waiting %v, with a page waiting %v; want true, false", w.shouldCommit(false), w.shouldCommit(true))
	}
}

func TestGroupWriterCommitFailureKeepsTheRun(t *testing.T) {
	w, run, e, ch := writerEnv(t)
	ctx := context.Background()
	if err := w.apply(ctx, groupOf(batch(0, 10, "c0"))); err != nil {
		t.Fatal(err)
	}
	if err := w.commit(ctx); err != nil {
		t.Fatal(err)
	}
	committed := *run
	if err := w.apply(ctx, groupOf(batch(10, 10, "c1"))); err != nil {
		t.Fatal(err)
	}
	// The commit fails (its context ends before it writes the record): the
	// pages it held are not counted, and nothing of them is stored.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.commit(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("commit under a cancelled context: %v", err)
	}
	if run.Counts != committed.Counts || run.CursorAfter != "c0" || w.tx != nil {
		t.Errorf("run after a failed commit %+v (open transaction %v), want %+v", run.Counts, w.tx != nil, committed.Counts)
	}
	if n, err := e.store.Count(ctx, store.Query{ChannelID: ch.ID}); err != nil || n != 10 {
		t.Errorf("%d objects stored (%v), want the 10 of the committed page", n, err)
	}
	// The writer goes on: the next group opens a new transaction.
	if err := w.apply(ctx, groupOf(batch(10, 10, "c1"))); err != nil {
		t.Fatal(err)
	}
	if err := w.commit(ctx); err != nil || run.New != 20 || run.CursorAfter != "c1" {
		t.Errorf("after a retry: %v, run %+v", err, run.Counts)
	}
}
