package service_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newService(t *testing.T) (*service.Service, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	s, err := store.Open(context.Background(), store.Options{DSN: filepath.Join(t.TempDir(), "f.db"), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &service.Service{Store: s, Now: c.now}, c
}

// Sign-in: the right password opens a session; wrong ones say the same
// as an unknown name; five in a row make the next attempt wait, doubling;
// idle and old sessions end; a password change ends the sessions.
func TestSignInAndSessions(t *testing.T) {
	svc, c := newService(t)
	ctx := context.Background()
	op := auth.Operator("root")
	if _, err := svc.CreateUser(ctx, op, service.UserInput{Name: "alice", Role: "analyst", MaxTLP: "green", Password: "a long enough password"}); err != nil {
		t.Fatal(err)
	}
	in, err := svc.SignIn(ctx, "alice", "a long enough password")
	if err != nil || in.Cookie == "" || in.CSRF == "" || in.Cookie == in.CSRF {
		t.Fatalf("sign in: %+v %v", in, err)
	}
	p, csrf, err := svc.SessionOf(ctx, in.Cookie)
	if err != nil || csrf != in.CSRF || p.Name != "alice" || p.Cap() != intel.TLPGreen || p.Actor() != "user:alice" {
		t.Fatalf("session: %+v %q %v", p, csrf, err)
	}
	_, errUnknown := svc.SignIn(ctx, "nobody", "a long enough password")
	_, errWrong := svc.SignIn(ctx, "alice", "not the password!")
	if intel.ErrorMessage(errUnknown) != intel.ErrorMessage(errWrong) || intel.ErrorCode(errWrong) != intel.EUNAUTHORIZED {
		t.Errorf("an unknown name and a wrong password differ: %v / %v", errUnknown, errWrong)
	}
	for range 4 {
		svc.SignIn(ctx, "alice", "not the password!")
	}
	// Five failures: even the right password is refused for a second, with
	// the same message as a wrong one.
	if _, err := svc.SignIn(ctx, "alice", "a long enough password"); intel.ErrorMessage(err) != intel.ErrorMessage(errWrong) {
		t.Fatalf("after five failures: %v", err)
	}
	c.add(time.Second)
	if _, err := svc.SignIn(ctx, "alice", "not the password!"); err == nil { // the sixth failure: two seconds
		t.Fatal("a wrong password passed")
	}
	c.add(time.Second)
	if _, err := svc.SignIn(ctx, "alice", "a long enough password"); err == nil {
		t.Errorf("after six failures and a second: signed in")
	}
	c.add(time.Second)
	in2, err := svc.SignIn(ctx, "alice", "a long enough password")
	in2At := c.now()
	if err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	// Idle expiry: a session unused for SessionIdle ends; using it keeps it.
	c.add(service.SessionIdle - time.Minute)
	if _, _, err := svc.SessionOf(ctx, in2.Cookie); err != nil {
		t.Fatalf("a session used within its idle time: %v", err)
	}
	c.add(service.SessionIdle - time.Minute)
	if _, _, err := svc.SessionOf(ctx, in.Cookie); intel.ErrorCode(err) != intel.EUNAUTHORIZED {
		t.Errorf("an idle session: %v", err)
	}
	if _, _, err := svc.SessionOf(ctx, in2.Cookie); err != nil {
		t.Errorf("the used session ended: %v", err)
	}
	// Absolute expiry, however busy.
	for !c.now().After(in2At.Add(service.SessionAbsolute)) {
		c.add(20 * time.Minute)
		svc.SessionOf(ctx, in2.Cookie)
	}
	if _, _, err := svc.SessionOf(ctx, in2.Cookie); intel.ErrorCode(err) != intel.EUNAUTHORIZED {
		t.Errorf("a session past its absolute lifetime: %v", err)
	}
	// A user sets its own password; its sessions end.
	in3, _ := svc.SignIn(ctx, "alice", "a long enough password")
	self, _, _ := svc.SessionOf(ctx, in3.Cookie)
	if err := svc.SetPassword(ctx, self, "alice", "another long password"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SessionOf(ctx, in3.Cookie); err == nil {
		t.Error("the session outlived the password change")
	}
	// ... but not another's, and an analyst adds no users.
	if _, err := svc.CreateUser(ctx, op, service.UserInput{Name: "bob", Role: "admin", Password: "bob's long password"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetPassword(ctx, self, "bob", "taken over password"); intel.ErrorCode(err) != intel.EFORBIDDEN {
		t.Errorf("alice set bob's password: %v", err)
	}
	if _, err := svc.CreateUser(ctx, self, service.UserInput{Name: "eve", Role: "admin", Password: "eve's long password"}); intel.ErrorCode(err) != intel.EFORBIDDEN {
		t.Errorf("an analyst added a user: %v", err)
	}
	// A capped admin adds no uncapped user.
	capped := &auth.Principal{UserID: 99, Name: "capped", Role: auth.Admin, MaxTLP: intel.TLPAmber}
	if _, err := svc.CreateUser(ctx, capped, service.UserInput{Name: "wide", Role: "analyst", Password: "wide long password"}); intel.ErrorCode(err) != intel.EFORBIDDEN {
		t.Errorf("a capped admin added an uncapped user: %v", err)
	}
	if err := svc.SetPassword(ctx, capped, "bob", "taken over password"); intel.ErrorCode(err) != intel.EFORBIDDEN {
		t.Errorf("a capped admin took over an uncapped admin: %v", err)
	}
}

// PurgeSessions removes the sessions idle too long, and keeps the others.
func TestPurgeSessions(t *testing.T) {
	svc, c := newService(t)
	ctx := context.Background()
	if _, err := svc.CreateUser(ctx, auth.Operator("root"), service.UserInput{Name: "al", Role: "analyst", Password: "a long enough password"}); err != nil {
		t.Fatal(err)
	}
	idle, _ := svc.SignIn(ctx, "al", "a long enough password")
	used, _ := svc.SignIn(ctx, "al", "a long enough password")
	c.add(service.SessionIdle / 2)
	svc.SessionOf(ctx, used.Cookie)
	c.add(service.SessionIdle/2 + time.Minute)
	if n, err := svc.PurgeSessions(ctx); err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	if _, _, err := svc.SessionOf(ctx, used.Cookie); err != nil {
		t.Errorf("the used session went: %v", err)
	}
	if _, _, err := svc.SessionOf(ctx, idle.Cookie); err == nil {
		t.Error("the idle session stayed")
	}
}

// The CMDB matcher keeps its product catalogue between matches, and sees
// a product stored since.
func TestCMDBMatchSeesNewProducts(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	op := auth.Operator("root")
	write := func(cursor, cve, product string) {
		l, err := svc.Store.AcquireLease(ctx, 9, "test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
		sw := intel.Object{Type: intel.Software, Value: "acme:" + product, TLP: intel.TLPClear, Confidence: 100, Created: at, Modified: at,
			Details: intel.Details{Software: &intel.SoftwareDetail{Vendor: "Acme", Product: product}}}
		v := intel.Object{Type: intel.Vulnerability, Value: cve, TLP: intel.TLPClear, Confidence: 100, Created: at, Modified: at,
			Details: intel.Details{Vulnerability: &intel.VulnerabilityDetail{Products: []intel.ProductRef{{Vendor: "Acme", Product: product, Versions: []string{"1.0"}}}}}}
		if _, err := svc.Store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: 9, Instance: "t", Channel: "vulnerabilities"},
			Collection: "v", Cursor: cursor, Objects: []intel.Object{v, sw},
			Relationships: []intel.Relationship{{Source: v.Ref(), Type: intel.RelHas, Target: sw.Ref()}}}); err != nil {
			t.Fatal(err)
		}
		if err := svc.Store.ReleaseLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	match := func(product string) int {
		m, err := svc.MatchCMDB(ctx, op, []cmdb.Asset{{Asset: "h", Vendor: "Acme", Product: product, Version: "1.0"}})
		if err != nil {
			t.Fatal(err)
		}
		return m.Summary.Matches
	}
	write("1", "CVE-2026-0001", "Widget")
	if n := match("Widget"); n != 1 {
		t.Fatalf("Widget: %d matches", n)
	}
	if n := match("Gadget"); n != 0 {
		t.Fatalf("Gadget before it is stored: %d matches", n)
	}
	write("2", "CVE-2026-0002", "Gadget")
	if n := match("Gadget"); n != 1 {
		t.Errorf("Gadget once stored: %d matches (a stale catalogue?)", n)
	}
}

// An asset matching more than cmdb.MaxMatches vulnerabilities keeps the
// strongest, highest scored, and says it was cut; its exposures are
// bounded the same way.
func TestMatchesPerAssetAreBounded(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	op := auth.Operator("root")
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	sw := intel.Object{Type: intel.Software, Value: "acme:widget", TLP: intel.TLPClear, Confidence: 100, Created: at, Modified: at,
		Details: intel.Details{Software: &intel.SoftwareDetail{Vendor: "Acme", Product: "Widget"}}}
	objs := []intel.Object{sw}
	var rels []intel.Relationship
	n := cmdb.MaxMatches + 5
	for i := range n {
		score := float64(i%100) / 10
		v := intel.Object{Type: intel.Vulnerability, Value: fmt.Sprintf("CVE-2026-%05d", i), TLP: intel.TLPClear, Confidence: 100, Created: at,
			Modified: at, Details: intel.Details{Vulnerability: &intel.VulnerabilityDetail{CVSSv3: &intel.CVSS{Version: "3.1", Score: score},
				Products: []intel.ProductRef{{Vendor: "Acme", Product: "Widget", Versions: []string{"1.0"}}}}}}
		objs = append(objs, v)
		rels = append(rels, intel.Relationship{Source: v.Ref(), Type: intel.RelHas, Target: sw.Ref()})
	}
	l, err := svc.Store.AcquireLease(ctx, 9, "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: 9, Instance: "t", Channel: "vulnerabilities"},
		Collection: "v", Cursor: "1", Objects: objs, Relationships: rels}); err != nil {
		t.Fatal(err)
	}
	m, err := svc.MatchCMDB(ctx, op, []cmdb.Asset{{Asset: "h", Vendor: "Acme", Product: "Widget", Version: "1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Results[0]
	if len(r.Matches) != cmdb.MaxMatches || !r.Truncated || *r.Matches[0].CVSSv3 != 9.9 {
		t.Fatalf("%d matches, truncated %v, first %v", len(r.Matches), r.Truncated, *r.Matches[0].CVSSv3)
	}
	for i := 1; i < len(r.Matches); i++ {
		if *r.Matches[i].CVSSv3 > *r.Matches[i-1].CVSSv3 {
			t.Fatalf("match %d scores %v after %v: the kept are not the highest scored", i, *r.Matches[i].CVSSv3, *r.Matches[i-1].CVSSv3)
		}
	}
	if _, err := svc.ImportInventory(ctx, op, []cmdb.Asset{{AssetID: "h", Vendor: "Acme", Product: "Widget", Version: "1.0"}}, false); err != nil {
		t.Fatal(err)
	}
	xs, err := svc.Exposures(ctx, op, store.ExposureQuery{Limit: 1000, After: 0})
	more, _ := svc.Exposures(ctx, op, store.ExposureQuery{Limit: 1000, After: xs[len(xs)-1].ID})
	if err != nil || len(xs)+len(more) != cmdb.MaxMatches {
		t.Errorf("%d exposures for one asset: %v", len(xs)+len(more), err)
	}
}
