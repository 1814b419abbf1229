package service_test

import (
	"context"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/taxii"
)

// Every use case checks the principal's permission before it touches the
// store (the Service here has none: a check that came late would panic),
// so that a transport that forgets to check cannot let a principal past
// its grant.
func TestUseCasesCheckThePermission(t *testing.T) {
	s := &service.Service{}
	ctx := context.Background()
	ch := service.ChannelRef{Instance: "a", Kind: "reports"}
	cases := []struct {
		name string
		perm auth.Permission
		call func(p *auth.Principal) error
	}{
		{"Instances", auth.ViewFeedSource, func(p *auth.Principal) error { _, err := s.Instances(ctx, p); return err }},
		{"Instance", auth.ViewFeedSource, func(p *auth.Principal) error { _, err := s.Instance(ctx, p, "a"); return err }},
		{"CreateInstance", auth.CreateFeedSource, func(p *auth.Principal) error {
			_, err := s.CreateInstance(ctx, p, service.InstanceInput{})
			return err
		}},
		{"UpdateInstance", auth.UpdateFeedSource, func(p *auth.Principal) error {
			_, err := s.UpdateInstance(ctx, p, "a", service.InstanceInput{})
			return err
		}},
		{"RemoveInstance", auth.UpdateFeedSource, func(p *auth.Principal) error { _, err := s.RemoveInstance(ctx, p, "a"); return err }},
		{"MigrateInstance", auth.UpdateFeedSource, func(p *auth.Principal) error {
			_, err := s.MigrateInstance(ctx, p, "a", "https://api.flashpoint.io", "t")
			return err
		}},
		{"TestInstance", auth.UpdateFeedSource, func(p *auth.Principal) error { _, err := s.TestInstance(ctx, p, "a"); return err }},
		{"Channel", auth.ViewFeedSource, func(p *auth.Principal) error { _, err := s.Channel(ctx, p, ch); return err }},
		{"Channels", auth.ViewFeedSource, func(p *auth.Principal) error { _, err := s.Channels(ctx, p, ""); return err }},
		{"UpdateChannel", auth.UpdateFeedSource, func(p *auth.Principal) error {
			_, err := s.UpdateChannel(ctx, p, ch, service.ChannelEdit{})
			return err
		}},
		{"TestChannel", auth.UpdateFeedSource, func(p *auth.Principal) error { _, err := s.TestChannel(ctx, p, ch); return err }},
		{"StartPoll", auth.UpdateFeedSource, func(p *auth.Principal) error { _, err := s.StartPoll(ctx, p, ch); return err }},
		{"Runs", auth.ViewFeedSource, func(p *auth.Principal) error { _, err := s.Runs(ctx, p, ch, 10); return err }},
		{"CreateKey", auth.ManageKeys, func(p *auth.Principal) error {
			_, err := s.CreateKey(ctx, p, service.KeyInput{Name: "k", Role: "admin"})
			return err
		}},
		{"Keys", auth.ManageKeys, func(p *auth.Principal) error { _, err := s.Keys(ctx, p); return err }},
		{"RevokeKey", auth.ManageKeys, func(p *auth.Principal) error { _, _, err := s.RevokeKey(ctx, p, 1); return err }},
		{"AuditTrail", auth.ManageKeys, func(p *auth.Principal) error { _, _, err := s.AuditTrail(ctx, p, 0, 10); return err }},
		{"Search", auth.ReadIntel, func(p *auth.Principal) error { _, err := s.Search(ctx, p, store.Query{}); return err }},
		{"Object", auth.ReadIntel, func(p *auth.Principal) error { _, err := s.Object(ctx, p, 1); return err }},
		{"Vulnerability", auth.ReadIntel, func(p *auth.Principal) error { _, err := s.Vulnerability(ctx, p, 1); return err }},
		{"Lookup", auth.ReadIntel, func(p *auth.Principal) error { _, err := s.Lookup(ctx, p, []string{"1.2.3.4"}); return err }},
		{"Collections", auth.ViewAPIFeed, func(p *auth.Principal) error { _, err := s.Collections(ctx, p); return err }},
		{"TAXIICollections", auth.ReadIntel, func(p *auth.Principal) error { _, err := s.TAXIICollections(ctx, p); return err }},
		{"TAXIICollection", auth.ReadIntel, func(p *auth.Principal) error { _, err := s.TAXIICollection(ctx, p, "c"); return err }},
		{"TAXIIObjects", auth.ReadIntel, func(p *auth.Principal) error {
			_, err := s.TAXIIObjects(ctx, p, "c", taxii.Filter{Limit: 10})
			return err
		}},
		{"TAXIIVersions", auth.ReadIntel, func(p *auth.Principal) error {
			_, err := s.TAXIIVersions(ctx, p, "c", "indicator--x", taxii.Filter{Limit: 10})
			return err
		}},
		{"CreateUser", auth.ManageKeys, func(p *auth.Principal) error {
			_, err := s.CreateUser(ctx, p, service.UserInput{Name: "u", Role: "analyst", Password: "a long enough password"})
			return err
		}},
		{"SetPassword", auth.ManageKeys, func(p *auth.Principal) error { return s.SetPassword(ctx, p, "u", "a long enough password") }},
		{"Users", auth.ManageKeys, func(p *auth.Principal) error { _, err := s.Users(ctx, p); return err }},
		{"RemoveUser", auth.ManageKeys, func(p *auth.Principal) error { _, err := s.RemoveUser(ctx, p, "u"); return err }},
		{"MatchCMDB", auth.ReadIntel, func(p *auth.Principal) error { _, err := s.MatchCMDB(ctx, p, nil); return err }},
	}
	for _, c := range cases {
		if err := c.call(nil); intel.ErrorCode(err) != intel.EUNAUTHORIZED {
			t.Errorf("%s without a principal: %v, want %s", c.name, err, intel.EUNAUTHORIZED)
		}
		for _, role := range auth.Roles() {
			p := &auth.Principal{KeyID: 1, Name: "k", Role: role}
			if p.Can(c.perm) {
				continue
			}
			if err := c.call(p); intel.ErrorCode(err) != intel.EFORBIDDEN {
				t.Errorf("%s by role %s (without %s): %v, want %s", c.name, role, c.perm, err, intel.EFORBIDDEN)
			}
		}
	}
}

// The operator at the command line is an admin without a cap, named in
// the audit trail by the name it is given.
func TestOperator(t *testing.T) {
	p := auth.Operator("cli:alice")
	if p.Actor() != "cli:alice" || p.Cap() != "" || !p.MayMark() {
		t.Errorf("operator: actor %q, cap %q, may mark %v", p.Actor(), p.Cap(), p.MayMark())
	}
	for _, perm := range auth.AllPermissions() {
		if !p.Can(perm) {
			t.Errorf("operator lacks %s", perm)
		}
	}
	if k := (&auth.Principal{KeyID: 3, Name: "k", Role: auth.Analyst}); k.Actor() != "key:3 k" {
		t.Errorf("a key's actor is %q", k.Actor())
	}
}
