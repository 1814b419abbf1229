//go:build !race

// The crash test runs without the race detector (make test runs it on its
// own): a 200,000-indicator poll under -race takes minutes per run.

package scheduler

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/store"
)

// TestCrashChild is the polling process of TestCrashSafety; it runs only
// when that test starts it.
func TestCrashChild(t *testing.T) {
	dsn := os.Getenv("FLINT_CRASH_DSN")
	if dsn == "" {
		t.Skip("started by TestCrashSafety only")
	}
	key, _ := base64.StdEncoding.DecodeString(os.Getenv("FLINT_CRASH_KEY"))
	box, err := secret.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, _ := strconv.ParseInt(os.Getenv("FLINT_CRASH_CHANNEL"), 10, 64)
	ch, err := st.ChannelByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	s := &Scheduler{Store: st, Box: box, Holder: "crash-child", Version: "test", PageSize: 1000,
		Client: func(o *ignite.Options) { o.RateLimit = -1 }}
	if _, err := s.Poll(context.Background(), ch, feed.TriggerManual); err != nil {
		t.Fatal(err)
	}
}

// Kill -9 the polling process at random moments, at least ten times, during
// a 200,000-indicator poll, restarting it each time: the store ends up equal
// to the ground truth, with no duplicates and no gaps.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a polling process many times")
	}
	forEachDialect(t, func(t *testing.T, dialect string) {
		cfg := sim.Config{Seed: 21, Indicators: 200_000, IndicatorWindow: 14 * 24 * time.Hour}
		cfg.Now = time.Now().UTC().Truncate(time.Second) // the child process runs on the real clock
		e := newEnvAt(t, dialect, cfg)
		e.addInstance(t, "crash", "good")
		ch := e.channel(t, "crash", feed.Indicators)
		key := make([]byte, 32)
		for i := range key {
			key[i] = 9 // the key newEnv's box uses
		}
		env := append(os.Environ(), "FLINT_CRASH_DSN="+e.dsn, "FLINT_CRASH_KEY="+base64.StdEncoding.EncodeToString(key),
			"FLINT_CRASH_CHANNEL="+strconv.FormatInt(ch.ID, 10))
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		kills, progress := 0, []string{}
		for kills < 10 {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = env
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("the poller failed on its own: %v", err)
				}
				t.Fatalf("the poll finished after %d kills; the test wants 10 during the poll (cursor %s)", kills, progress)
			case <-time.After(time.Duration(300+rng.IntN(900)) * time.Millisecond):
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				kills++
			}
			cur, _ := e.store.Cursor(context.Background(), ch.ID)
			progress = append(progress, cur)
		}
		// The last run goes to the end.
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("final poll: %v\n%s", err, out)
		}
		distinct := 0
		for i := 1; i < len(progress); i++ {
			if progress[i] != progress[i-1] {
				distinct++
			}
		}
		if distinct < 5 {
			t.Errorf("the cursor moved between only %d of the kills: %v", distinct, progress)
		}

		want := truthIDs(t, e.sim, ch.Settings.StartAt)
		got := storedIDs(t, e.store, ch.ID)
		if len(got) != len(want) || !slices.Equal(got, want) {
			missing, extra := 0, 0
			for _, id := range want {
				if _, ok := slices.BinarySearch(got, id); !ok {
					missing++
				}
			}
			for _, id := range got {
				if _, ok := slices.BinarySearch(want, id); !ok {
					extra++
				}
			}
			t.Fatalf("after %d kills: %d stored, %d in ground truth (%d missing, %d extra)", kills, len(got), len(want), missing, extra)
		}
		n, err := e.store.Count(context.Background(), store.Query{ChannelID: ch.ID})
		if err != nil || int(n) != len(want) {
			t.Errorf("%d objects for %d indicators: duplicates? %v", n, len(want), err)
		}
		runs, _ := e.store.Polls(context.Background(), ch.ID, 100)
		interrupted := 0
		for _, r := range runs {
			if r.ErrorCode == "interrupted" {
				interrupted++
			}
		}
		if len(runs) != kills+1 || interrupted != kills || runs[0].Outcome != feed.OutcomeOK {
			t.Errorf("%d poll records (%d interrupted) for %d kills; last %+v", len(runs), interrupted, kills, runs[0])
		}
		t.Logf("%s: %d indicators, %d kills, cursor moved %d times", dialect, len(want), kills, distinct)
	})
}

func truthIDs(t *testing.T, s *sim.Server, since time.Time) []string {
	t.Helper()
	tr, err := s.Truth(sim.DatasetIndicators, url.Values{"modified_after": {since.Format(time.RFC3339)}})
	if err != nil {
		t.Fatal(err)
	}
	ids := slices.Clone(tr.IDs)
	slices.Sort(ids)
	return ids
}

// storedIDs returns the Flashpoint ids of everything a channel stored, in order.
func storedIDs(t *testing.T, st *store.Store, channel int64) []string {
	t.Helper()
	var ids []string
	q := store.Query{ChannelID: channel, Limit: 1000}
	for {
		res, err := st.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			for _, p := range o.Sources {
				if p.ChannelID == channel {
					ids = append(ids, p.OriginalID)
				}
			}
		}
		if res.Next == "" {
			break
		}
		q.After = res.Next
	}
	slices.Sort(ids)
	return ids
}
