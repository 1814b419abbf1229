package sim

import (
	clist "container/list"
	"sort"
	"sync"
	"time"
)

// timeline places a dataset's items on a grid: item i is created at
// start + i*step, so items appear at a steady rate as the clock advances.
// Some items get one update, lag positions later, at created(i+lag)+step/2.
// Ordering by modification time is then a walk over the grid, visiting at
// each position p the creation of item p (if it has not been updated since)
// and the update of item p-lag (if it has happened): no sort, no memory.
type timeline struct {
	start     time.Time
	step      time.Duration
	lag       int
	seed      uint64
	salt      uint64
	updatePct int
}

func newTimeline(seed, salt uint64, count int, window time.Duration, end time.Time, updatePct int) timeline {
	if count < 1 {
		count = 1
	}
	step := window / time.Duration(count)
	if step < 2*time.Microsecond {
		step = 2 * time.Microsecond
	}
	// The last initial item is created exactly at end.
	start := end.Add(-step * time.Duration(count-1))
	lag := max(count/10, 1)
	return timeline{start: start, step: step, lag: lag, seed: seed, salt: salt, updatePct: updatePct}
}

func (tl timeline) created(i int) time.Time { return tl.start.Add(tl.step * time.Duration(i)) }

// hasUpdate reports whether item i is ever updated.
func (tl timeline) hasUpdate(i int) bool { return pick(tl.seed, tl.salt, i, 0x5d, 100) < tl.updatePct }

func (tl timeline) updateTime(i int) time.Time {
	return tl.created(i + tl.lag).Add(tl.step / 2)
}

// updated reports whether item i has been updated as of clock.
func (tl timeline) updated(i int, clock time.Time) bool {
	return tl.hasUpdate(i) && !tl.updateTime(i).After(clock)
}

// modified is item i's last modification as of clock.
func (tl timeline) modified(i int, clock time.Time) time.Time {
	if tl.updated(i, clock) {
		return tl.updateTime(i)
	}
	return tl.created(i)
}

// count is the number of items that exist at clock.
func (tl timeline) count(clock time.Time) int {
	if clock.Before(tl.start) {
		return 0
	}
	return int(clock.Sub(tl.start)/tl.step) + 1
}

// pos is the first grid position whose creation time is >= t.
func (tl timeline) pos(t time.Time) int {
	if !t.After(tl.start) {
		return 0
	}
	d := t.Sub(tl.start)
	p := int(d / tl.step)
	if d%tl.step != 0 {
		p++
	}
	return p
}

// cursor yields item indexes in the order of a query.
type cursor interface {
	next() (int, bool)
}

// modCursor walks items ordered by modification time within [lo, hi).
type modCursor struct {
	tl     timeline
	clock  time.Time
	lo, hi time.Time // hi is exclusive; zero means unbounded
	p      int
	phase  int // 0: creation of item p, 1: update of item p-lag
	end    int // last position (inclusive) to visit
	desc   bool
}

func newModCursor(tl timeline, clock, lo, hi time.Time, desc bool) *modCursor {
	c := &modCursor{tl: tl, clock: clock, lo: lo, hi: hi, desc: desc}
	first := 0
	if !lo.IsZero() {
		first = max(tl.pos(lo)-1, 0)
	}
	last := tl.count(clock) - 1
	if !hi.IsZero() && hi.Before(clock) {
		last = min(last, tl.pos(hi))
	}
	if desc {
		c.p, c.end, c.phase = last, first, 1
	} else {
		c.p, c.end = first, last
	}
	return c
}

func (c *modCursor) inRange(t time.Time) bool {
	if !c.lo.IsZero() && t.Before(c.lo) {
		return false
	}
	if !c.hi.IsZero() && !t.Before(c.hi) {
		return false
	}
	return !t.After(c.clock)
}

func (c *modCursor) next() (int, bool) {
	for {
		if (!c.desc && c.p > c.end) || (c.desc && c.p < c.end) {
			return 0, false
		}
		p, phase := c.p, c.phase
		// advance
		if c.desc {
			if c.phase == 1 {
				c.phase = 0
			} else {
				c.phase, c.p = 1, c.p-1
			}
		} else {
			if c.phase == 0 {
				c.phase = 1
			} else {
				c.phase, c.p = 0, c.p+1
			}
		}
		if phase == 0 {
			if p >= c.tl.count(c.clock) || c.tl.updated(p, c.clock) {
				continue
			}
			if c.inRange(c.tl.created(p)) {
				return p, true
			}
			continue
		}
		q := p - c.tl.lag
		if q < 0 || !c.tl.hasUpdate(q) {
			continue
		}
		if t := c.tl.updateTime(q); c.inRange(t) {
			return q, true
		}
	}
}

// indexCursor walks items in index (creation) order.
type indexCursor struct {
	i, end, dir int
}

func newIndexCursor(first, last int, desc bool) *indexCursor {
	if desc {
		return &indexCursor{i: last, end: first, dir: -1}
	}
	return &indexCursor{i: first, end: last, dir: 1}
}

