package feed

import (
	"fmt"
	"time"
)

// Channel is one channel of an instance: its settings, its health and when
// it next polls.
type Channel struct {
	ID         int64     `json:"id"`
	InstanceID int64     `json:"instance_id"`
	Instance   string    `json:"instance"`
	Kind       Kind      `json:"channel"`
	Settings   Settings  `json:"settings"`
	Health     Health    `json:"health"`
	NextRun    time.Time `json:"next_run,omitzero"` // zero: not scheduled
	Cursor     string    `json:"cursor,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
}

// Ref names the channel in the audit trail: "channel:ID instance/kind".
func (ch *Channel) Ref() string { return fmt.Sprintf("channel:%d %s/%s", ch.ID, ch.Instance, ch.Kind) }

// Trigger says why a poll ran.
type Trigger string

// Poll triggers.
const (
	TriggerManual    Trigger = "manual"
	TriggerScheduled Trigger = "scheduled"
	TriggerRestore   Trigger = "restore"
	TriggerResume    Trigger = "resume" // a poll whose process died, resumed from its cursor
)

// Outcome is how a poll ended.
type Outcome string

// Poll outcomes.
const (
	OutcomeRunning Outcome = "running"
	OutcomeOK      Outcome = "ok"
	OutcomeFailed  Outcome = "failed"
)

// PollRun records one poll of a channel (docs/domain.md §3).
type PollRun struct {
	ID        int64     `json:"id"`
	ChannelID int64     `json:"channel_id"`
	Trigger   Trigger   `json:"trigger"`
	Holder    string    `json:"holder"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended,omitzero"`
	Counts
	CursorBefore string  `json:"cursor_before"`
	CursorAfter  string  `json:"cursor_after"`
	Outcome      Outcome `json:"outcome"`
	ErrorCode    string  `json:"error_code,omitempty"`
	ErrorMessage string  `json:"error_message,omitempty"`
	// Remaining is, while the poll runs, how many items the server said
	// follow the last page committed (-1: it did not say). Not stored.
	Remaining int `json:"-"`
}

// Counts are what a poll, or a part of it (a page, a batch, a transaction
// of pages), did: the one type the connector, the store and the poll
// record count in.
type Counts struct {
	Pages         int `json:"pages"`
	New           int `json:"new"`       // objects stored for the first time
	Updated       int `json:"updated"`   // stored objects changed
	Unchanged     int `json:"unchanged"` // items that changed nothing
	Filtered      int `json:"filtered"`  // dropped by the channel's ingest filters
	Invalid       int `json:"invalid"`   // could not be decoded or normalised
	Unsupported   int `json:"unsupported"`
	Listed        int `json:"listed"`        // items read from Flashpoint's lists
	Requests      int `json:"requests"`      // requests sent to Flashpoint, retries included
	Relationships int `json:"relationships"` // relationships between objects made
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Pages += o.Pages
	c.New += o.New
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.Filtered += o.Filtered
	c.Invalid += o.Invalid
	c.Unsupported += o.Unsupported
	c.Listed += o.Listed
	c.Requests += o.Requests
	c.Relationships += o.Relationships
}

// RequestsPerItem is how many requests were made for each item listed (0
// when none was).
func (r *Counts) RequestsPerItem() float64 {
	if r.Listed == 0 {
		return 0
	}
	return float64(r.Requests) / float64(r.Listed)
}

// Items is the number of items received.
func (r *Counts) Items() int {
	return r.New + r.Updated + r.Unchanged + r.Filtered + r.Invalid + r.Unsupported
}

// Update validates next as the channel's settings at now and, when they are
// valid, applies them; a refused change leaves the channel as it was. The
// start time matters only before the first poll, and is checked when it is
// set: an unchanged one that has aged past 15 days is not held against
// another change. Once the channel has polled it is kept as history. Before
// the first poll it is left as stored, and a warning says that the first
// poll will start at the oldest time allowed then (as Poll does). Enabling
// or disabling moves the health state along. The caller saves the channel
// and reschedules it.
func (ch *Channel) Update(next Settings, now time.Time) (warnings []string, err error) {
	unchangedStart := next.StartAt.Equal(ch.Settings.StartAt)
	check := next
	aged := unchangedStart && next.StartAt.Before(now.Add(-MaxStartAge))
	if unchangedStart && (ch.Cursor != "" || aged) {
		check.StartAt = now
	}
	if warnings, err = check.Validate(ch.Kind, now); err != nil {
		return nil, err
	}
	if aged && ch.Cursor == "" {
		warnings = append(warnings, fmt.Sprintf("start_at %s is now more than 15 days back: it is kept as set, and the first poll starts at the oldest time allowed when it runs (15 days before it); set --start-at to choose another",
			next.StartAt.UTC().Format(time.RFC3339)))
	}
	switch {
	case next.Enabled && !ch.Settings.Enabled:
		ch.Health.Enable(now)
	case !next.Enabled && ch.Settings.Enabled:
		ch.Health.Disable(now)
	}
	ch.Settings = next
	return warnings, nil
}
