//go:build !race

// The crash test runs without the race detector (make test runs it on its
// own): a 200,000-indicator poll under -race takes minutes per run.

package scheduler

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/store/storetest"
	"github.com/flintcti/flint/internal/testenv"
)

// The crash test's child process reads its instructions from these.
const (
	envDSN     = "FLINT_CRASH_DSN"
	envKey     = "FLINT_CRASH_KEY"
	envChannel = "FLINT_CRASH_CHANNEL"
	envAt      = "FLINT_CRASH_AT"     // kill point: "fetched:N", "applied:N" or "committed:N"
	envBroken  = "FLINT_CRASH_BROKEN" // "1": poll through a deliberately broken write path
)

var pointNames = map[string]point{"fetched": fetchedPage, "applied": appliedPage, "committed": committedPages}

// TestCrashChild is the polling process of the crash tests; it runs only
// when one of them starts it. It kills itself with SIGKILL, exactly as kill
// -9 from outside would, the N-th time the poll reaches its kill point.
func TestCrashChild(t *testing.T) {
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		t.Skip("started by TestCrashSafety only")
	}
	key, _ := base64.StdEncoding.DecodeString(os.Getenv(envKey))
	box, err := secret.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, _ := strconv.ParseInt(os.Getenv(envChannel), 10, 64)
	ch, err := st.ChannelByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	// The default holder (host:pid): each child takes over the lease of the
	// one killed before it without waiting for it to lapse.
	s := &Scheduler{Store: st, Box: box, Version: "test", PageSize: 1000, Addresses: testenv.Loopback,
		Client: func(o *ignite.Options) { o.RateLimit = -1 }}
	if at := os.Getenv(envAt); at != "" {
		name, n, _ := strings.Cut(at, ":")
		want, ok := pointNames[name]
		count, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || count < 1 {
			t.Fatalf("bad %s %q", envAt, at)
		}
		var reached atomic.Int64
		s.at = func(p point) {
			if p == want && reached.Add(1) == count {
				syscall.Kill(os.Getpid(), syscall.SIGKILL) //nolint:errcheck // the process ends here
				select {}                                  // never return into the write path
			}
		}
	}
	if os.Getenv(envBroken) == "1" {
		brokenPoll(t, s, ch)
		return
	}
	if _, err := s.Poll(context.Background(), ch, feed.TriggerManual); err != nil {
		t.Fatal(err)
	}
}

// brokenPoll polls through a write path that commits each page's cursor
// before its objects: a crash between the two loses the page. It exists to
// show that the crash test catches such a loss.
func brokenPoll(t *testing.T, s *Scheduler, ch feed.Channel) {
	ctx := context.Background()
	lease, run, poll, src := startPoll(t, s, ch)
	for poll.More() {
		b, err := poll.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Store.ApplyPage(ctx, lease, store.Page{Source: src, Collection: ch.Settings.Collection, Cursor: b.Cursor}); err != nil {
			t.Fatal(err)
		}
		s.reach(committedPages)
		if _, err := s.Store.ApplyPage(ctx, lease, store.Page{Source: src, Collection: ch.Settings.Collection,
			Objects: b.Objects, Relationships: b.Relationships, Cursor: b.Cursor}); err != nil {
			t.Fatal(err)
		}
	}
	run.Outcome, run.Ended = feed.OutcomeOK, s.now()
	if err := s.Store.FinishPoll(ctx, run); err != nil {
		t.Fatal(err)
	}
}

// crashResult is what a crash run left in the store.
type crashResult struct {
	stored, truth  int
	missing, extra int
	objects        int64 // indicators the channel holds (one per indicator, or duplicates)
	techniques     int64 // attack patterns the indicators came with
	stalled        []string
	runs           []feed.PollRun
}

