package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
)

// ChannelCmd configures, tests and polls channels.
type ChannelCmd struct {
	List ChannelListCmd `cmd:"" help:"List the channels of an instance, or of all."`
	Show ChannelShowCmd `cmd:"" help:"Show a channel's settings, health and cursor."`
	Set  ChannelSetCmd  `cmd:"" help:"Change a channel's settings."`
	Test ChannelTestCmd `cmd:"" help:"Test a channel's connectivity."`
	Poll ChannelPollCmd `cmd:"" help:"Poll a channel now, to its end."`
	Runs ChannelRunsCmd `cmd:"" help:"List a channel's recent polls."`
}

// channelArgs name one channel.
type channelArgs struct {
	Instance string `arg:"" help:"Instance name."`
	Channel  string `arg:"" help:"reports, vulnerabilities or indicators."`
}

func (c channelArgs) ref() service.ChannelRef {
	return service.ChannelRef{Instance: c.Instance, Kind: c.Channel}
}

// open opens the app and loads the channel; the caller closes the app.
func (c channelArgs) open(ctx context.Context, e *env) (*App, feed.Channel, error) {
	a, err := e.open(ctx)
	if err != nil {
		return nil, feed.Channel{}, err
	}
	ch, err := a.Service.Channel(ctx, e.operator(), c.ref())
	if err != nil {
		a.Close()
		return nil, feed.Channel{}, err
	}
	return a, ch, nil
}

func channelTable(e *env, chs []feed.Channel) error {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "INSTANCE\tCHANNEL\tENABLED\tSTATUS\tSCHEDULE\tNEXT RUN\tCOLLECTION")
	for _, ch := range chs {
		status := string(ch.Health.Status)
		if ch.Health.ErrorCode != "" {
			status += " " + ch.Health.ErrorCode
		}
		if ch.Health.NoData {
			status += " (no_data)"
		}
		sched := string(ch.Settings.Schedule)
		if ch.Settings.Schedule == feed.Auto {
			sched = fmt.Sprintf("auto %dm", ch.Settings.IntervalMinutes)
		}
		next := "-"
		if !ch.NextRun.IsZero() {
			next = ch.NextRun.Format("2006-01-02 15:04Z")
		}
		fmt.Fprintf(w, "%s\t%s\t%v\t%s\t%s\t%s\t%s\n", ch.Instance, ch.Kind, ch.Settings.Enabled, status, sched, next, ch.Settings.Collection)
	}
	return w.Flush()
}

// ChannelListCmd lists channels.
type ChannelListCmd struct {
	Instance string `arg:"" optional:"" help:"Only this instance's channels."`
}

// Run lists the channels.
func (c *ChannelListCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	chs, err := a.Service.Channels(ctx, e.operator(), c.Instance)
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(chs)
	}
	return channelTable(e, chs)
}

// ChannelShowCmd shows a channel.
type ChannelShowCmd struct {
	channelArgs
}

// Run shows the channel.
func (c *ChannelShowCmd) Run(ctx context.Context, e *env) error {
	a, ch, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(ch)
	}
	s, h := ch.Settings, ch.Health
	opt := func(p *int) string {
		if p == nil {
			return "unset"
		}
		return fmt.Sprint(*p)
	}
	fmt.Fprintf(e.stdout, "instance         %s\nchannel          %s\nenabled          %v\nstatus           %s %s %s\n",
		ch.Instance, ch.Kind, s.Enabled, h.Status, h.ErrorCode, h.ErrorMessage)
	fmt.Fprintf(e.stdout, "start at         %s\ncollection       %s\nschedule         %s every %d minutes\ntlp              %s\n",
		s.StartAt.Format(time.RFC3339), s.Collection, s.Schedule, s.IntervalMinutes, s.TLP)
	fmt.Fprintf(e.stdout, "confidence       %d\ndeprecate after  %d days\nrelevance        %s\nseverity         %s\ntags             %s\n",
		s.Confidence, s.DeprecateAfterDays, opt(s.Relevance), opt(s.Severity), strings.Join(s.Tags, ", "))
	fmt.Fprintf(e.stdout, "no data          %v (%d empty scheduled polls)\nnext run         %s\ncursor           %s\n",
		h.NoData, h.EmptyPolls, orDash(timeOrEmpty(ch.NextRun)), orDash(ch.Cursor))
	return nil
}

