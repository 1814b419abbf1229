package scheduler

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
)

// holdingTransport holds every request to one path until released.
type holdingTransport struct {
	path    string
	held    chan struct{} // a request is held
	release chan struct{}
}

func (h *holdingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, h.path) {
		select {
		case h.held <- struct{}{}:
		default:
		}
		select {
		case <-h.release:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A long poll of one channel does not hold up the scheduled poll or the
// restore attempt of another: Run launches what is due at each tick and
// goes on ticking. (Before, each tick waited for every poll it launched,
// so one backfill delayed every other channel.) The ticks are the test's,
// and the waits are on observed progress, never on time.
func TestLongPollDoesNotDelayOtherChannels(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, smallSim())
		e.addInstance(t, "prod", "good")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		now := e.sim.Clock()
		later := now.Add(time.Hour)
		ind, rep, vul := e.channel(t, "prod", feed.Indicators), e.channel(t, "prod", feed.Reports), e.channel(t, "prod", feed.Vulnerabilities)
		for _, c := range []struct {
			ch   feed.Channel
			next time.Time
			h    feed.Health
		}{
			{ind, now, ind.Health}, // due now: its poll will be held
			{rep, later, rep.Health},
			{vul, later, feed.Health{Status: feed.ConnectionError, ErrorCode: "503", Since: now}}, // a restore attempt then
		} {
			if err := e.store.SaveHealth(ctx, c.ch.ID, c.h, c.next); err != nil {
				t.Fatal(err)
			}
		}
		hold := &holdingTransport{path: "/technical-intelligence/v2/indicators", held: make(chan struct{}, 1), release: make(chan struct{})}
		s := e.scheduler("test")
		client := s.Client
		s.Client = func(o *ignite.Options) { client(o); o.Transport = hold }
		ticks := make(chan time.Time)
		s.ticks = ticks
		ended := make(chan feed.PollRun, 8)
		s.OnEnd = func(r feed.PollRun) { ended <- r }
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()

		<-hold.held // the indicators poll is under way, and stays so
		e.sim.Advance(time.Hour + time.Minute)
		ticks <- time.Now() // taken only by a scheduler that is not waiting for the held poll
		got := map[int64]feed.PollRun{}
		for len(got) < 2 {
			r := <-ended
			got[r.ChannelID] = r
		}
		if r := got[rep.ID]; r.Trigger != feed.TriggerScheduled || r.Outcome != feed.OutcomeOK {
			t.Errorf("the reports poll while the indicators one was held: %+v", r)
		}
		if r := got[vul.ID]; r.Trigger != feed.TriggerRestore || r.Outcome != feed.OutcomeOK {
			t.Errorf("the vulnerabilities restore while the indicators poll was held: %+v", r)
		}
		if _, ok := got[ind.ID]; ok {
			t.Fatal("the held poll ended")
		}
		close(hold.release)
		if r := <-ended; r.ChannelID != ind.ID || r.Outcome != feed.OutcomeOK {
			t.Errorf("the indicators poll, released: %+v", r)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
