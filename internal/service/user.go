package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// Console users and their sessions.

// UserInput is a new user.
type UserInput struct {
	Name     string
	Role     string
	MaxTLP   string
	Password string
}

// CreateUser adds a console user. The creator grants no more than it holds:
// no permission it lacks, no wider TLP cap.
func (s *Service) CreateUser(ctx context.Context, p *auth.Principal, in UserInput) (auth.User, error) {
	if err := need(p, auth.ManageKeys); err != nil {
		return auth.User{}, err
	}
	u := auth.User{Name: in.Name, Role: auth.Role(in.Role), MaxTLP: intel.TLP(in.MaxTLP), CreatedBy: p.Actor()}
	if r, err := auth.ParseRole(in.Role); err == nil {
		u.Role = r
	}
	if in.MaxTLP != "" {
		if t, err := intel.ParseTLP(in.MaxTLP); err == nil {
			u.MaxTLP = t
		}
	}
	if err := u.Validate(); err != nil {
		return u, err
	}
	if err := p.Grants(auth.Key{Name: u.Name, Role: u.Role, MaxTLP: u.MaxTLP}); err != nil {
		return u, err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return u, err
	}
	if u, err = s.Store.CreateUser(ctx, u, hash); err != nil {
		return u, err
	}
	s.audit(ctx, p, "user.create", u.Name, map[string]any{"role": u.Role, "max_tlp": u.MaxTLP})
	return u, nil
}

// Users lists the console users.
func (s *Service) Users(ctx context.Context, p *auth.Principal) ([]auth.User, error) {
	if err := need(p, auth.ManageKeys); err != nil {
		return nil, err
	}
	us, err := s.Store.Users(ctx)
	if us == nil {
		us = []auth.User{}
	}
	return us, err
}

