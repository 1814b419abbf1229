package flashpoint

import (
	"hash/maphash"
	"strconv"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
)

// Window paging: correct whatever order, page length or totals the server
// answers with.
//
// A poll reads its channel window by window. A window is frozen when it is
// opened: items updated after the cursor's Since and up to Until, which is
// the time then, or Since plus the channel's span (windowSpan) when that is
// earlier. The poll pages through the window by offset, skips the items it
// has already read in this window, and moves Since forward only once the
// window is read through: to Until (less the clock-skew margin when Until
// is that recent), and the poll goes on with the next window until one
// reaches the time the poll began. Every page commits with its cursor, so a poll killed
// at any moment resumes in the same window at the same place.
//
// Offset paging over a set that changes can skip an item: one updated
// during the poll leaves the frozen window and every later one moves back a
// place. Two checks catch it. Each page is asked from one place before the
// cursor, and the item there must be the last one read (the overlap): when
// it is not, items moved, and the window is read again once this pass
// ends. And when the server gives a total and it drops between two pages,
// the poll steps back by as many places at once. At the end of a pass, a
// window is read again (up to maxPasses passes) while fewer items were seen
// than its total, or, without a total, while an overlap failed in the pass.
//
// Reports have no upper bound on their update time in the API, so their
// window is bounded above by nothing: reports updated during the poll stay
// in it, and the next poll's window starts skewMargin before this one's
// Until.

// Bounds of window paging.
const (
	skewMargin = 10 * time.Minute // re-read before the last window's end: clocks differ
	maxPasses  = 3
)

// windowSpan is the longest time a window of a channel spans. A window's
// memory (seenSet) and what a restart in it reads again grow with its
// items: indicators come by the hundred thousand a day, vulnerabilities
// and reports by the hundred.
func windowSpan(kind feed.Kind) time.Duration {
	if kind == feed.Indicators {
		return 6 * time.Hour
	}
	return 0 // unbounded
}

// seenSet holds the items a poll has read in its window, as 64-bit keys: a
// vulnerability's numeric id, or a hash of a string id (about 40 bytes an
// item). Two of a window's ids colliding, which would leave one unread
// until the next poll's window, has a chance of n²/2⁶⁵ (3 in 10¹¹ for
// 50,000 ids).
type seenSet struct {
	seed maphash.Seed
	m    map[uint64]struct{}
}

func (s *seenSet) reset() { s.m = nil }

func (s *seenSet) len() int { return len(s.m) }

// first records key and reports whether it is new.
func (s *seenSet) first(key uint64) bool {
	if s.m == nil {
		s.m = map[uint64]struct{}{}
	}
	if _, ok := s.m[key]; ok {
		return false
	}
	s.m[key] = struct{}{}
	return true
}

func (s *seenSet) firstString(id string) bool {
	if s.seed == (maphash.Seed{}) {
		s.seed = maphash.MakeSeed()
	}
	return s.first(maphash.String(s.seed, id))
}

// inWindow reports whether the cursor is reading a window.
func (c *Cursor) inWindow() bool { return !c.Until.IsZero() }

// openWindow starts the next window from the cursor's Since, unless the
// cursor is in one already (a poll resumed mid-window).
func (p *Poll) openWindow() {
	if p.cur.inWindow() {
		return
	}
	until := p.c.now().UTC()
	if span := windowSpan(p.kind); span > 0 && p.cur.Since.Add(span).Before(until) {
		until = p.cur.Since.Add(span)
	}
	p.cur = Cursor{Since: p.cur.Since, Until: until}
	p.seen.reset()
	p.invalid = 0
}

// windowPage fetches the page of the window at the cursor: from one place
// before it, to check that the item there is still the last one read, and
// from fewer places when the total says items left the window.
func windowPage[T any](p *Poll, idOf func(*T) string, fetch func(from int) (*ignite.Page[T], error)) (*ignite.Page[T], error) {
	overlap := true
	for {
		overlap = overlap && p.cur.Skip > 0 && p.cur.Last != ""
		from := p.cur.Skip
		if overlap {
			from--
		}
		page, err := fetch(from)
		if err != nil {
			return nil, err
		}
		// Items left the window since the last page: the ones after them
		// moved back as many places. Read those places again.
		if back := p.cur.Total - page.Total; page.Total >= 0 && p.cur.Total > 0 && back > 0 && p.cur.Skip > 0 {
			p.cur.Skip, p.cur.Total, p.cur.Last = max(0, p.cur.Skip-back), page.Total, ""
			continue
		}
		if overlap {
			if len(page.Items) == 0 || idOf(&page.Items[0]) != p.cur.Last {
				p.cur.Moved = true // the last item read is not where it was: items left, or the order changed
			} else {
				more := hasMore(page, 1)
				page.Items, page.Offset = page.Items[1:], page.Offset+1
				if page.Count() == 0 && more {
					// A server that answers one item a page: ask past the overlap.
					overlap = false
					continue
				}
			}
		}
		p.invalid += len(page.Invalid)
		return page, nil
	}
}

// windowAdvance moves the cursor past a page of the window; size is the
// page length asked for, last the id of the page's last readable item.
func windowAdvance[T any](p *Poll, page *ignite.Page[T], size int, idOf func(*T) string) {
	p.cur.Skip += page.Count()
	p.cur.Total = max(page.Total, 0)
	p.cur.Last = ""
	if n := len(page.Items); n > 0 && len(page.Invalid) == 0 {
		p.cur.Last = idOf(&page.Items[n-1])
	}
	if !hasMore(page, size) {
		p.endPass(page.Total)
	}
}

// endPass ends a pass through the window. The window is read through when
// every item its total counts was seen (without a total: when no overlap
// failed in the pass), or after maxPasses passes; else it is read again.
// The poll is over after the window that reaches the time it was opened.
func (p *Poll) endPass(total int) {
	complete := p.cur.Pass+1 >= maxPasses
	if total >= 0 {
		complete = complete || p.seen.len()+p.invalid >= total
	} else {
		complete = complete || !p.cur.Moved
	}
	if !complete {
		p.cur = Cursor{Since: p.cur.Since, Until: p.cur.Until, Pass: p.cur.Pass + 1}
		p.invalid = 0
		return
	}
	if total >= 0 && p.seen.len()+p.invalid < total {
		p.c.log().Warn("flashpoint: window read with items unseen", "channel", p.kind, "passes", p.cur.Pass+1,
			"seen", p.seen.len(), "total", total)
	}
	next := p.cur.Until
	if next.After(p.began.Add(-skewMargin)) {
		next = next.Add(-skewMargin) // clocks differ: an item of the last minutes may still come in
	}
	p.done = !p.cur.Until.Before(p.began) // else the window ended before the poll began: the next follows
	p.cur = Cursor{Since: next}
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
