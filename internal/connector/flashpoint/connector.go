// Package flashpoint maps Flashpoint Ignite's three channels — finished
// reports with their MISP events, vulnerabilities, and indicators v2 — to
// Flint's intel objects (docs/domain.md §5), one page at a time, from a cursor.
//
// The contract: a Poll fetches a page, maps it, applies the channel's
// defaults and ingest filters, and returns the objects, their relationships
// and the cursor that follows them. It never touches the database; the
// scheduler writes each batch with its cursor in one transaction, so a poll
// resumed from any committed cursor loses nothing and, items being upserts,
// duplicates nothing.
package flashpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/intel"
)

// PageSize is how many items a page asks for.
const PageSize = 500

// Cursor is where a channel is. Reports and indicators are read in
// ascending update order: those updated at or after Since, skipping the Skip
// first ones, which were updated exactly at Since and are already
// committed. Vulnerabilities are read by window (see nextVulnerabilities):
// updated after Since and up to Until, Skip places into the window, in
// pass Pass, the window's total having been Total at the last page.
type Cursor struct {
	Since time.Time `json:"since"`
	Skip  int       `json:"skip,omitempty"`
	Last  string    `json:"last,omitempty"` // id of the last item committed at Since (checks the boundary)
	Until time.Time `json:"until,omitzero"`
	Total int       `json:"total,omitempty"`
	Pass  int       `json:"pass,omitempty"`
}

// ParseCursor reads a stored cursor; an empty one starts at startAt.
func ParseCursor(s string, startAt time.Time) (Cursor, error) {
	if s == "" {
		return Cursor{Since: startAt.UTC()}, nil
	}
	var c Cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return Cursor{}, fmt.Errorf("flashpoint: bad cursor %q: %w", s, err)
	}
	return c, nil
}

// String encodes the cursor for the store.
func (c Cursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Stats count what a page did besides the objects it produced.
type Stats struct {
	Fetched     int `json:"fetched"`     // items read from Flashpoint
	Filtered    int `json:"filtered"`    // dropped by the channel's ingest filters
	Invalid     int `json:"invalid"`     // could not be decoded or normalised
	Unsupported int `json:"unsupported"` // MISP attribute types Flint does not map
}

// Add accumulates s2 into s.
func (s *Stats) Add(s2 Stats) {
	s.Fetched += s2.Fetched
	s.Filtered += s2.Filtered
	s.Invalid += s2.Invalid
	s.Unsupported += s2.Unsupported
}

// Batch is one mapped page.
type Batch struct {
	Objects       []intel.Object
	Relationships []intel.Relationship
	Cursor        string
	Stats         Stats
	// Remaining is how many items the server said follow this page in the
	// poll's current query, -1 when it did not say (for a progress bar; the
	// query's total can change while the poll runs).
	Remaining int
}

// remaining is what follows a page in its query, by the page's total.
func remaining[T any](p *ignite.Page[T]) int {
	if p.Total < 0 {
		return -1
	}
	return max(0, p.Total-p.Offset-p.Count())
}

// Connector reads one Flashpoint Ignite instance.
type Connector struct {
	Client *ignite.Client
	Now    func() time.Time
	Log    *slog.Logger
	// PageSize overrides PageSize (tests).
	PageSize int
}

func (c *Connector) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Connector) size() int {
	if c.PageSize > 0 {
		return c.PageSize
	}
	return PageSize
}

func (c *Connector) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// Poll reads a channel page by page from cursor.
type Poll struct {
	c        *Connector
	kind     feed.Kind
	settings feed.Settings
	cur      Cursor
	done     bool
	// vulnerabilities
	noPremium bool
	seen      map[int64]bool // records read in this poll's window
	invalid   int            // records of this pass that could not be read
}

// Poll starts reading channel kind with its settings from a stored cursor.
func (c *Connector) Poll(kind feed.Kind, s feed.Settings, cursor string) (*Poll, error) {
	cur, err := ParseCursor(cursor, s.StartAt)
	if err != nil {
		return nil, err
	}
	// A first poll reaches back at most 15 days, however long ago its start
	// time was set (feed.Channel.Update warns of it).
	if oldest := c.now().UTC().Add(-feed.MaxStartAge); cursor == "" && cur.Since.Before(oldest) {
		cur.Since = oldest
	}
	return &Poll{c: c, kind: kind, settings: s, cur: cur}, nil
}

// More reports whether another page may follow.
func (p *Poll) More() bool { return !p.done }

// Cursor is the cursor after the last page returned.
func (p *Poll) Cursor() string { return p.cur.String() }

// Next fetches and maps the next page.
func (p *Poll) Next(ctx context.Context) (*Batch, error) {
	if p.done {
		return nil, fmt.Errorf("flashpoint: poll of %s is over", p.kind)
	}
	switch p.kind {
	case feed.Indicators:
		return p.nextIndicators(ctx)
	case feed.Vulnerabilities:
		return p.nextVulnerabilities(ctx)
	case feed.Reports:
		return p.nextReports(ctx)
	}
	return nil, fmt.Errorf("flashpoint: channel %q is not known", p.kind)
}

// Test makes one minimal request to the channel's endpoint.
func (c *Connector) Test(ctx context.Context, kind feed.Kind) error {
	var err error
	switch kind {
	case feed.Indicators:
		_, err = c.Client.ListIndicators(ctx, ignite.IndicatorQuery{Size: 1})
	case feed.Vulnerabilities:
		_, err = c.Client.ListVulnerabilities(ctx, ignite.VulnerabilityQuery{Size: 1})
	case feed.Reports:
		_, err = c.Client.ListReports(ctx, ignite.ReportQuery{Limit: 1})
	default:
		err = fmt.Errorf("flashpoint: channel %q is not known", kind)
	}
	return err
}

