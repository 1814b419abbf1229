package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite/sim"
)

// cli runs flint with args against a data directory and returns stdout,
// stderr and the exit code.
func cli(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := RunIO(context.Background(), append([]string{"--data-dir", dir, "--log-level", "warn", "--upstream-loopback"}, args...),
		strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// upstream starts a simulator of cfg over loopback for the test, its clock
// now (to the second) unless cfg sets one, and returns it with its URL.
func upstream(t *testing.T, cfg sim.Config) (*sim.Server, string) {
	t.Helper()
	if cfg.Now.IsZero() {
		cfg.Now = time.Now().UTC().Truncate(time.Second)
	}
	s := sim.New(cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// mustCLI runs flint like cli and fails the test unless it exits 0; it
// returns the standard output, trimmed.
func mustCLI(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	out, errs, code := cli(t, dir, stdin, args...)
	if code != 0 {
		t.Fatalf("flint %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return strings.TrimSpace(out)
}

func TestInstanceAndChannelCommands(t *testing.T) {
	s := sim.New(sim.Config{Seed: 2, Reports: 10, Vulnerabilities: 60, Indicators: 800, Now: time.Now().UTC().Truncate(time.Second),
		IndicatorWindow: 20 * 24 * time.Hour, VulnWindow: 20 * 24 * time.Hour, ReportWindow: 20 * 24 * time.Hour})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	dir := t.TempDir()

	// Add: the token comes from stdin, never from a flag, and never shows.
	out, errs, code := cli(t, dir, sim.DefaultToken+"\n", "instance", "add", "Prod", "--base-url", srv.URL)
	if code != 0 || !strings.Contains(out, "instance Prod added") {
		t.Fatalf("add: %d %s %s", code, out, errs)
	}
	if _, errs, code = cli(t, dir, "x\n", "instance", "add", "prod", "--base-url", srv.URL); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("duplicate name: %d %s", code, errs)
	}
	if _, errs, code = cli(t, dir, "x\n", "instance", "add", "Other", "--base-url", "http://example.com"); code == 0 || !strings.Contains(errs, "plain http") {
		t.Errorf("plain http to a remote host: %d %s", code, errs)
	}
	out, _, _ = cli(t, dir, "", "--json", "instance", "list")
	var ins []feed.Instance
	if err := json.Unmarshal([]byte(out), &ins); err != nil || len(ins) != 1 || ins[0].TokenHint == "" {
		t.Fatalf("list: %s %v", out, err)
	}
	if strings.Contains(out, sim.DefaultToken) {
		t.Errorf("the token shows in the listing: %s", out)
	}
	key, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || key.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v", err)
	}
	db, _ := os.ReadFile(filepath.Join(dir, "flint.db"))
	if bytes.Contains(db, []byte(sim.DefaultToken)) {
		t.Error("the token is stored in clear")
	}

	// Settings: a refused change names the field and leaves everything as it was.
	if _, errs, code = cli(t, dir, "", "channel", "set", "prod", "indicators", "--interval", "100", "--tlp", "green"); code == 0 ||
		!strings.Contains(errs, "interval_minutes 100 is out of range 240–10080") {
		t.Errorf("interval 100: %d %s", code, errs)
	}
	out, _, _ = cli(t, dir, "", "--json", "channel", "show", "prod", "indicators")
	var ch feed.Channel
	if err := json.Unmarshal([]byte(out), &ch); err != nil || ch.Settings.TLP != "amber" || ch.Settings.IntervalMinutes != 240 || ch.Settings.Enabled {
		t.Fatalf("after a refused change: %s %v", out, err)
	}
	// Every bad flag at once, as the API reports every bad field.
	if _, errs, code = cli(t, dir, "", "channel", "set", "prod", "indicators", "--interval", "100", "--tlp", "purple",
		"--start-at", "yesterday", "--confidence", "101"); code == 0 || !strings.Contains(errs, "interval_minutes 100") ||
		!strings.Contains(errs, `tlp "purple"`) || !strings.Contains(errs, `"yesterday"`) || !strings.Contains(errs, "confidence 101") {
		t.Errorf("four bad flags: %d %s", code, errs)
	}
	if _, errs, code = cli(t, dir, "", "channel", "set", "prod", "indicators", "--schedule", "manual", "--interval", "5"); code == 0 ||
		!strings.Contains(errs, "interval_minutes 5") {
		t.Errorf("a manual channel's interval is checked too: %d %s", code, errs)
	}
	if out, errs, code = cli(t, dir, "", "channel", "set", "prod", "indicators", "--enable", "--tlp", "green", "--confidence", "70",
		"--tag", "fp", "--tag", "ioc", "--deprecate-after", "30"); code != 0 {
		t.Fatalf("set: %d %s %s", code, out, errs)
	}
	if _, errs, _ = cli(t, dir, "", "channel", "set", "prod", "reports", "--interval", "600"); !strings.Contains(errs, "at least 1440 minutes is advised") {
		t.Errorf("reports below a day: %s", errs)
	}

	// Poll, runs, test.
	out, errs, code = cli(t, dir, "", "channel", "poll", "prod", "indicators")
	if code != 0 || !strings.Contains(out, "Prod/indicators: ok") {
		t.Fatalf("poll: %d %s %s", code, out, errs)
	}
	out, _, _ = cli(t, dir, "", "--json", "channel", "runs", "prod", "indicators")
	var runs []feed.PollRun
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 || runs[0].New == 0 || runs[0].Outcome != feed.OutcomeOK {
		t.Fatalf("runs: %s %v", out, err)
	}
	if out, _, code = cli(t, dir, "", "instance", "test", "prod"); code != 0 || strings.Count(out, "running") != 3 {
		t.Errorf("test: %d %s", code, out)
	}

	// Turning TLS verification off warns, as adding an instance without it does.
	if _, errs, code = cli(t, dir, "", "instance", "update", "prod", "--no-verify-tls"); code != 0 || !strings.Contains(errs, "TLS verification is off") {
		t.Errorf("update --no-verify-tls: %d %s", code, errs)
	}
	if _, errs, _ = cli(t, dir, "", "instance", "update", "prod", "--verify-tls"); strings.Contains(errs, "TLS verification is off") {
		t.Errorf("update --verify-tls warns: %s", errs)
	}

	// The stored token never follows the base URL to another host.
	elsewhere := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	if _, errs, code = cli(t, dir, "", "instance", "update", "prod", "--base-url", elsewhere); code == 0 || !strings.Contains(errs, "give the token again") {
		t.Errorf("a new host without the token: %d %s", code, errs)
	}

	// A wrong token: every channel in connection_error 401, exit status 1.
	if _, errs, code = cli(t, dir, "wrong-token\n", "instance", "update", "prod", "--new-token"); code != 0 {
		t.Fatalf("update token: %s", errs)
	}
	out, _, code = cli(t, dir, "", "instance", "test", "prod")
	if code != 1 || strings.Count(out, "connection error 401") != 3 {
		t.Errorf("bad token: %d %s", code, out)
	}
	if _, _, code = cli(t, dir, "", "channel", "poll", "prod", "indicators"); code != 1 {
		t.Errorf("a failed poll must exit 1, got %d", code)
	}

	// Migration: new base URL and token in one step; channels, cursors and history stay.
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(sim.DefaultToken+"\n"), 0o600)
	out, errs, code = cli(t, dir, "", "instance", "migrate", "prod", "--base-url", srv.URL+"/", "--token-file", tokenFile)
	if code != 0 || !strings.Contains(out, "history kept") || strings.Count(out, "running") != 3 {
		t.Fatalf("migrate: %d %s %s", code, out, errs)
	}
	out, _, _ = cli(t, dir, "", "--json", "channel", "runs", "prod", "indicators")
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 2 {
		t.Errorf("history after migration: %s", out)
	}
	out, _, _ = cli(t, dir, "", "channel", "list")
	if !strings.Contains(out, "Prod Indicators") || strings.Count(out, "running") < 1 {
		t.Errorf("channel list:\n%s", out)
	}
	// Removal takes the exact name, and --yes without a terminal.
	if _, errs, code = cli(t, dir, "", "instance", "remove", "PROD", "--yes"); code == 0 || !strings.Contains(errs, `did you mean "Prod"`) {
		t.Errorf("remove by another case: %d %s", code, errs)
	}
	if _, errs, code = cli(t, dir, "", "instance", "remove", "Prod"); code == 0 || !strings.Contains(errs, "--yes") {
		t.Errorf("remove without a terminal or --yes: %d %s", code, errs)
	}
	if out, _, code = cli(t, dir, "", "instance", "remove", "Prod", "--yes"); code != 0 || !strings.Contains(out, "stays") {
		t.Errorf("remove: %d %s", code, out)
	}
}
