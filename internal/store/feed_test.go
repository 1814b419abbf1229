package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
)

// fakeSeal stands in for package secret: it must receive the row id.
func fakeSeal(id int64, token string) ([]byte, error) {
	return []byte(fmt.Sprintf("sealed(%d):%x", id, token)), nil
}

func TestInstancesAndChannels(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		settings := map[feed.Kind]feed.Settings{}
		for _, k := range feed.Kinds() {
			st := feed.DefaultSettings("Prod", k, c.Now())
			st.Enabled = k == feed.Indicators
			settings[k] = st
		}
		in, err := s.CreateInstance(ctx, feed.Instance{Name: "Prod", BaseURL: "https://api.flashpoint.io", VerifyTLS: true},
			"secret-token-abcd", fakeSeal, settings)
		if err != nil {
			t.Fatal(err)
		}
		if !in.TokenSet || in.TokenHint != "…abcd" || !in.VerifyTLS || in.ID == 0 {
			t.Errorf("created %+v", in)
		}
		sealed, err := s.InstanceToken(ctx, in.ID)
		if err != nil || !bytes.HasPrefix(sealed, []byte(fmt.Sprintf("sealed(%d):", in.ID))) {
			t.Errorf("sealed token %q, %v: the sealer must get the row id", sealed, err)
		}
		if _, err := s.CreateInstance(ctx, feed.Instance{Name: "PROD", BaseURL: feed.DefaultBaseURL}, "t", fakeSeal, nil); intel.ErrorCode(err) != intel.ECONFLICT {
			t.Errorf("a second instance named PROD: %v", err)
		}
		chs, err := s.Channels(ctx, "prod")
		if err != nil || len(chs) != 3 || chs[0].Kind != feed.Reports || chs[2].Kind != feed.Indicators {
			t.Fatalf("channels %+v, %v", chs, err)
		}
		if chs[2].Health.Status != feed.Running || chs[0].Health.Status != feed.Disabled || chs[2].Settings.Collection != "Prod Indicators" {
			t.Errorf("channel states: %+v / %+v", chs[0], chs[2])
		}

		// The cursor and history survive a migration to a new base URL and token.
		ind := chs[2]
		l := MustLease(t, s, ind.ID)
		MustApply(t, s, l, Page{Source: intel.Provenance{ChannelID: ind.ID, Instance: "Prod", Channel: "indicators"}, Collection: "Prod Indicators",
			Objects: []intel.Object{ipv4(1, epoch)}, Cursor: "cur-1"})
		run, err := s.StartPoll(ctx, feed.PollRun{ChannelID: ind.ID, Trigger: feed.TriggerManual, Holder: "h", CursorBefore: ""})
		if err != nil {
			t.Fatal(err)
		}
		run.Outcome, run.New, run.Pages, run.CursorAfter = feed.OutcomeOK, 1, 1, "cur-1"
		if err := s.FinishPoll(ctx, run); err != nil {
			t.Fatal(err)
		}
		in.BaseURL = "https://proxy.example/fp"
		in2, err := s.UpdateInstance(ctx, in, "new-token-wxyz", fakeSeal)
		if err != nil || in2.BaseURL != "https://proxy.example/fp" || in2.TokenHint != "…wxyz" {
			t.Fatalf("migrated %+v, %v", in2, err)
		}
		ch, err := s.Channel(ctx, "Prod", feed.Indicators)
		if err != nil || ch.Cursor != "cur-1" || ch.ID != ind.ID {
			t.Errorf("after migration: %+v, %v", ch, err)
		}
		runs, err := s.Polls(ctx, ind.ID, 0)
		if err != nil || len(runs) != 1 || runs[0].Outcome != feed.OutcomeOK || runs[0].New != 1 || runs[0].Ended.IsZero() {
			t.Errorf("poll history: %+v, %v", runs, err)
		}

		// Scheduling.
		ch.NextRun = c.Now().Add(time.Hour)
		ch.Health.Failed(c.Now(), "upstream", "503", "down")
		if err := s.SaveChannel(ctx, ch); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.DueChannels(ctx, c.Now()); len(due) != 0 {
			t.Errorf("due too early: %+v", due)
		}
		due, err := s.DueChannels(ctx, c.Now().Add(time.Hour))
		if err != nil || len(due) != 1 || due[0].Health.Status != feed.ConnectionError || due[0].Health.ErrorCode != "503" {
			t.Errorf("due: %+v, %v", due, err)
		}

		if err := s.DeleteInstance(ctx, "prod"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Channels(ctx, "prod"); intel.ErrorCode(err) != intel.ENOTFOUND {
			t.Errorf("channels of a deleted instance: %v", err)
		}
		if n := count(t, s, Query{}); n != 1 {
			t.Errorf("deleting an instance removed its intelligence: %d objects", n)
		}
	})
}

