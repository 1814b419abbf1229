package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/scheduler"
)

// ChannelRef names a channel: its instance (id or name) and its kind.
type ChannelRef struct {
	Instance string
	Kind     string
}

func (s *Service) findChannel(ctx context.Context, ref ChannelRef) (feed.Channel, error) {
	in, err := s.findInstance(ctx, ref.Instance)
	if err != nil {
		return feed.Channel{}, err
	}
	k, err := feed.ParseKind(ref.Kind)
	if err != nil {
		return feed.Channel{}, intel.Errorf(intel.ENOTFOUND, "%s", intel.ErrorMessage(err))
	}
	return s.Store.Channel(ctx, in.Name, k)
}

// Channel finds a channel.
func (s *Service) Channel(ctx context.Context, p *auth.Principal, ref ChannelRef) (feed.Channel, error) {
	if err := need(p, auth.ViewFeedSource); err != nil {
		return feed.Channel{}, err
	}
	return s.findChannel(ctx, ref)
}

// Channels lists the channels of an instance (id or name), or of every
// instance when instance is "".
func (s *Service) Channels(ctx context.Context, p *auth.Principal, instance string) ([]feed.Channel, error) {
	if err := need(p, auth.ViewFeedSource); err != nil {
		return nil, err
	}
	name := ""
	if instance != "" {
		in, err := s.findInstance(ctx, instance)
		if err != nil {
			return nil, err
		}
		name = in.Name
	}
	chs, err := s.Store.Channels(ctx, name)
	if chs == nil {
		chs = []feed.Channel{}
	}
	return chs, err
}

// ChannelEdit is a change of a channel's settings.
type ChannelEdit struct {
	// Apply changes the settings it is given (the channel's current ones).
	// An error listing fields (intel.Invalid) is reported with what the
	// validation of the result finds; leave a field that did not parse as
	// it was, so that it is not judged twice. Any other error ends the edit.
	Apply func(*feed.Settings) error
	// Enable also restores a channel the health machine disabled.
	Enable bool
}

// ChannelResult is a changed channel and the change's warnings.
type ChannelResult struct {
	feed.Channel
	Warnings []string `json:"warnings"`
}

// UpdateChannel validates and saves new settings and reschedules the
// channel; a refused change names every bad field and changes nothing.
// Only a principal without a TLP cap may change the channel's TLP: it marks
// what the channel brings, so a capped one could re-mark what it may not
// see into what it may.
func (s *Service) UpdateChannel(ctx context.Context, p *auth.Principal, ref ChannelRef, e ChannelEdit) (ChannelResult, error) {
	if err := need(p, auth.UpdateFeedSource); err != nil {
		return ChannelResult{}, err
	}
	ch, err := s.findChannel(ctx, ref)
	if err != nil {
		return ChannelResult{}, err
	}
	next := ch.Settings
	var bad []intel.FieldError
	if e.Apply != nil {
		if err := e.Apply(&next); err != nil {
			if bad = intel.Fields(err); bad == nil {
				return ChannelResult{}, err
			}
		}
	}
	if next.TLP != ch.Settings.TLP && !p.MayMark() {
		return ChannelResult{}, intel.Errorf(intel.EFORBIDDEN, "%s is capped at TLP %s: only a principal without a cap may change a channel's TLP (it marks what the channel brings)",
			p.Actor(), p.MaxTLP)
	}
	now := s.now()
	before := ch.Settings
	warnings, err := ch.Update(next, now)
	if bad = append(bad, intel.Fields(err)...); len(bad) > 0 {
		return ChannelResult{}, intel.Invalid(bad)
	}
	if err != nil {
		return ChannelResult{}, err
	}
	if e.Enable {
		ch.Health.Enable(now)
	}
	if err := s.Store.SaveChannel(ctx, ch); err != nil {
		return ChannelResult{}, err
	}
	if err := s.Scheduler.Reschedule(ctx, ch); err != nil {
		return ChannelResult{}, err
	}
	s.audit(ctx, p, "channel.update", ch.Ref(), map[string]any{"before": before, "after": ch.Settings})
	if ch, err = s.Store.ChannelByID(ctx, ch.ID); err != nil {
		return ChannelResult{}, err
	}
	if warnings == nil {
		warnings = []string{}
	}
	return ChannelResult{ch, warnings}, nil
}

// TestChannel tests a channel's connectivity, updating its health.
func (s *Service) TestChannel(ctx context.Context, p *auth.Principal, ref ChannelRef) (TestResult, error) {
	if err := need(p, auth.UpdateFeedSource); err != nil {
		return TestResult{}, err
	}
	ch, err := s.findChannel(ctx, ref)
	if err != nil {
		return TestResult{}, err
	}
	return s.test(ctx, ch), nil
}

// StartedPoll is a poll started by hand: its channel, its record as it
// began, and what delivers the finished run and its error.
type StartedPoll struct {
	Channel feed.Channel
	Run     feed.PollRun
	Done    <-chan scheduler.PollResult
}

// StartPoll starts a poll of a channel now, enabled or not, and returns
// once it holds the channel's lease; the poll runs under ctx, which must
// outlive the request that asked for it. A poll of the channel already
// running, here or on another replica, is a conflict (scheduler.ErrBusy).
// A failed poll is logged here and recorded in the poll history.
func (s *Service) StartPoll(ctx context.Context, p *auth.Principal, ref ChannelRef) (StartedPoll, error) {
	if err := need(p, auth.UpdateFeedSource); err != nil {
		return StartedPoll{}, err
	}
	ch, err := s.findChannel(ctx, ref)
	if err != nil {
		return StartedPoll{}, err
	}
	run, done, err := s.Scheduler.Start(ctx, ch, feed.TriggerManual)
	if err != nil {
		return StartedPoll{}, err
	}
	s.audit(ctx, p, "channel.poll", ch.Ref(), map[string]int64{"run_id": run.ID})
	out := make(chan scheduler.PollResult, 1)
	go func() {
		res := <-done
		if res.Err != nil && !errors.Is(res.Err, context.Canceled) {
			s.log().Warn("poll failed", "channel", ch.Ref(), "run", res.Run.ID, "error", res.Err)
		}
		out <- res
	}()
	return StartedPoll{ch, run, out}, nil
}

// Runs lists a channel's recent polls, newest first.
func (s *Service) Runs(ctx context.Context, p *auth.Principal, ref ChannelRef, limit int) ([]feed.PollRun, error) {
	if err := need(p, auth.ViewFeedSource); err != nil {
		return nil, err
	}
	if limit < 1 || limit > 1000 {
		return nil, intel.Invalid([]intel.FieldError{{Field: "limit", Message: fmt.Sprintf("limit %d must be a whole number in 1–1000", limit)}})
	}
	ch, err := s.findChannel(ctx, ref)
	if err != nil {
		return nil, err
	}
	runs, err := s.Store.Polls(ctx, ch.ID, limit)
	if runs == nil {
		runs = []feed.PollRun{}
	}
	return runs, err
}