// ChannelSetCmd changes settings.
type ChannelSetCmd struct {
	channelArgs
	Enable     bool     `help:"Enable the channel."`
	Disable    bool     `help:"Disable the channel."`
	StartAt    string   `name:"start-at" help:"Start time of the first poll (RFC 3339 or YYYY-MM-DD; within the last 15 days)."`
	Collection string   `help:"Collection to store into (created on first use)."`
	Schedule   string   `help:"manual or auto."`
	Interval   *int     `help:"Minutes between automatic polls (240–10080)."`
	TLP        string   `help:"TLP for items without one: none, clear, green, amber, amber+strict, red."`
	Confidence *int     `help:"Confidence for items without one (0–100)."`
	Deprecate  *int     `name:"deprecate-after" help:"Days after an item's last report when it is deprecated (1–180)."`
	Relevance  *int     `help:"Custom relevance score (0–100; -1 unsets)."`
	Severity   *int     `help:"Custom severity score (0–100; -1 unsets)."`
	Tag        []string `sep:"none" help:"Tags applied to every item (repeat the flag for each tag; replaces the list)."`
	NoTags     bool     `name:"no-tags" help:"Remove the channel's tags."`
}

// Run validates the new settings and saves them; a refused change leaves
// everything as it was.
func (c *ChannelSetCmd) Run(ctx context.Context, e *env) error {
	if c.Enable && c.Disable {
		return fmt.Errorf("%w: --enable and --disable together", errUsage)
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.Service.UpdateChannel(ctx, e.operator(), c.ref(), service.ChannelEdit{Apply: c.apply, Enable: c.Enable})
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(e.stderr, "warning:", w)
	}
	ch := res.Channel
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(ch)
	}
	fmt.Fprintf(e.stdout, "channel %s/%s saved: enabled %v, %s\n", ch.Instance, ch.Kind, ch.Settings.Enabled, ch.Health.Status)
	return nil
}

// apply sets the flags given on the channel's settings. A flag that does
// not parse is reported and leaves its field as it was (so that the
// validation of the result does not judge it again).
func (c *ChannelSetCmd) apply(s *feed.Settings) error {
	var bad []intel.FieldError
	if c.StartAt != "" {
		if t, err := intel.ParseTime(c.StartAt); err != nil {
			bad = append(bad, intel.FieldError{Field: "start_at", Message: "--start-at: " + intel.ErrorMessage(err)})
		} else {
			s.StartAt = t
		}
	}
	if c.Collection != "" {
		s.Collection = c.Collection
	}
	if c.Schedule != "" {
		s.Schedule = feed.Schedule(strings.ToLower(c.Schedule))
	}
	if c.Interval != nil {
		s.IntervalMinutes = *c.Interval
	}
	if c.TLP != "" {
		if t, err := intel.ParseTLP(c.TLP); err != nil {
			bad = append(bad, intel.FieldError{Field: "tlp", Message: "--tlp: " + intel.ErrorMessage(err)})
		} else {
			s.TLP = t
		}
	}
	if c.Confidence != nil {
		s.Confidence = *c.Confidence
	}
	if c.Deprecate != nil {
		s.DeprecateAfterDays = *c.Deprecate
	}
	s.Relevance = optScore(s.Relevance, c.Relevance)
	s.Severity = optScore(s.Severity, c.Severity)
	if c.NoTags {
		s.Tags = nil
	}
	if len(c.Tag) > 0 {
		s.Tags = c.Tag
	}
	if c.Enable {
		s.Enabled = true
	}
	if c.Disable {
		s.Enabled = false
	}
	return intel.Invalid(bad)
}

func optScore(cur, set *int) *int {
	switch {
	case set == nil:
		return cur
	case *set == -1:
		return nil
	}
	v := *set
	return &v
}

// ChannelTestCmd tests connectivity.
type ChannelTestCmd struct {
	channelArgs
}

// Run tests the channel.
func (c *ChannelTestCmd) Run(ctx context.Context, e *env) error {
	a, ch, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Service.TestChannel(ctx, e.operator(), c.ref())
	if err != nil {
		return err
	}
	if e.g.JSON {
		fresh, err := a.Service.Channel(ctx, e.operator(), c.ref())
		if err != nil {
			return err
		}
		if err := json.NewEncoder(e.stdout).Encode(fresh.Health); err != nil {
			return err
		}
	} else if r.OK {
		fmt.Fprintf(e.stdout, "%s/%s: running\n", ch.Instance, ch.Kind)
	}
	if !r.OK {
		return fmt.Errorf("%s/%s: connection error %s: %s", ch.Instance, ch.Kind, r.ErrorCode, r.Message)
	}
	return nil
}