// The stored token never follows a base URL to another server: another
// scheme, host or port needs the token again; the same server keeps it.
func TestUpdateInstanceKeepsTheTokenWithItsHost(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		in, err := s.CreateInstance(ctx, feed.Instance{Name: "Prod", BaseURL: "https://api.flashpoint.io", VerifyTLS: true},
			"secret-token-abcd", fakeSeal, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, moved := range []string{"https://evil.example", "http://api.flashpoint.io", "https://api.flashpoint.io:8443"} {
			next := in
			next.BaseURL = moved
			_, err := s.UpdateInstance(ctx, next, "", fakeSeal)
			if f := intel.Fields(err); len(f) != 1 || f[0].Field != "token" {
				t.Errorf("base URL %s without the token: %v", moved, err)
			}
		}
		if got, _ := s.Instance(ctx, "Prod"); got.BaseURL != "https://api.flashpoint.io" {
			t.Fatalf("a refused change moved the base URL to %s", got.BaseURL)
		}
		for _, same := range []string{"https://api.flashpoint.io:443", "https://API.flashpoint.io/v2"} {
			next := in
			next.BaseURL = same
			if _, err := s.UpdateInstance(ctx, next, "", fakeSeal); err != nil {
				t.Errorf("the same server %s: %v", same, err)
			}
		}
		next := in
		next.BaseURL = "https://evil.example"
		if got, err := s.UpdateInstance(ctx, next, "new-token-wxyz", fakeSeal); err != nil || got.BaseURL != next.BaseURL || got.TokenHint != "…wxyz" {
			t.Errorf("a new server with a new token: %+v %v", got, err)
		}
	})
}

// A removed instance leaves nothing a new one could inherit: re-added
// under the same name, its channels have new ids, empty cursors and no
// provenance of the removed ones.
func TestRemoveThenAddStartsAfresh(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		add := func() feed.Channel {
			if _, err := s.CreateInstance(ctx, feed.Instance{Name: "Prod", BaseURL: feed.DefaultBaseURL, VerifyTLS: true}, "tok-1234", fakeSeal, nil); err != nil {
				t.Fatal(err)
			}
			ch, err := s.Channel(ctx, "Prod", feed.Indicators)
			if err != nil {
				t.Fatal(err)
			}
			return ch
		}
		old := add()
		l, err := s.AcquireLease(ctx, old.ID, "test", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		MustApply(t, s, l, ipv4Page(intel.Provenance{ChannelID: old.ID, Instance: "Prod", Channel: "indicators"}, 0, 5, epoch, "old-cursor"))
		if err := s.DeleteInstance(ctx, "Prod"); err != nil {
			t.Fatal(err)
		}
		fresh := add()
		if fresh.ID == old.ID || fresh.Cursor != "" {
			t.Errorf("re-added channel: id %d (removed one %d), cursor %q", fresh.ID, old.ID, fresh.Cursor)
		}
		if cur, _ := s.Cursor(ctx, old.ID); cur != "" {
			t.Errorf("the removed channel's cursor stays: %q", cur)
		}
		if n := count(t, s, Query{ChannelID: fresh.ID}); n != 0 {
			t.Errorf("the new channel holds %d objects of the removed one", n)
		}
		if n := count(t, s, Query{}); n != 5 {
			t.Errorf("%d objects after the removal; the intelligence stays", n)
		}
	})
}
