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
	"sync/atomic"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/intel"
)

// PageSize is how many items a page asks for.
const PageSize = 500

// Cursor is where a channel is: in the window of items updated after Since
// and up to Until (window.go), Skip places into it, in pass Pass; Last is
// the id of the item before that place, Total the window's total at the
// last page, and Moved says an item was not where it had been in this
// pass. Between windows, only Since is set.
type Cursor struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until,omitzero"`
	Skip  int       `json:"skip,omitempty"`
	Last  string    `json:"last,omitempty"`
	Total int       `json:"total,omitempty"`
	Pass  int       `json:"pass,omitempty"`
	Moved bool      `json:"moved,omitempty"`
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

// Batch is one mapped page.
type Batch struct {
	Objects       []intel.Object
	Relationships []intel.Relationship
	Cursor        string
	// Counts say what the page did besides the objects it produced: the
	// items listed, filtered, invalid, unsupported (MISP attribute types
	// Flint does not map) and unchanged (not changed since the channel
	// stored them: not mapped again), and the requests it took, retries
	// included. The store counts the rest.
	Counts feed.Counts
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
	// Known returns when the channel last stored each of the vulnerability
	// records ids names (those it has): a record not changed since is not
	// read again, nor its detail fetched. Nil: every record is new.
	Known func(ctx context.Context, ids []int64) (map[int64]time.Time, error)
	// DetailWorkers is how many vulnerability details are fetched at once
	// (within the client's rate limit); 0 means 4.
	DetailWorkers int
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
	began    time.Time
	// window paging
	seen    seenSet // items read in this poll's window
	invalid int     // items of this pass that could not be read
	// vulnerabilities
	noPremium atomic.Bool // the token's details were refused: keep list records
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
	return &Poll{c: c, kind: kind, settings: s, cur: cur, began: c.now().UTC()}, nil
}

// More reports whether another page may follow.
func (p *Poll) More() bool { return !p.done }

// Next fetches and maps the next page.
func (p *Poll) Next(ctx context.Context) (*Batch, error) {
	if p.done {
		return nil, fmt.Errorf("flashpoint: poll of %s is over", p.kind)
	}
	sent := p.c.Client.Requests()
	var b *Batch
	var err error
	switch p.kind {
	case feed.Indicators:
		b, err = p.nextIndicators(ctx)
	case feed.Vulnerabilities:
		b, err = p.nextVulnerabilities(ctx)
	case feed.Reports:
		b, err = p.nextReports(ctx)
	default:
		return nil, fmt.Errorf("flashpoint: channel %q is not known", p.kind)
	}
	if b != nil {
		b.Counts.Requests = int(p.c.Client.Requests() - sent)
	}
	return b, err
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
