package store

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/notify"
)

func pendingKinds(t *testing.T, s *Store) []string {
	t.Helper()
	evs, err := s.PendingEvents(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// dispatchAll marks every pending event dispatched with no delivery.
func dispatchAll(t *testing.T, s *Store) {
	t.Helper()
	evs, _ := s.PendingEvents(context.Background(), 1000)
	for _, e := range evs {
		if err := s.FanOut(context.Background(), e.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func sealNothing(int64) (notify.Sealed, error) { return notify.Sealed{URL: []byte("sealed")}, nil }

// Events are written with the change that causes them: a channel's health
// moving into and out of connection_error and into no_data, a failed poll
// (not an interrupted one); exposures opened or reopened when a rule
// follows exposures, name_only ones only when a rule takes them.
func TestOutboxEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		in, err := s.CreateInstance(ctx, feed.Instance{Name: "Prod", BaseURL: feed.DefaultBaseURL}, "t", fakeSeal, nil)
		if err != nil {
			t.Fatal(err)
		}
		ch, _ := s.Channel(ctx, in.Name, feed.Vulnerabilities)
		h := ch.Health
		h.Enable(c.Now())
		save := func() {
			t.Helper()
			c.Add(time.Second)
			if err := s.SaveHealth(ctx, ch.ID, h, c.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		h.Failed(c.Now(), "unauthorized", "401", "the token was refused")
		save()
		h.Failed(c.Now(), "unauthorized", "401", "the token was refused") // a failed restore attempt: no new event
		save()
		if got := pendingKinds(t, s); !slices.Equal(got, []string{notify.ChannelError}) {
			t.Fatalf("into connection_error: %v", got)
		}
		evs, _ := s.PendingEvents(ctx, 10)
		var f notify.ChannelFacts
		if err := json.Unmarshal(evs[0].Data, &f); err != nil || f.Instance != "Prod" || f.Channel != "vulnerabilities" ||
			f.ErrorCode != "401" || f.Status != string(feed.ConnectionError) || f.Collection == "" || evs[0].SubjectID != ch.ID {
			t.Fatalf("channel_error facts: %+v %v", f, err)
		}
		dispatchAll(t, s)
		h.Succeeded(c.Now(), 0, true)
		save()
		h.Succeeded(c.Now(), 0, true)
		save()
		if got := pendingKinds(t, s); !slices.Equal(got, []string{notify.ChannelRestored}) {
			t.Fatalf("restored, then an empty poll: %v", got)
		}
		h.Succeeded(c.Now(), 0, true) // the third empty scheduled poll
		save()
		h.Succeeded(c.Now(), 0, true)
		save()
		if got := pendingKinds(t, s); !slices.Equal(got, []string{notify.ChannelRestored, notify.NoData}) {
			t.Fatalf("no data: %v", got)
		}
		dispatchAll(t, s)
		// Failed polls; an interrupted one is not a failure.
		for _, code := range []string{"503", "interrupted"} {
			run, err := s.StartPoll(ctx, feed.PollRun{ChannelID: ch.ID, Trigger: feed.TriggerScheduled, Holder: "test", Started: c.Now()})
			if err != nil {
				t.Fatal(err)
			}
			run.Outcome, run.ErrorCode, run.ErrorMessage = feed.OutcomeFailed, code, "upstream answered "+code
			if err := s.FinishPoll(ctx, run); err != nil {
				t.Fatal(err)
			}
		}
		if got := pendingKinds(t, s); !slices.Equal(got, []string{notify.PollFailed}) {
			t.Fatalf("failed polls: %v", got)
		}
		dispatchAll(t, s)

		// Exposures: none without a rule.
		p := intel.ProductRef{Vendor: "Examplesoft", Product: "EdgeGate", Versions: []string{"4.2"}}
		MustApply(t, s, MustLease(t, s, prodVulns.ChannelID), Page{Source: prodVulns, Collection: "prod Vulnerabilities",
			Objects: []intel.Object{vuln("CVE-2026-0001", 5, 9.8, 9, 0.5, "critical", "high", p), vuln("CVE-2026-0002", 5, 5, 5, 0.1, "medium", "", p),
				vuln("CVE-2026-0003", 5, 5, 5, 0.1, "medium", "", p)}})
		res, _ := s.Lookup(ctx, []string{"CVE-2026-0001", "CVE-2026-0002", "CVE-2026-0003"})
		v1, v2, v3 := res[0].Object.ID, res[1].Object.ID, res[2].Object.ID
		s.ImportInventory(ctx, []InventoryRow{{AssetID: "srv-1", Vendor: "Examplesoft", Product: "EdgeGate", Version: "4.2",
			RowKey: "srv-1\x1fexamplesoft\x1fedgegate"}}, false)
		rows, _ := s.Inventory(ctx, 0, 10)
		row := rows[0].ID
		c.Add(time.Second)
		if _, err := s.ReconcileExposures(ctx, []int64{row}, []Found{{row, v1, "product_version", "listed"}}); err != nil {
			t.Fatal(err)
		}
		if got := pendingKinds(t, s); len(got) != 0 {
			t.Fatalf("an exposure with no rule following exposures: %v", got)
		}
		if _, err := s.CreateRule(ctx, notify.Rule{Name: "exp", Event: notify.Exposure, Format: notify.FormatJSON, MaxTLP: intel.TLPAmber,
			URLHint: "https://h/…", Host: "h:443", CreatedBy: "test"}, sealNothing); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Second)
		found := []Found{{row, v1, "product_version", "listed"}, {row, v2, "product_version", "listed"}, {row, v3, "name_only", "by name"}}
		if n, err := s.ReconcileExposures(ctx, []int64{row}, found); err != nil || n.Opened != 2 {
			t.Fatalf("second match: %+v %v", n, err)
		}
		evs, _ = s.PendingEvents(ctx, 10)
		x2, _ := s.Exposures(ctx, ExposureQuery{VulnID: v2, Limit: 1})
		if len(evs) != 1 || evs[0].Kind != notify.Exposure || evs[0].SubjectID != x2[0].ID {
			t.Fatalf("one event for the product_version exposure opened (not the one seen again, not the name_only one): %+v", evs)
		}
		facts, err := s.ExposureFacts(ctx, x2[0].ID)
		if err != nil || facts.Asset.AssetID != "srv-1" || facts.Vulnerability.Name != "CVE-2026-0002" || *facts.Vulnerability.CVSSv3 != 5 ||
			facts.Vulnerability.Severity != "medium" || !slices.Equal(facts.Vulnerability.Collections, []string{"prod Vulnerabilities"}) ||
			!slices.Equal(facts.Vulnerability.Instances, []string{"prod"}) || facts.Exposure.How != "product_version" {
			t.Fatalf("facts: %+v %v", facts, err)
		}
		dispatchAll(t, s)
		// Resolved, then matching again: reopened.
		c.Add(time.Second)
		s.ReconcileExposures(ctx, []int64{row}, found[:1])
		c.Add(time.Second)
		s.ReconcileExposures(ctx, []int64{row}, found[:2])
		evs, _ = s.PendingEvents(ctx, 10)
		if len(evs) != 1 || evs[0].SubjectID != x2[0].ID || string(evs[0].Data) != `{"reopened":true}` {
			t.Fatalf("reopened: %+v", evs)
		}
		dispatchAll(t, s)
		// A rule that takes name_only matches: the next name_only exposure notifies.
		if _, err := s.CreateRule(ctx, notify.Rule{Name: "all", Event: notify.Exposure, Format: notify.FormatJSON, MaxTLP: intel.TLPAmber,
			Filters: notify.Filters{NameOnly: true}, URLHint: "https://h/…", Host: "h:443", CreatedBy: "test"}, sealNothing); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Second)
		s.ReconcileExposures(ctx, []int64{row}, found)
		x3, _ := s.Exposures(ctx, ExposureQuery{VulnID: v3, Limit: 1})
		if evs, _ = s.PendingEvents(ctx, 10); len(evs) != 1 || evs[0].SubjectID != x3[0].ID {
			t.Fatalf("name_only with a rule that takes it: %+v", evs)
		}
		if _, err := s.CreateRule(ctx, notify.Rule{Name: "EXP", Event: notify.Exposure, Format: notify.FormatJSON, MaxTLP: intel.TLPAmber,
			Host: "h:443", CreatedBy: "test"}, sealNothing); intel.ErrorCode(err) != intel.ECONFLICT {
			t.Errorf("a second rule named EXP: %v", err)
		}
	})
}

// Dispatching makes an event's deliveries once; claims keep two holders
// off one delivery until the claim lapses; failed attempts wait and are
// given up after the bound; removing a rule removes its deliveries.
func TestDeliveries(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		r, err := s.CreateRule(ctx, notify.Rule{Name: "ops", Event: notify.PollFailed, Format: notify.FormatJSON, MaxTLP: intel.TLPAmber,
			URLHint: "https://h/…", Host: "h:443", CreatedBy: "test"}, sealNothing)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := s.RuleSealed(ctx, r.ID)
		if err != nil || string(sealed.URL) != "sealed" || sealed.Secret != nil {
			t.Fatalf("sealed: %+v %v", sealed, err)
		}
		tx, _ := s.db.BeginTx(ctx, nil)
		for i := range 2 {
			if err := s.addEvent(ctx, tx, notify.PollFailed, int64(i), nil, c.Now().UnixMicro()); err != nil {
				t.Fatal(err)
			}
		}
		tx.Commit()
		evs, _ := s.PendingEvents(ctx, 10)
		for i, ev := range evs {
			ds := []notify.NewDelivery{{RuleID: r.ID, Key: "key-" + string(rune('a'+i)), Body: []byte(`{}`)}}
			if err := s.FanOut(ctx, ev.ID, ds); err != nil {
				t.Fatal(err)
			}
			if err := s.FanOut(ctx, ev.ID, ds); err != nil { // a second dispatcher, later: nothing
				t.Fatal(err)
			}
		}
		if got := pendingKinds(t, s); len(got) != 0 {
			t.Fatalf("still pending: %v", got)
		}
		a, err := s.ClaimDeliveries(ctx, "a", c.Now().Add(time.Minute), 1)
		if err != nil || len(a) != 1 || a[0].Key != "key-a" || a[0].Rule != "ops" || a[0].Kind != notify.PollFailed {
			t.Fatalf("claim a: %+v %v", a, err)
		}
		b, _ := s.ClaimDeliveries(ctx, "b", c.Now().Add(time.Minute), 10)
		if len(b) != 1 || b[0].Key != "key-b" {
			t.Fatalf("claim b gets only the other: %+v", b)
		}
		if more, _ := s.ClaimDeliveries(ctx, "c", c.Now().Add(time.Minute), 10); len(more) != 0 {
			t.Fatalf("claimed twice: %+v", more)
		}
		c.Add(2 * time.Minute) // a's holder died: its claim lapses
		again, _ := s.ClaimDeliveries(ctx, "c", c.Now().Add(time.Minute), 10)
		if len(again) != 2 {
			t.Fatalf("after the claims lapsed: %+v", again)
		}
		if err := s.FinishAttempt(ctx, again[0], "c", notify.Attempt{OK: true, Status: 204}, 3, time.Time{}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := s.FinishAttempt(ctx, again[1], "c", notify.Attempt{Status: 500, Error: "the receiver answered 500"}, 3,
				c.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if i < 2 {
				if due, _ := s.ClaimDeliveries(ctx, "c", c.Now().Add(time.Minute), 10); len(due) != 0 {
					t.Fatalf("a failed delivery claimed before its next attempt: %+v", due)
				}
				c.Add(2 * time.Minute)
				again, _ = s.ClaimDeliveries(ctx, "c", c.Now().Add(time.Minute), 10)
				if len(again) != 1 {
					t.Fatalf("attempt %d: %+v", i+2, again)
				}
				again = append([]notify.Delivery{{}}, again...)
			}
		}
		ds, err := s.Deliveries(ctx, DeliveryQuery{Limit: 10})
		if err != nil || len(ds) != 2 {
			t.Fatalf("deliveries: %+v %v", ds, err)
		}
		byKey := map[string]notify.Delivery{}
		for _, d := range ds {
			byKey[d.Key] = d
		}
		if d := byKey["key-a"]; d.State != notify.Delivered || d.Attempts != 1 || d.LastStatus != 204 || d.Delivered.IsZero() {
			t.Errorf("delivered: %+v", d)
		}
		if d := byKey["key-b"]; d.State != notify.GivenUp || d.Attempts != 3 || d.LastError != "the receiver answered 500" {
			t.Errorf("given up: %+v", d)
		}
		if got, _ := s.Deliveries(ctx, DeliveryQuery{State: notify.GivenUp, Rule: "OPS", Limit: 10}); len(got) != 1 {
			t.Errorf("filtered: %+v", got)
		}
		// Pruned once old and done; the rule's removal takes its deliveries.
		c.Add(time.Hour)
		if n, err := s.PruneOutbox(ctx, c.Now()); err != nil || n != 2 {
			t.Errorf("pruned %d %v", n, err)
		}
		if _, err := s.DeleteRule(ctx, "ops"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RuleSealed(ctx, r.ID); intel.ErrorCode(err) != intel.ENOTFOUND {
			t.Errorf("a removed rule: %v", err)
		}
	})
}
