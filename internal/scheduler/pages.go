package scheduler

import (
	"context"
	"slices"
	"time"

	"github.com/flintcti/flint/internal/connector/flashpoint"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// A poll's write path: the pages are fetched ahead of the writer
// (prefetchPages), the pages already waiting when the writer takes the next
// are gathered into one group (gatherer), and the groups are applied in
// page transactions that commit while the writer keeps up, or when they are
// large or old enough (groupWriter).

// pageSource is where a poll's pages come from: the connector's Poll, or a
// test's pages.
type pageSource interface {
	More() bool
	Next(ctx context.Context) (*flashpoint.Batch, error)
}

// fetched is a page as the fetcher hands it over, or the error that ended
// the fetching.
type fetched struct {
	b   *flashpoint.Batch
	err error
}

// prefetchPages fetches src's pages into the returned channel, at most n
// ahead of the reader; it stops after an error, at src's end, or when ctx
// ends, and closes the channel. onPage, when set, is called for each page.
func prefetchPages(ctx context.Context, src pageSource, n int, onPage func()) <-chan fetched {
	pages := make(chan fetched, n)
	go func() {
		defer close(pages)
		for src.More() {
			b, err := src.Next(ctx)
			if err == nil && onPage != nil {
				onPage()
			}
			select {
			case pages <- fetched{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return pages
}

// group is pages joined to be applied as one: their objects and
// relationships, the last one's cursor and remaining count, and the
// connector's counts of them all.
type group struct {
	objects       []intel.Object
	relationships []intel.Relationship
	cursor        string
	remaining     int
	counts        feed.Counts
	// err is a fetch error that came after the group's pages: the group is
	// committed, then the poll fails with it.
	err error
}

// gatherer joins the pages waiting into groups of at most max objects.
type gatherer struct {
	pages <-chan fetched
	held  *fetched // a page received but left for the next group
	max   int
}

// next returns the next group: the next page, then the pages already
// waiting while they fit. It waits for the next page, not for the others.
// ok is false at the end of the pages; err is the fetch error when the next
// page is one.
func (g *gatherer) next() (gr group, ok bool, err error) {
	var f fetched
	if g.held != nil {
		f, g.held = *g.held, nil
	} else if f, ok = <-g.pages; !ok {
		return group{}, false, nil
	}
	if f.err != nil {
		return group{}, true, f.err
	}
	gr = group{objects: f.b.Objects, relationships: f.b.Relationships, cursor: f.b.Cursor, remaining: f.b.Remaining, counts: f.b.Counts}
	gr.counts.Pages = 1
	for len(gr.objects) < g.max {
		var n fetched
		select {
		case n, ok = <-g.pages:
		default:
			return gr, true, nil
		}
		switch {
		case !ok:
			return gr, true, nil
		case n.err != nil:
			gr.err = n.err
			return gr, true, nil
		case len(gr.objects)+len(n.b.Objects) > g.max:
			g.held = &n
			return gr, true, nil
		}
		if gr.counts.Pages == 1 { // copy: the first batch's slices belong to it
			gr.objects, gr.relationships = slices.Clone(gr.objects), slices.Clone(gr.relationships)
		}
		gr.objects = append(gr.objects, n.b.Objects...)
		gr.relationships = append(gr.relationships, n.b.Relationships...)
		gr.cursor, gr.remaining = n.b.Cursor, n.b.Remaining
		gr.counts.Add(n.b.Counts)
		gr.counts.Pages++
	}
	return gr, true, nil
}

// waiting reports whether a page is ready for the writer.
func (g *gatherer) waiting() bool { return g.held != nil || len(g.pages) > 0 }

// groupWriter applies groups of pages in page transactions. run is the
// poll's record as committed; a transaction's groups are counted in
// pending until it commits.
type groupWriter struct {
	s     *Scheduler
	lease *store.Lease
	page  store.Page // the source and collection of every page
	run   *feed.PollRun

	tx        *store.PageTx
	pending   feed.Counts // what the open transaction holds
	cursor    string      // the open transaction's last cursor
	remaining int
	// maxAge is how long a transaction may stay open: nothing for the
	// first, so that a poll restarted after a crash moves its cursor at
	// once, then doubling with each commit from commitAge/16 up to
	// commitAge.
	maxAge  time.Duration
	renewed time.Time // when the lease was last renewed
}

// apply writes a group in the open transaction, opening one first.
func (w *groupWriter) apply(ctx context.Context, g group) error {
	if w.tx == nil {
		tx, err := w.s.Store.BeginPages(ctx, *w.lease)
		if err != nil {
			return err
		}
		w.tx = tx
	}
	p := w.page
	p.Objects, p.Relationships, p.Cursor = g.objects, g.relationships, g.cursor
	start := time.Now()
	counts, err := w.tx.Apply(ctx, p)
	if err != nil {
		return err
	}
	w.observe("apply", start)
	w.s.reach(appliedPage)
	c := g.counts // the connector's: pages, listed, filtered, invalid, unsupported, unchanged, requests
	c.New, c.Updated, c.Unchanged, c.Relationships = counts.New, counts.Updated, c.Unchanged+counts.Unchanged, counts.Relationships
	w.pending.Add(c)
	w.cursor, w.remaining = g.cursor, g.remaining
	return nil
}

// shouldCommit says whether the open transaction commits now: it stays open
// for the next group only while the writer is behind (a page is already
// waiting: more) and the transaction is small and young, on a store whose
// transactions may span pages. A poll the fetcher paces commits group by
// group.
func (w *groupWriter) shouldCommit(more bool) bool {
	return w.tx != nil && (!more || !w.s.Store.SpansPages() || w.tx.Objects() >= commitObjects || w.tx.Age() >= w.maxAge)
}

// commit ends the open transaction (if any), with the poll's record
// counting its pages, renews the lease when a quarter of it has passed, and
// reports the progress.
func (w *groupWriter) commit(ctx context.Context) error {
	if w.tx == nil {
		return nil
	}
	total := *w.run
	total.Add(w.pending)
	total.CursorAfter, total.Remaining = w.cursor, w.remaining
	start := time.Now()
	err := w.tx.Record(ctx, total)
	if err == nil {
		err = w.tx.Commit(ctx)
	}
	if err == nil {
		w.observe("commit", start)
		if o := w.s.Observer; o != nil {
			o.Committed(w.page.Source.Instance, feed.Kind(w.page.Source.Channel), w.pending)
		}
	}
	w.close()
	if err != nil {
		return err
	}
	w.s.reach(committedPages)
	*w.run = total
	w.pending = feed.Counts{}
	w.maxAge = min(max(2*w.maxAge, commitAge/16), commitAge)
	if w.s.OnPage != nil {
		w.s.OnPage(*w.run)
	}
	if w.s.now().Sub(w.renewed) > w.s.ttl()/4 {
		if *w.lease, err = w.s.Store.RenewLease(ctx, *w.lease, w.s.ttl()); err != nil {
			return err
		}
		w.renewed = w.s.now()
	}
	return nil
}

// observe tells the scheduler's observer how long a write took.
func (w *groupWriter) observe(op string, start time.Time) {
	if o := w.s.Observer; o != nil {
		o.Wrote(w.page.Source.Instance, feed.Kind(w.page.Source.Channel), op, time.Since(start))
	}
}

// close drops the open transaction, if any, with what it holds.
func (w *groupWriter) close() {
	if w.tx != nil {
		w.tx.Rollback()
		w.tx, w.pending = nil, feed.Counts{}
	}
}

// pages runs a poll's pages from the lease's cursor to the end, or to the
// first error (what was fetched before it is committed). When ctx ends
// (the process is stopping) no page is fetched any more, and what was
// fetched is still written and committed with its cursor, for at most
// Grace more; then the poll ends with ctx's error.
func (s *Scheduler) pages(ctx context.Context, ch feed.Channel, lease *store.Lease, run *feed.PollRun) error {
	wctx, hard := context.WithCancel(context.WithoutCancel(ctx))
	defer hard()
	defer context.AfterFunc(ctx, func() {
		t := time.AfterFunc(s.grace(), hard)
		context.AfterFunc(wctx, func() { t.Stop() })
	})()
	conn, err := s.connector(wctx, ch)
	if err != nil {
		return err
	}
	poll, err := conn.Poll(ch.Kind, ch.Settings, lease.Cursor)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g := &gatherer{pages: prefetchPages(fctx, poll, prefetch, func() { s.reach(fetchedPage) }), max: groupObjects}
	w := &groupWriter{s: s, lease: lease, run: run, renewed: s.now(), page: store.Page{
		Source:     intel.Provenance{ChannelID: ch.ID, Instance: ch.Instance, Channel: string(ch.Kind)},
		Collection: ch.Settings.Collection}}
	defer w.close()
	if err := s.write(wctx, g, w); err != nil {
		return err
	}
	return ctx.Err()
}

// write applies the gathered groups with w until the pages end or fail.
func (s *Scheduler) write(ctx context.Context, g *gatherer, w *groupWriter) error {
	for {
		gr, ok, err := g.next()
		switch {
		case err != nil:
			if cerr := w.commit(ctx); cerr != nil { // keep what came before
				return cerr
			}
			return err
		case !ok:
			return w.commit(ctx)
		}
		if err := w.apply(ctx, gr); err != nil {
			return err // the deferred close drops the transaction's pages
		}
		if gr.err != nil || w.shouldCommit(g.waiting()) {
			if err := w.commit(ctx); err != nil {
				return err
			}
		}
		if gr.err != nil {
			return gr.err
		}
	}
}
