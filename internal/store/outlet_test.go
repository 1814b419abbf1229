package store

import (
	"context"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/outlet"
)

func TestListsAndAllows(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		l, err := s.SaveList(ctx, outlet.List{Name: "fw", Types: []outlet.ListType{"url", "ipv4", "url"}, MinConfidence: 50,
			MinScore: intel.ScoreSuspicious, MaxTLP: intel.TLPAmber, ExcludeDeprecated: true, Limit: 10, Format: outlet.CSV, CreatedBy: "t"})
		if err != nil || l.ID == 0 || len(l.Types) != 2 || !l.ExcludeDeprecated || l.Format != outlet.CSV {
			t.Fatalf("save: %+v %v", l, err)
		}
		c.Add(time.Minute)
		l2, err := s.SaveList(ctx, outlet.List{Name: "fw", Types: []outlet.ListType{"domain"}, Format: outlet.Plain})
		if err != nil || l2.ID != l.ID || !l2.Updated.After(l.Updated) || !l2.Created.Equal(l.Created) || l2.Types[0] != "domain" {
			t.Fatalf("redefine: %+v %v", l2, err)
		}
		if _, err := s.SaveList(ctx, outlet.List{Name: "x y", Types: []outlet.ListType{"ipv4"}, Format: outlet.Plain}); intel.ErrorCode(err) != intel.EINVALID {
			t.Errorf("bad name: %v", err)
		}
		if _, err := s.List(ctx, "nosuch"); intel.ErrorCode(err) != intel.ENOTFOUND {
			t.Errorf("no list: %v", err)
		}
		// A key bound to the list is revoked with it.
		_, prefix, hash := auth.NewToken()
		k, err := s.CreateAPIKey(ctx, auth.Key{Name: "fw", Role: auth.Analyst, List: "fw", Prefix: prefix}, hash)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.APIKeyByHash(ctx, hash); err != nil || got.List != "fw" {
			t.Fatalf("bound key: %+v %v", got, err)
		}
		if err := s.DeleteList(ctx, "fw"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKeyByHash(ctx, hash); intel.ErrorCode(err) != intel.EUNAUTHORIZED {
			t.Errorf("key %d of a removed list still valid: %v", k.ID, err)
		}

		as, err := s.Allows(ctx)
		if err != nil || len(as) != len(outlet.DefaultAllows) {
			t.Fatalf("default allow-list: %d entries, %v", len(as), err)
		}
		_, before, err := s.OutletVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.Add(time.Minute)
		a, err := s.AddAllow(ctx, outlet.Allow{Kind: outlet.AllowValue, Value: "8.8.8.8", Note: "dns"})
		if err != nil || a.ID == 0 || a.Default {
			t.Fatalf("add: %+v %v", a, err)
		}
		if again, err := s.AddAllow(ctx, outlet.Allow{Kind: outlet.AllowValue, Value: "8.8.8.8"}); err != nil || again.ID != a.ID {
			t.Errorf("add again: %+v %v", again, err)
		}
		_, after, _ := s.OutletVersion(ctx)
		if !after.After(before) {
			t.Errorf("the allow-list's change time did not move: %v → %v", before, after)
		}
		if err := s.RemoveAllow(ctx, as[0].ID); err != nil { // a default one
			t.Fatal(err)
		}
		if err := s.RemoveAllow(ctx, as[0].ID); intel.ErrorCode(err) != intel.ENOTFOUND {
			t.Errorf("remove twice: %v", err)
		}
	})
}