func (c *indexCursor) next() (int, bool) {
	if (c.dir > 0 && c.i > c.end) || (c.dir < 0 && c.i < c.end) {
		return 0, false
	}
	i := c.i
	c.i += c.dir
	return i, true
}

// sliceCursor walks a materialised order (for sorts the grid cannot give).
type sliceCursor struct {
	idx []int
	i   int
}

func (c *sliceCursor) next() (int, bool) {
	if c.i >= len(c.idx) {
		return 0, false
	}
	c.i++
	return c.idx[c.i-1], true
}

// filterCursor keeps the items pred accepts.
type filterCursor struct {
	c    cursor
	pred func(int) bool
}

func (f *filterCursor) next() (int, bool) {
	for {
		i, ok := f.c.next()
		if !ok {
			return 0, false
		}
		if f.pred == nil || f.pred(i) {
			return i, true
		}
	}
}

// resumeCache keeps the cursors of recent queries, positioned where their
// last page ended, so sequential paging costs O(page) instead of O(offset).
type resumeCache struct {
	mu      sync.Mutex
	entries map[resumeKey]*clist.Element
	order   *clist.List
	max     int
}

type resumeKey struct {
	query string
	from  int
}

type resumeEntry struct {
	key     resumeKey
	c       cursor
	pending []int // items read ahead
}

func newResumeCache(max int) *resumeCache {
	return &resumeCache{entries: map[resumeKey]*clist.Element{}, order: clist.New(), max: max}
}

func (rc *resumeCache) take(k resumeKey) *resumeEntry {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	el, ok := rc.entries[k]
	if !ok {
		return nil
	}
	rc.order.Remove(el)
	delete(rc.entries, k)
	return el.Value.(*resumeEntry)
}

func (rc *resumeCache) put(e *resumeEntry) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if old, ok := rc.entries[e.key]; ok {
		rc.order.Remove(old)
	}
	rc.entries[e.key] = rc.order.PushFront(e)
	for rc.order.Len() > rc.max {
		last := rc.order.Back()
		rc.order.Remove(last)
		delete(rc.entries, last.Value.(*resumeEntry).key)
	}
}

func (rc *resumeCache) clear() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.entries = map[resumeKey]*clist.Element{}
	rc.order.Init()
}

// page returns the items at [from, from+size) of the query and whether more
// follow. build makes a fresh cursor when no cached one sits at from.
func (rc *resumeCache) page(query string, from, size int, build func() cursor) ([]int, bool) {
	e := rc.take(resumeKey{query, from})
	if e == nil && from > 0 { // kept one place back (below): a client that pages without overlap
		if e = rc.take(resumeKey{query, from - 1}); e != nil {
			if len(e.pending) > 0 {
				e.pending = e.pending[1:]
			} else if _, ok := e.c.next(); !ok {
				return nil, false
			}
		}
	}
	if e == nil {
		e = &resumeEntry{c: build()}
		for skipped := 0; skipped < from; skipped++ {
			if _, ok := e.c.next(); !ok {
				return nil, false
			}
		}
	}
	out := make([]int, 0, size)
	for len(out) < size {
		if len(e.pending) > 0 {
			out = append(out, e.pending[0])
			e.pending = e.pending[1:]
			continue
		}
		i, ok := e.c.next()
		if !ok {
			return out, false
		}
		out = append(out, i)
	}
	// Peek one to know whether a next page exists.
	if len(e.pending) == 0 {
		i, ok := e.c.next()
		if !ok {
			return out, false
		}
		e.pending = append(e.pending, i)
	}
	// Kept one place back, the page's last item first: a client that asks
	// from the last item it read (to check it is still there) resumes too.
	e.pending = append([]int{out[len(out)-1]}, e.pending...)
	e.key = resumeKey{query, from + len(out) - 1}
	rc.put(e)
	return out, true
}

// countCache memoises totals per query (the query key includes the clock version).
type countCache struct {
	mu sync.Mutex
	m  map[string]int
}

func (cc *countCache) get(query string, build func() cursor) int {
	cc.mu.Lock()
	n, ok := cc.m[query]
	cc.mu.Unlock()
	if ok {
		return n
	}
	c := build()
	for {
		if _, ok := c.next(); !ok {
			break
		}
		n++
	}
	cc.mu.Lock()
	if cc.m == nil || len(cc.m) > 4096 {
		cc.m = map[string]int{}
	}
	cc.m[query] = n
	cc.mu.Unlock()
	return n
}

// shuffled returns the items of c in an order of the data's version ver
// alone (Modes.UnstableOrder): the same query answers in another order as
// soon as the clock moves. The order is kept per query key, as the
// materialised sorts are.
func (s *Server) shuffled(key string, ver int, c cursor) cursor {
	if cached, ok := s.vulnOrder.Load(key); ok {
		return &sliceCursor{idx: cached.([]int)}
	}
	var idx []int
	for {
		i, ok := c.next()
		if !ok {
			break
		}
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool {
		return h(s.seed, uint64(ver), idx[a], 0x0d) < h(s.seed, uint64(ver), idx[b], 0x0d)
	})
	s.vulnOrder.Store(key, idx)
	return &sliceCursor{idx: idx}
}
