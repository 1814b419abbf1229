package store

import (
	"context"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
)

func TestUsersAndSessions(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		u, err := s.CreateUser(ctx, auth.User{Name: "Alice", Role: auth.Analyst, MaxTLP: intel.TLPAmber, CreatedBy: "cli:root"}, "hash-1")
		if err != nil || u.ID == 0 || u.Name != "Alice" || u.MaxTLP != intel.TLPAmber {
			t.Fatalf("create: %+v %v", u, err)
		}
		if _, err := s.CreateUser(ctx, auth.User{Name: "alice", Role: auth.Admin}, "h"); intel.ErrorCode(err) != intel.ECONFLICT {
			t.Errorf("a second alice: %v", err)
		}
		if _, err := s.CreateUser(ctx, auth.User{Name: "bad name", Role: auth.Admin}, "h"); intel.ErrorCode(err) != intel.EINVALID {
			t.Errorf("a name with a space: %v", err)
		}
		got, st, err := s.UserByName(ctx, "ALICE")
		if err != nil || got.ID != u.ID || st.Hash != "hash-1" || st.Failures != 0 {
			t.Fatalf("by name: %+v %+v %v", got, st, err)
		}
		if _, _, err := s.UserByName(ctx, "bob"); intel.ErrorCode(err) != intel.ENOTFOUND {
			t.Errorf("bob: %v", err)
		}
		for range 3 {
			if err := s.RecordSignIn(ctx, u.ID, false); err != nil {
				t.Fatal(err)
			}
		}
		if _, st, _ := s.UserByName(ctx, "alice"); st.Failures != 3 || !st.FailedAt.Equal(epoch) {
			t.Errorf("after three failures: %+v", st)
		}
		if err := s.RecordSignIn(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, st, _ := s.UserByName(ctx, "alice"); st.Failures != 0 || !st.FailedAt.IsZero() {
			t.Errorf("after a success: %+v", st)
		}
		// Sessions.
		if err := s.CreateSession(ctx, "h1", u.ID, "csrf-1"); err != nil {
			t.Fatal(err)
		}
		ss, err := s.SessionByHash(ctx, "h1")
		if err != nil || ss.User.ID != u.ID || ss.CSRF != "csrf-1" || ss.User.Role != auth.Analyst {
			t.Fatalf("session: %+v %v", ss, err)
		}
		if _, err := s.SessionByHash(ctx, "nope"); intel.ErrorCode(err) != intel.EUNAUTHORIZED {
			t.Errorf("no session: %v", err)
		}
		c.Add(time.Hour)
		if err := s.TouchSession(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, "h2", u.ID, "csrf-2"); err != nil {
			t.Fatal(err)
		}
		// A password change ends every session of the user.
		if err := s.SetPassword(ctx, "alice", "hash-2"); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"h1", "h2"} {
			if _, err := s.SessionByHash(ctx, h); intel.ErrorCode(err) != intel.EUNAUTHORIZED {
				t.Errorf("session %s after a password change: %v", h, err)
			}
		}
		if _, st, _ := s.UserByName(ctx, "alice"); st.Hash != "hash-2" {
			t.Errorf("hash %q", st.Hash)
		}
		// Expiry.
		s.CreateSession(ctx, "old", u.ID, "x")
		c.Add(time.Hour)
		s.CreateSession(ctx, "new", u.ID, "y")
		if n, err := s.DeleteExpiredSessions(ctx, c.Now().Add(-30*time.Minute), c.Now().Add(-12*time.Hour)); err != nil || n != 1 {
			t.Errorf("expired: %d %v", n, err)
		}
		if _, err := s.SessionByHash(ctx, "new"); err != nil {
			t.Errorf("the new session went: %v", err)
		}
		// Removal ends the sessions.
		if _, err := s.RemoveUser(ctx, "Alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionByHash(ctx, "new"); intel.ErrorCode(err) != intel.EUNAUTHORIZED {
			t.Errorf("a removed user's session: %v", err)
		}
		if us, err := s.Users(ctx); err != nil || len(us) != 0 {
			t.Errorf("users after removal: %v %v", us, err)
		}
	})
}
