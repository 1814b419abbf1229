package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/store/storetest"
)

// flint store copy moves a SQLite store in mid-life to PostgreSQL: the
// copy holds every object, instance (its token still sealed and usable),
// channel with its cursor, poll record, key, user, blocklist and audit
// record, new ids never reuse a removed one's, and polling on from the
// copy ends where polling on from the original does.
func TestStoreCopyToPostgres(t *testing.T) {
	pg := storetest.DSN(t, "postgres")
	s, up := upstream(t, sim.Config{Seed: 6, Reports: 6, Vulnerabilities: 80, Indicators: 1500,
		IndicatorWindow: 10 * 24 * time.Hour, VulnWindow: 10 * 24 * time.Hour, ReportWindow: 10 * 24 * time.Hour})
	dir := t.TempDir()
	run := func(dir, stdin string, args ...string) string { t.Helper(); return mustCLI(t, dir, stdin, args...) }
	run(dir, sim.DefaultToken+"\n", "instance", "add", "main", "--base-url", up)
	run(dir, sim.DefaultToken+"\n", "instance", "add", "gone", "--base-url", up)
	run(dir, "", "instance", "remove", "gone", "--yes")
	for _, ch := range []string{"indicators", "vulnerabilities", "reports"} {
		run(dir, "", "channel", "set", "main", ch, "--enable", "--schedule", "manual")
		run(dir, "", "channel", "poll", "main", ch)
	}
	key := run(dir, "", "apikey", "create", "--name", "siem", "--role", "analyst")
	t.Setenv("PW_ANA", "correct horse battery")
	run(dir, "", "user", "add", "ana", "--role", "analyst", "--password-env", "PW_ANA")
	run(dir, "", "edl", "add", "block", "--type", "ipv4")
	run(dir, "", "allow", "add", "192.0.2.1", "--note", "ours")

	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	open := func(dir, dsn string) *App {
		a, err := Open(ctx, dir, dsn, log)
		if err != nil {
			t.Fatal(err)
		}
		a.Scheduler.Addresses = &ignite.AddrPolicy{AllowLoopback: true}
		t.Cleanup(func() { a.Close() })
		return a
	}
	// Copy into a directory of its own with the same key, so that both
	// stores can poll on side by side.
	pdir := t.TempDir()
	keyFile, _ := os.ReadFile(filepath.Join(dir, "secret.key"))
	os.WriteFile(filepath.Join(pdir, "secret.key"), keyFile, 0o600)
	out, errs, code := cli(t, dir, "", "store", "copy", "--to", pg)
	if code != 0 || !strings.Contains(out, "copied") {
		t.Fatalf("store copy: %d %s %s", code, out, errs)
	}
	if strings.Contains(out+errs, "password") || strings.Contains(out+errs, pg) {
		t.Errorf("the output shows the DSN: %s %s", out, errs)
	}
	// A second copy into the same database is refused; nothing changes.
	if _, errs, code := cli(t, dir, "", "store", "copy", "--to", pg); code == 0 || !strings.Contains(errs, "not empty") {
		t.Errorf("copy into a database in use: %d %s", code, errs)
	}

	a, b := open(dir, ""), open(pdir, pg)
	if got, want := values(t, b.Store), values(t, a.Store); len(want) < 1500 || !slices.Equal(got, want) {
		t.Fatalf("the copy holds %d objects, the original %d", len(got), len(want))
	}
	op := auth.Operator("test")
	for _, kind := range []feed.Kind{feed.Indicators, feed.Vulnerabilities, feed.Reports} {
		ca, _ := a.Store.Channel(ctx, "main", kind)
		cb, err := b.Store.Channel(ctx, "main", kind)
		if err != nil || ca.ID != cb.ID || ca.Cursor != cb.Cursor || ca.Cursor == "" || !reflect.DeepEqual(ca.Settings, cb.Settings) ||
			ca.Health.Status != cb.Health.Status {
			t.Errorf("%s: copied %+v, original %+v (%v)", kind, cb, ca, err)
		}
		pa, _ := a.Store.Polls(ctx, ca.ID, 10)
		pb, _ := b.Store.Polls(ctx, cb.ID, 10)
		if len(pa) != 1 || len(pb) != 1 || pa[0].New != pb[0].New || pa[0].CursorAfter != pb[0].CursorAfter {
			t.Errorf("%s polls: %+v / %+v", kind, pb, pa)
		}
	}
	ka, _ := a.Service.Keys(ctx, op)
	kb, _ := b.Service.Keys(ctx, op)
	ua, _ := a.Service.Users(ctx, op)
	ub, _ := b.Service.Users(ctx, op)
	la, _ := a.Service.Lists(ctx, op)
	lb, _ := b.Service.Lists(ctx, op)
	ra, _, _ := a.Service.AuditTrail(ctx, op, 0, 500)
	rb, _, _ := b.Service.AuditTrail(ctx, op, 0, 500)
	for _, c := range []struct {
		what string
		a, b any
		n    int
	}{{"keys", ka, kb, len(ka)}, {"users", ua, ub, len(ua)}, {"lists", la, lb, len(la)}, {"audit", ra, rb, len(ra)}} {
		ja, _ := json.Marshal(c.a)
		jb, _ := json.Marshal(c.b)
		if c.n == 0 || string(ja) != string(jb) {
			t.Errorf("%s differ:\n%s\n%s", c.what, jb, ja)
		}
	}
	if _, err := b.Service.SignIn(ctx, "ana", "correct horse battery"); err != nil {
		t.Errorf("sign in on the copy: %v", err)
	}
	api := httptest.NewServer(b.HTTPServer(ctx).Handler)
	defer api.Close()
	req, _ := http.NewRequest("GET", api.URL+"/api/v1/instances", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("the key on the copy: %v %v", res, err)
	}
	// Ids go on past every id the original gave, the removed instance's
	// included.
	run(pdir, sim.DefaultToken+"\n", "--db", pg, "instance", "add", "third", "--base-url", up)
	third, err := b.Store.Instance(ctx, "third")
	if err != nil || third.ID <= 2 {
		t.Errorf("a new instance on the copy: %+v %v", third, err)
	}

	// Polling on: the token opens, and both stores end alike.
	s.Advance(24 * time.Hour)
	for _, app := range []*App{a, b} {
		for _, kind := range []feed.Kind{feed.Indicators, feed.Vulnerabilities, feed.Reports} {
			ch, _ := app.Store.Channel(ctx, "main", kind)
			r, err := app.Scheduler.Poll(ctx, ch, feed.TriggerManual)
			if err != nil || r.Outcome != feed.OutcomeOK {
				t.Fatalf("%s poll on %s: %+v %v", kind, app.Where(), r, err)
			}
		}
	}
	if got, want := values(t, b.Store), values(t, a.Store); !slices.Equal(got, want) {
		t.Errorf("after polling on: the copy holds %d objects, the original %d", len(got), len(want))
	}
}