// SetPassword replaces a user's password, ending its sessions: an admin
// for anyone, a user for itself.
func (s *Service) SetPassword(ctx context.Context, p *auth.Principal, name, password string) error {
	if p == nil || p.UserID == 0 { // only a user may act for itself
		if err := need(p, auth.ManageKeys); err != nil {
			return err
		}
	}
	u, _, err := s.Store.UserByName(ctx, name)
	self := err == nil && p.UserID != 0 && p.UserID == u.ID
	if !self {
		if err := need(p, auth.ManageKeys); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	if !self {
		// An admin capped at a TLP may not take over a wider account.
		if err := p.Grants(auth.Key{Name: u.Name, Role: u.Role, MaxTLP: u.MaxTLP}); err != nil {
			return err
		}
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	if err := s.Store.SetPassword(ctx, name, hash); err != nil {
		return err
	}
	s.audit(ctx, p, "user.password", u.Name, nil)
	return nil
}

// RemoveUser removes a console user and ends its sessions.
func (s *Service) RemoveUser(ctx context.Context, p *auth.Principal, name string) (auth.User, error) {
	if err := need(p, auth.ManageKeys); err != nil {
		return auth.User{}, err
	}
	u, _, err := s.Store.UserByName(ctx, name)
	if err != nil {
		return u, err
	}
	if err := p.Grants(auth.Key{Name: u.Name, Role: u.Role, MaxTLP: u.MaxTLP}); err != nil {
		return u, err
	}
	if u, err = s.Store.RemoveUser(ctx, name); err != nil {
		return u, err
	}
	s.audit(ctx, p, "user.remove", u.Name, nil)
	return u, nil
}

// Session lifetimes.
const (
	SessionIdle     = 30 * time.Minute // a session unused this long ends
	SessionAbsolute = 12 * time.Hour   // and any session this old
)

// Failed sign-ins: after freeSignInFailures in a row, each attempt waits
// twice as long as the one before since the last failure, up to
// maxSignInWait.
const (
	freeSignInFailures = 5
	maxSignInWait      = 15 * time.Minute
)

// SignedIn is a new session: the cookie's value (given once; the store
// keeps its hash) and the token its forms carry.
type SignedIn struct {
	User   auth.User
	Cookie string
	CSRF   string
}

// dummyHash is checked against when no user has the name, so that a
// sign-in takes as long for a name that does not exist.
var dummyHash = sync.OnceValue(func() string {
	h, _ := auth.HashPassword("flint-no-such-user-password")
	return h
})

// SignIn checks a user's password and opens a session. Every failure says
// the same; a user with many failures in a row must wait before the next
// attempt is even checked.
func (s *Service) SignIn(ctx context.Context, name, password string) (SignedIn, error) {
	// One answer for every refusal, and the same work (a hash) behind it:
	// neither the message nor the time tells an existing name from
	// another, or a held-back account from a wrong password.
	bad := intel.Errorf(intel.EUNAUTHORIZED, "the user name or the password is wrong, or this account has had too many failed sign-ins (wait a few minutes)")
	u, st, err := s.Store.UserByName(ctx, name)
	if intel.ErrorCode(err) == intel.ENOTFOUND {
		auth.CheckPassword(dummyHash(), password)
		s.log().Warn("console: sign-in failed", "user", name, "reason", "no such user")
		return SignedIn{}, bad
	}
	if err != nil {
		return SignedIn{}, err
	}
	if wait := signInWait(st, s.now()); wait > 0 {
		auth.CheckPassword(dummyHash(), password)
		s.log().Warn("console: sign-in refused while the user waits", "user", u.Name, "failures", st.Failures, "wait", wait.Round(time.Second))
		return SignedIn{}, bad
	}
	if !auth.CheckPassword(st.Hash, password) {
		if err := s.Store.RecordSignIn(ctx, u.ID, false); err != nil {
			return SignedIn{}, err
		}
		s.audit(ctx, auth.UserPrincipal(u), "user.signin_failed", u.Name, map[string]any{"failures": st.Failures + 1})
		return SignedIn{}, bad
	}
	if err := s.Store.RecordSignIn(ctx, u.ID, true); err != nil {
		return SignedIn{}, err
	}
	out := SignedIn{User: u, Cookie: randomToken(), CSRF: randomToken()}
	if err := s.Store.CreateSession(ctx, sessionHash(out.Cookie), u.ID, out.CSRF); err != nil {
		return SignedIn{}, err
	}
	s.audit(ctx, auth.UserPrincipal(u), "user.signin", u.Name, nil)
	return out, nil
}

// signInWait is how long a user must wait before its next attempt.
func signInWait(st store.SignInState, now time.Time) time.Duration {
	if st.Failures < freeSignInFailures {
		return 0
	}
	wait := maxSignInWait
	if n := st.Failures - freeSignInFailures; n < 20 {
		wait = min(time.Second<<n, maxSignInWait)
	}
	return max(0, st.FailedAt.Add(wait).Sub(now))
}

// SessionOf returns the principal and CSRF token of a session cookie,
// ending the session when it is idle or old.
func (s *Service) SessionOf(ctx context.Context, cookie string) (*auth.Principal, string, error) {
	if cookie == "" || len(cookie) > 128 {
		return nil, "", intel.Errorf(intel.EUNAUTHORIZED, "sign in")
	}
	hash := sessionHash(cookie)
	ss, err := s.Store.SessionByHash(ctx, hash)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	if now.Sub(ss.Seen) > SessionIdle || now.Sub(ss.Created) > SessionAbsolute {
		if err := s.Store.DeleteSession(ctx, hash); err != nil {
			return nil, "", err
		}
		return nil, "", intel.Errorf(intel.EUNAUTHORIZED, "the session has ended: sign in again")
	}
	if now.Sub(ss.Seen) > time.Minute { // a read stays a read
		if err := s.Store.TouchSession(ctx, hash); err != nil {
			return nil, "", err
		}
	}
	return auth.UserPrincipal(ss.User), ss.CSRF, nil
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, p *auth.Principal, cookie string) error {
	if err := s.Store.DeleteSession(ctx, sessionHash(cookie)); err != nil {
		return err
	}
	if p != nil {
		s.audit(ctx, p, "user.signout", p.Name, nil)
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionHash(cookie string) string {
	sum := sha256.Sum256([]byte("flint-session:" + cookie))
	return hex.EncodeToString(sum[:])
}

// PurgeSessions removes the sessions past their idle or absolute lifetime
// (a session is also ended when it is next presented); flint serve runs it
// hourly.
func (s *Service) PurgeSessions(ctx context.Context) (int64, error) {
	now := s.now()
	return s.Store.DeleteExpiredSessions(ctx, now.Add(-SessionIdle), now.Add(-SessionAbsolute))
}
