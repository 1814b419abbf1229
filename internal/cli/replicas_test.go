package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/store/storetest"
)

const envReplicaArgs = "FLINT_REPLICA_ARGS"

// TestReplicaChild is one flint serve of TestReplicas, in a process of its
// own; it runs only when that test starts it. SIGTERM stops it as it stops
// the real binary.
func TestReplicaChild(t *testing.T) {
	raw := os.Getenv(envReplicaArgs)
	if raw == "" {
		t.Skip("started by TestReplicas only")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// replica is a flint serve process of the test.
type replica struct {
	cmd  *exec.Cmd
	base string // http://host:port
	done chan error
}

// startChild starts flint with args in a process of its own (through
// TestReplicaChild), its log in logDir, and returns once it prints the
// address it serves on.
func startChild(t *testing.T, logDir string, args ...string) *replica {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplicaChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envReplicaArgs+"="+string(raw))
	stdout, _ := cmd.StdoutPipe()
	logf, _ := os.Create(filepath.Join(logDir, fmt.Sprintf("replica-%d.log", time.Now().UnixNano())))
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, done: make(chan error, 1)}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "flint serving on "); ok {
			r.base, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	go func() { r.done <- cmd.Wait(); logf.Close() }()
	if r.base == "" {
		t.Fatalf("a replica printed no address")
	}
	return r
}