// ChannelPollCmd polls a channel now.
type ChannelPollCmd struct {
	channelArgs
}

// Run polls to the end; progress goes to a terminal's standard error, the
// summary to standard output; the exit status is non-zero when it fails.
func (c *ChannelPollCmd) Run(ctx context.Context, e *env) error {
	a, ch, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	if !ch.Settings.Enabled {
		fmt.Fprintf(e.stderr, "warning: %s/%s is disabled: this poll runs once, and no scheduled poll follows it (enable it with channel set --enable)\n",
			ch.Instance, ch.Kind)
	}
	tty := isTerminal(e.stderr)
	start := time.Now()
	if tty {
		a.Scheduler.OnPage = func(r feed.PollRun) {
			fmt.Fprint(e.stderr, "\r"+progressLine(ch.Instance+"/"+string(ch.Kind), r, time.Since(start))+" ")
		}
	}
	started, err := a.Service.StartPoll(ctx, e.operator(), c.ref())
	if err != nil {
		return err // scheduler.ErrBusy among others: no poll ran
	}
	res := <-started.Done
	run, err := res.Run, res.Err
	if tty {
		fmt.Fprintln(e.stderr)
	}
	if e.g.JSON {
		if jerr := json.NewEncoder(e.stdout).Encode(run); jerr != nil {
			return jerr
		}
	} else {
		fmt.Fprintln(e.stdout, runLine(ch, run))
	}
	if err != nil {
		return fmt.Errorf("poll of %s/%s failed: %s %s", ch.Instance, ch.Kind, run.ErrorCode, run.ErrorMessage)
	}
	return nil
}

func runLine(ch feed.Channel, r feed.PollRun) string {
	line := fmt.Sprintf("%s/%s: %s in %.1fs: %d pages, %d new, %d updated, %d unchanged, %d filtered, %d invalid, %d unsupported, %d relationships; %d requests for %d listed",
		ch.Instance, ch.Kind, r.Outcome, r.Ended.Sub(r.Started).Seconds(), r.Pages, r.New, r.Updated, r.Unchanged, r.Filtered, r.Invalid, r.Unsupported,
		r.Relationships, r.Requests, r.Listed)
	if r.ErrorCode != "" {
		line += "; error " + r.ErrorCode
	}
	return line
}

// ChannelRunsCmd lists recent polls.
type ChannelRunsCmd struct {
	channelArgs
	Limit int `default:"20" help:"How many polls, newest first (1–1000)."`
}

// Run lists the polls, newest first.
func (c *ChannelRunsCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	runs, err := a.Service.Runs(ctx, e.operator(), c.ref(), c.Limit)
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(runs)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTARTED\tTRIGGER\tOUTCOME\tPAGES\tLISTED\tNEW\tUPDATED\tUNCHANGED\tFILTERED\tINVALID\tREQUESTS\tREQ/ITEM\tERROR\tCURSOR AFTER")
	for _, r := range runs {
		perItem := "-"
		if r.Listed > 0 {
			perItem = fmt.Sprintf("%.2f", r.RequestsPerItem())
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", r.ID, r.Started.Format("2006-01-02 15:04:05Z"), r.Trigger, r.Outcome,
			r.Pages, r.Listed, r.New, r.Updated, r.Unchanged, r.Filtered, r.Invalid, r.Requests, perItem, orDash(r.ErrorCode), orDash(r.CursorAfter))
	}
	return w.Flush()
}

// progressBarWidth is the number of cells of channel poll's progress bar.
const progressBarWidth = 30

// progressLine is channel poll's progress on a terminal: a bar when the
// server says how many items remain, else the counts so far.
func progressLine(name string, r feed.PollRun, elapsed time.Duration) string {
	counts := fmt.Sprintf("%d items (%d new, %d updated), %d pages, %.0fs", r.Items(), r.New, r.Updated, r.Pages, elapsed.Seconds())
	if r.Remaining < 0 {
		return name + ": " + counts
	}
	total := r.Items() + r.Remaining
	frac := 1.0
	if total > 0 {
		frac = float64(r.Items()) / float64(total)
	}
	filled := int(frac * progressBarWidth)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", progressBarWidth-filled)
	if filled < progressBarWidth {
		bar = strings.Repeat("=", filled) + ">" + strings.Repeat(" ", progressBarWidth-filled-1)
	}
	return fmt.Sprintf("%s: [%s] %3.0f%% of %d: %s", name, bar, 100*frac, total, counts)
}