// crashRun polls a channel of cfg's simulator in child processes, each of
// which kills itself at the next of points; a last child polls to the end.
// It returns how the store compares with the simulator's ground truth. A
// kill after a commit must leave the cursor moved (stalled lists those
// that did not).
func crashRun(t *testing.T, dialect string, cfg sim.Config, points []string, broken bool) crashResult {
	t.Helper()
	cfg.Now = time.Now().UTC().Truncate(time.Second) // the child process runs on the real clock
	e := newEnvAt(t, dialect, cfg)
	e.addInstance(t, "crash", "good")
	ch := e.channel(t, "crash", feed.Indicators)
	key := make([]byte, 32)
	for i := range key {
		key[i] = 9 // the key newEnv's box uses
	}
	env := append(os.Environ(), envDSN+"="+e.dsn, envKey+"="+base64.StdEncoding.EncodeToString(key),
		envChannel+"="+strconv.FormatInt(ch.ID, 10))
	if broken {
		env = append(env, envBroken+"=1")
	}
	var res crashResult
	for _, at := range points {
		before, _ := e.store.Cursor(context.Background(), ch.ID)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(env, envAt+"="+at)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the poller was to die at %s; it ended with %v\n%s", at, err, out)
		}
		after, _ := e.store.Cursor(context.Background(), ch.ID)
		if strings.HasPrefix(at, "committed:") && after == before {
			res.stalled = append(res.stalled, at)
		}
	}
	// The last run goes to the end.
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("final poll: %v\n%s", err, out)
	}
	want := truthIDs(t, e.sim, ch.Settings.StartAt)
	got := storedIDs(t, e.store, ch.ID)
	res.truth, res.stored = len(want), len(got)
	for _, id := range want {
		if _, ok := slices.BinarySearch(got, id); !ok {
			res.missing++
		}
	}
	for _, id := range got {
		if _, ok := slices.BinarySearch(want, id); !ok {
			res.extra++
		}
	}
	var err error
	if res.objects, err = e.store.Count(context.Background(), store.Query{ChannelID: ch.ID, Types: intel.IndicatorTypes()}); err != nil {
		t.Fatal(err)
	}
	if res.techniques, err = e.store.Count(context.Background(), store.Query{ChannelID: ch.ID, Types: []intel.Type{intel.AttackPattern}}); err != nil {
		t.Fatal(err)
	}
	if res.runs, err = e.store.Polls(context.Background(), ch.ID, 100); err != nil {
		t.Fatal(err)
	}
	return res
}

// crashPoints are where TestCrashSafety's pollers die: after the N-th page
// fetched (nothing of it written), after the N-th page written in an open
// transaction (not committed), and after the N-th commit (before the next
// request). The first transaction of a poll commits its first page, so a
// kill after a commit always follows progress.
var crashPoints = []string{
	"committed:1", "applied:2", "fetched:4", "committed:2", "applied:1",
	"applied:3", "committed:3", "fetched:2", "committed:1", "applied:4",
}

// Kill -9 the polling process at ten points of its write path during a
// 200,000-indicator poll, restarting it each time: the store ends up equal
// to the ground truth, with no duplicates and no gaps, and every poll is
// recorded.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a polling process many times")
	}
	forEachDialect(t, func(t *testing.T, dialect string) {
		cfg := sim.Config{Seed: 21, Indicators: 200_000, IndicatorWindow: 14 * 24 * time.Hour}
		r := crashRun(t, dialect, cfg, crashPoints, false)
		kills := len(crashPoints)
		if len(r.stalled) > 0 {
			t.Errorf("the cursor did not move before the kills at %v", r.stalled)
		}
		if r.missing > 0 || r.extra > 0 || r.stored != r.truth {
			t.Fatalf("after %d kills: %d stored, %d in ground truth (%d missing, %d extra)", kills, r.stored, r.truth, r.missing, r.extra)
		}
		if int(r.objects) != r.truth {
			t.Errorf("%d objects for %d indicators: duplicates?", r.objects, r.truth)
		}
		interrupted, added := 0, 0
		for _, run := range r.runs {
			if run.ErrorCode == "interrupted" {
				interrupted++
			}
			added += run.New
		}
		if len(r.runs) != kills+1 || interrupted != kills || r.runs[0].Outcome != feed.OutcomeOK {
			t.Errorf("%d poll records (%d interrupted) for %d kills; last %+v", len(r.runs), interrupted, kills, r.runs[0])
		}
		// Each record counts what its poll committed, killed or not: the new
		// objects of all of them are the ground truth, each counted once.
		if added != r.truth+int(r.techniques) {
			t.Errorf("the poll records count %d new objects in all; %d indicators and %d attack patterns were stored", added, r.truth, r.techniques)
		}
		t.Logf("%s: %d indicators, %d kills", dialect, r.truth, kills)
	})
}

// The crash test catches a write path that can lose a page: the same run
// over a poller that commits each cursor before its objects finds the gap.
func TestCrashSafetyCatchesALossyWritePath(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a polling process")
	}
	cfg := sim.Config{Seed: 21, Indicators: 20_000, IndicatorWindow: 14 * 24 * time.Hour}
	r := crashRun(t, storetest.Dialects[0], cfg, []string{"committed:2", "committed:3", "committed:1"}, true)
	if r.missing == 0 {
		t.Fatalf("the crash test did not notice the lost pages: %d stored of %d", r.stored, r.truth)
	}
	t.Logf("the lossy write path lost %d of %d indicators over 3 kills", r.missing, r.truth)
}