// requestLog records when each request reached an upstream.
type requestLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.times = append(l.times, time.Now())
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// most returns the largest number of requests within any window.
func (l *requestLog) most(window time.Duration) int {
	l.mu.Lock()
	ts := slices.Clone(l.times)
	l.mu.Unlock()
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= window {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// Three flint serve processes on one PostgreSQL share the polls: each poll
// runs in one of them at a time, the polls spread over them, the API
// answers from each; a replica killed (-9) mid-poll and one stopped with
// SIGTERM mid-poll (exit 0, lease released, the poll marked interrupted)
// are taken over by the others from the cursor; the upstream limit of each
// instance and the API's per-key limit hold across replicas; and the store
// ends equal to the simulators' ground truth.
func TestReplicas(t *testing.T) {
	pg := storetest.DSN(t, "postgres")
	now := time.Now().UTC().Truncate(time.Second)
	type upstream struct {
		sim *sim.Server
		log *requestLog
		url string
	}
	var ups []upstream
	for i, name := range []string{"alpha", "beta"} {
		s := sim.New(sim.Config{Seed: int64(20 + i), Reports: 12, Vulnerabilities: 160, Indicators: 20000, Now: now,
			IndicatorWindow: 20 * 24 * time.Hour, VulnWindow: 20 * 24 * time.Hour, ReportWindow: 20 * 24 * time.Hour})
		// Slow indicator pages keep the indicator polls long enough to be
		// cut in their middle.
		s.SetFault(sim.EPIndicators, sim.Fault{Latency: sim.Duration(80 * time.Millisecond)})
		l := &requestLog{}
		srv := httptest.NewServer(l.wrap(s.Handler()))
		defer srv.Close()
		ups = append(ups, upstream{s, l, srv.URL})
		_ = name
	}
	dir := t.TempDir()
	run := func(stdin string, args ...string) string {
		t.Helper()
		return mustCLI(t, dir, stdin, append([]string{"--db", pg}, args...)...)
	}
	kinds := []string{"indicators", "vulnerabilities", "reports"}
	for i, name := range []string{"alpha", "beta"} {
		run(sim.DefaultToken+"\n", "instance", "add", name, "--base-url", ups[i].url)
		for _, k := range kinds {
			run("", "channel", "set", name, k, "--enable", "--schedule", "auto", "--interval", "10080")
		}
	}
	reader := run("", "apikey", "create", "--name", "reader", "--role", "analyst")
	limited := run("", "apikey", "create", "--name", "limited", "--role", "analyst")

	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DSN: pg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	chs, err := st.Channels(ctx, "")
	if err != nil || len(chs) != 6 {
		t.Fatalf("channels: %d %v", len(chs), err)
	}
	// Every channel due now.
	for _, ch := range chs {
		if err := st.SaveHealth(ctx, ch.ID, ch.Health, time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
	}

	// Three replicas.
	const burst = 12
	start := func() *replica {
		return startChild(t, dir, "--data-dir", dir, "--db", pg, "--log-level", "info", "--upstream-loopback", "serve", "--listen", "127.0.0.1:0",
			"--lease-ttl", "10s", "--scheduler-tick", "200ms", "--rate-limit", "0.001", "--rate-burst", strconv.Itoa(burst))
	}
	replicas := []*replica{start(), start(), start()}
	defer func() {
		for _, r := range replicas {
			r.cmd.Process.Kill()
		}
	}()
	byPID := func(holder string) *replica {
		_, pid, _ := strings.Cut(holder, ":")
		for _, r := range replicas {
			if strconv.Itoa(r.cmd.Process.Pid) == pid {
				return r
			}
		}
		return nil
	}

	// The API answers from each replica; the key's limit is one for all.
	get := func(r *replica, key string) int {
		req, _ := http.NewRequest("GET", r.base+"/api/v1/instances", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for _, r := range replicas {
		if code := get(r, reader); code != http.StatusOK {
			t.Errorf("%s answers %d", r.base, code)
		}
	}
	ok := 0
	for i := range 3 * burst {
		switch code := get(replicas[i%3], limited); code {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("limited key: %d", code)
		}
	}
	if ok != burst {
		t.Errorf("the key's burst of %d let %d requests through three replicas", burst, ok)
	}

	// runningPoll waits for a poll running with a page committed in a live
	// replica, other than those in skip.
	alive := map[*replica]bool{replicas[0]: true, replicas[1]: true, replicas[2]: true}
	runningPoll := func() (feed.Channel, feed.PollRun, *replica) {
		for {
			for _, ch := range chs {
				ps, err := st.Polls(ctx, ch.ID, 1)
				if err != nil {
					t.Fatal(err)
				}
				if len(ps) == 1 && ps[0].Outcome == feed.OutcomeRunning && ps[0].Pages >= 1 {
					if r := byPID(ps[0].Holder); r != nil && alive[r] {
						return ch, ps[0], r
					}
				}
			}
			if allDone(t, st, chs) {
				t.Fatal("every poll ended before one could be cut: make the polls longer")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// kill -9 a replica in the middle of a poll.
	killedCh, killedRun, victim := runningPoll()
	victim.cmd.Process.Signal(syscall.SIGKILL)
	<-victim.done
	alive[victim] = false
	t.Logf("killed %s during poll %d of channel %d (%d pages in)", victim.base, killedRun.ID, killedCh.ID, killedRun.Pages)

	// SIGTERM another in the middle of a poll: it exits 0, its poll is
	// recorded interrupted, its lease released.
	termCh, termRun, stopped := runningPoll()
	stopped.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-stopped.done; err != nil {
		t.Errorf("SIGTERM: the replica exited with %v", err)
	}
	alive[stopped] = false
	if holder, _ := st.LeaseHolder(ctx, termCh.ID); holder == termRun.Holder {
		t.Errorf("the stopped replica still holds the lease of channel %d", termCh.ID)
	}
	if ps, _ := st.Polls(ctx, termCh.ID, 5); !slices.ContainsFunc(ps, func(p feed.PollRun) bool {
		return p.ID == termRun.ID && p.ErrorCode == "interrupted" && p.Pages >= termRun.Pages
	}) {
		t.Errorf("the stopped poll's record: %+v", ps)
	}

	// The last replica finishes everything.
	for !allDone(t, st, chs) {
		select {
		case err := <-replicas[0].done:
			if alive[replicas[0]] {
				t.Fatalf("a live replica exited: %v", err)
			}
		case <-time.After(50 * time.Millisecond):
		}
	}

	// One poll at a time per channel; the polls spread over the replicas;
	// the cut ones were resumed by another.
	holders := map[string]bool{}
	for _, ch := range chs {
		ps, _ := st.Polls(ctx, ch.ID, 50)
		slices.Reverse(ps) // oldest first
		for i, p := range ps {
			holders[p.Holder] = true
			if i > 0 && p.Started.Before(ps[i-1].Ended) {
				t.Errorf("channel %d: poll %d started at %v, before poll %d ended at %v", ch.ID, p.ID, p.Started, ps[i-1].ID, ps[i-1].Ended)
			}
		}
		for _, cut := range []feed.PollRun{killedRun, termRun} {
			if cut.ChannelID != ch.ID {
				continue
			}
			i := slices.IndexFunc(ps, func(p feed.PollRun) bool { return p.ID == cut.ID })
			if i < 0 || i == len(ps)-1 {
				t.Errorf("channel %d: the cut poll %d has no successor", ch.ID, cut.ID)
				continue
			}
			was, next := ps[i], ps[i+1]
			if was.Outcome != feed.OutcomeFailed || was.ErrorCode != "interrupted" || was.CursorAfter == "" ||
				next.Holder == was.Holder || next.CursorBefore != was.CursorAfter {
				t.Errorf("channel %d: the cut poll was not resumed from its cursor by another replica:\ncut  %+v\nnext %+v", ch.ID, was, next)
			}
		}
	}
	if len(holders) < 2 {
		t.Errorf("the polls ran in %d replica(s)", len(holders))
	}

	// The store equals the ground truth.
	for i, name := range []string{"alpha", "beta"} {
		for _, c := range []struct {
			kind    feed.Kind
			dataset string
			param   string
			typ     intel.Type
		}{{feed.Indicators, sim.DatasetIndicators, "modified_after", ""},
			{feed.Vulnerabilities, sim.DatasetVulnerabilities, "updated_after", intel.Vulnerability},
			{feed.Reports, sim.DatasetReports, "updated_since", intel.Report}} {
			ch, _ := st.Channel(ctx, name, c.kind)
			truth, err := ups[i].sim.Truth(c.dataset, url.Values{c.param: {ch.Settings.StartAt.Format(time.RFC3339)}})
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(slices.Values(truth.IDs))
			got := sourceIDs(t, st, store.Query{ChannelID: ch.ID}, c.typ)
			if !slices.Equal(got, want) {
				t.Errorf("%s/%s: %d stored, %d in the ground truth", name, c.kind, len(got), len(want))
			}
		}
		// The instance's limit held across the replicas polling it.
		window := 5 * time.Second
		bound := ignite.DefaultRateBurst + int(ignite.DefaultRateLimit*window.Seconds())
		most := ups[i].log.most(window)
		t.Logf("%s: at most %d requests within %v (limit %d)", name, most, window, bound)
		if most > bound+bound/10 {
			t.Errorf("%s: %d requests within %v; the instance's limit allows %d", name, most, window, bound)
		}
	}
}

// allDone reports whether every channel's latest poll ended ok.
func allDone(t *testing.T, st *store.Store, chs []feed.Channel) bool {
	for _, ch := range chs {
		ps, err := st.Polls(context.Background(), ch.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 0 || ps[0].Outcome != feed.OutcomeOK {
			return false
		}
	}
	return true
}

// sourceIDs lists the Flashpoint ids q's channel gave the objects (of typ,
// or all) it stored, sorted, once each.
func sourceIDs(t *testing.T, st *store.Store, q store.Query, typ intel.Type) []string {
	t.Helper()
	if typ != "" {
		q.Types = []intel.Type{typ}
	}
	q.Limit = 1000
	var ids []string
	for {
		res, err := st.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			for _, p := range o.Sources {
				if p.ChannelID == q.ChannelID && p.OriginalID != "" {
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
	return slices.Compact(ids)
}