// stamp is an item's identity and update time, as a cursor sees it.
type stamp struct {
	id string
	at time.Time
	ok bool // the time was readable
}

// boundaryPage fetches the next page of a channel read in ascending update
// order. A (Since, Skip) cursor alone would skip an unseen item if one of
// the Skip items at Since were updated between two requests (it moves past
// the boundary and the rest shift back by one). So the request overlaps the
// last committed item by one: when that item is still where it was, it is
// dropped and reading goes on; when it is not, the boundary moved, and the
// items at Since are read again from the first (re-reading is harmless).
//
// more reports whether the server returned a full page (so another may follow).
func boundaryPage[T any](cur *Cursor, size int, fetch func(from int) (*ignite.Page[T], error), stampOf func(*T) stamp) (page *ignite.Page[T], more bool, err error) {
	overlap := cur.Skip > 0 && cur.Last != ""
	from := cur.Skip
	if overlap {
		from--
	}
	if page, err = fetch(from); err != nil {
		return nil, false, err
	}
	more = hasMore(page, size)
	if !overlap {
		return page, more, nil
	}
	if len(page.Items) > 0 {
		if st := stampOf(&page.Items[0]); st.ok && st.id == cur.Last && st.at.Equal(cur.Since) {
			page.Items, page.Offset = page.Items[1:], page.Offset+1
			// The re-read item alone came back: nothing follows it.
			return page, more && page.Count() > 0, nil
		}
	}
	cur.Skip, cur.Last = 0, ""
	if page, err = fetch(0); err != nil {
		return nil, false, err
	}
	return page, hasMore(page, size), nil
}

// hasMore reports whether a page of a query is followed by another. A
// server may answer fewer items than asked and still have more: a page is
// the last only when it is empty, when its next link is there and null (or
// empty), or when no link is sent and the total is reached. With neither a
// link nor a total, only an empty page ends the query (one request more
// than a short page would, and nothing lost to a server that caps pages).
func hasMore[T any](page *ignite.Page[T], size int) bool {
	switch {
	case page.Count() == 0:
		return false
	case page.Next.Present:
		return !page.Next.Null && page.Next.Value != ""
	case page.Total >= 0:
		return page.Offset+page.Count() < page.Total
	}
	return size > 0
}

// inOrder checks that a page of items asked for in ascending update order
// came in that order, from since on. The cursor of reports and indicators
// rests on it: a server that ignored the order would make it skip items, so
// the poll fails, saying why, instead of reporting success over a gap.
func inOrder(stamps []stamp, since time.Time, endpoint string) error {
	var last time.Time
	for _, st := range stamps {
		if !st.ok {
			continue
		}
		if st.at.Before(since) || st.at.Before(last) {
			return &ignite.Error{Class: ignite.ClassBadResponse, Endpoint: endpoint, Message: fmt.Sprintf(
				"the answer is not in the ascending update order asked for (item %s updated %s after one updated %s, the cursor at %s): "+
					"the cursor cannot move on it without skipping items", st.id, st.at.UTC().Format(time.RFC3339Nano),
				last.UTC().Format(time.RFC3339Nano), since.UTC().Format(time.RFC3339Nano))}
		}
		last = st.at
	}
	return nil
}

// advance moves the cursor past a page of items read in ascending update
// order. Invalid items have no reliable time and do not move Since; a page
// of only invalid items is skipped by count.
func (c *Cursor) advance(stamps []stamp, pageLen int) {
	if pageLen == 0 {
		return
	}
	var last time.Time
	lastID := ""
	for _, st := range stamps {
		if st.ok && !st.at.Before(last) {
			last, lastID = st.at, st.id
		}
	}
	if last.IsZero() {
		c.Skip += pageLen
		c.Last = ""
		return
	}
	n := 0
	for _, st := range stamps {
		if st.ok && st.at.Equal(last) {
			n++
		}
	}
	switch {
	case last.Equal(c.Since):
		c.Skip += n
		c.Last = lastID
	case last.After(c.Since):
		c.Since, c.Skip, c.Last = last.UTC(), n, lastID
	}
}

// base returns an object with the channel's defaults applied: the item's
// TLP and confidence where it has them (Flashpoint items carry neither),
// the custom scores, the channel's tags and its validity.
func (p *Poll) base(t intel.Type, value string, reported time.Time, tags []string) intel.Object {
	s := &p.settings
	all := make([]string, 0, len(tags)+len(s.Tags))
	all = append(append(all, tags...), s.Tags...)
	o := intel.Object{
		Type: t, Value: value, TLP: s.TLP, Confidence: s.Confidence, Relevance: s.Relevance, Severity: s.Severity,
		Reported: reported.UTC(), ValidUntil: intel.Expiry(reported, s.DeprecateAfterDays, time.Time{}).UTC(),
	}
	o.Tags, o.FullTags = cleanTags(all)
	return o
}

// cleanTags drops empty tags and returns the tag list the store holds: a
// tag longer than intel.MaxTagLen is clipped (ending in "…"), and tags past
// intel.MaxTags are left out; those go whole into full, so that none is
// lost.
func cleanTags(tags []string) (out, full []string) {
	out = tags[:0]
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if r := []rune(t); len(r) > intel.MaxTagLen {
			full = append(full, t)
			t = string(r[:intel.MaxTagLen-1]) + "…"
		}
		out = append(out, t)
	}
	if len(out) > intel.MaxTags {
		for _, t := range out[intel.MaxTags:] {
			if !strings.HasSuffix(t, "…") || !slices.ContainsFunc(full, func(f string) bool { return strings.HasPrefix(f, strings.TrimSuffix(t, "…")) }) {
				full = append(full, t)
			}
		}
		out = out[:intel.MaxTags]
	}
	return out, full
}
