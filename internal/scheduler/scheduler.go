// Package scheduler runs Flint's polls. It is driven by the database: each
// channel's next run (a scheduled poll or a restore attempt) is a column the
// scheduler reads; a lease with a fencing token lets one poll of a channel
// run at a time across processes and replicas; every page and its cursor
// are committed together; every poll is recorded; and the health machine of
// docs/domain.md §4 decides what follows a failure.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flintcti/flint/internal/connector/flashpoint"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/store"
)

// Scheduler polls channels.
type Scheduler struct {
	Store *store.Store
	Box   *secret.Box
	// Holder names this process in leases: host:pid by default. A lease held
	// under that form by a process of this host that no longer exists is
	// taken over at once, without waiting for it to lapse.
	Holder string
	Now    func() time.Time
	Log    *slog.Logger
	// LeaseTTL is how long a lease lasts unless renewed (renewed every
	// page); a crashed poller's channel is free again after it.
	LeaseTTL time.Duration
	// Tick is how often Run looks for due channels.
	Tick time.Duration
	// Workers is how many due channels RunDue works on at once (polls,
	// restore attempts); 0 means 4. Others wait their turn, and a long
	// poll never holds up a later tick.
	Workers int
	// Client adjusts the Ignite client options (tests: faster retries).
	Client func(*ignite.Options)
	// Version is sent to Flashpoint in the integration headers.
	Version string
	// OnPage, when set, is called after each committed page (progress bars).
	OnPage func(run feed.PollRun)
	// OnEnd, when set, is called when a poll has ended and is recorded.
	OnEnd func(run feed.PollRun)
	// PageSize overrides the connector's page size (tests).
	PageSize int
	// Addresses decides which upstream addresses may be reached; nil is
	// the default policy (no loopback, no link-local or metadata address).
	Addresses *ignite.AddrPolicy
	// Observer, when set, is told of polls, writes and upstream requests
	// (metrics).
	Observer Observer
	// Grace is how long a poll whose context ended (the process stopping)
	// may go on writing and committing the pages it fetched; 0 means 30 s.
	Grace time.Duration
	// Limiter, when set, returns the limiter every request to an instance
	// waits for (shared by its channels, and across replicas); nil gives
	// each poll its own client's limiter.
	Limiter func(instanceID int64) ignite.Limiter

	mu      sync.Mutex
	running map[int64]bool // channels RunDue is working on
	polling map[int64]bool // channels this process polls (under their lease)
	slots   chan struct{}  // one per worker
	work    sync.WaitGroup // what RunDue launched
	// ticks, when set, replaces Run's ticker (tests).
	ticks <-chan time.Time

	// at, when set, is called at the points of a poll where a crash test
	// kills the process: it defines crash points by progress, not by time.
	at func(point)
}

// Observer is told what the scheduler does (metrics): the requests of
// each instance's client, each write to the store with how long it took
// (op "apply": a group of pages written; "commit": a transaction of pages
// committed with their cursor), what each committed transaction counted,
// and each poll's end.
type Observer interface {
	Upstream(instance string) ignite.Observer
	Wrote(instance string, kind feed.Kind, op string, took time.Duration)
	Committed(instance string, kind feed.Kind, c feed.Counts)
	Ended(instance string, kind feed.Kind, run feed.PollRun)
}

// point is a place in a poll's write path (crash tests).
type point int

const (
	fetchedPage    point = iota // a page arrived from upstream, not yet written
	appliedPage                 // a page is written in the open transaction, not committed
	committedPages              // a transaction committed; the next request not yet sent
)

func (s *Scheduler) reach(p point) {
	if s.at != nil {
		s.at(p)
	}
}

func (s *Scheduler) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Scheduler) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Scheduler) holder() string {
	if s.Holder != "" {
		return s.Holder
	}
	return hostPrefix() + strconv.Itoa(os.Getpid())
}

// hostPrefix starts the default holder name of every process of this host.
func hostPrefix() string {
	host, _ := os.Hostname()
	return host + ":"
}

// deadHere reports whether holder names a process of this host, under the
// default form host:pid, that no longer exists.
func deadHere(holder string) bool {
	pid, err := strconv.Atoi(strings.TrimPrefix(holder, hostPrefix()))
	if err != nil || !strings.HasPrefix(holder, hostPrefix()) || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return !processExists(pid)
}

func (s *Scheduler) grace() time.Duration {
	if s.Grace > 0 {
		return s.Grace
	}
	return 30 * time.Second
}

func (s *Scheduler) ttl() time.Duration {
	if s.LeaseTTL > 0 {
		return s.LeaseTTL
	}
	return 2 * time.Minute
}

// connector builds the Ignite connector of a channel's instance, opening its
// sealed token.
func (s *Scheduler) connector(ctx context.Context, ch feed.Channel) (*flashpoint.Connector, error) {
	in, err := s.Store.Instance(ctx, ch.Instance)
	if err != nil {
		return nil, err
	}
	sealed, err := s.Store.InstanceToken(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	token, err := s.Box.Open(sealed, secret.InstanceAD(in.ID))
	if err != nil {
		return nil, fmt.Errorf("scheduler: instance %q: %w (was FLINT_SECRET_KEY or the key file changed?)", in.Name, err)
	}
	policy := s.Addresses
	if policy == nil {
		policy = &ignite.AddrPolicy{}
	}
	opts := ignite.Options{BaseURL: in.BaseURL, Token: string(token), InsecureSkipVerify: !in.VerifyTLS, Version: s.Version,
		Logger: s.log().With("instance", in.Name), Addresses: policy}
	if s.Observer != nil {
		opts.Observer = s.Observer.Upstream(in.Name)
	}
	if s.Limiter != nil {
		opts.Limiter = s.Limiter(in.ID)
	}
	if s.Client != nil {
		s.Client(&opts)
	}
	c, err := ignite.New(opts)
	if err != nil {
		return nil, err
	}
	return &flashpoint.Connector{Client: c, Now: s.now, Log: s.log(), PageSize: s.PageSize,
		Known: func(ctx context.Context, ids []int64) (map[int64]time.Time, error) {
			return s.Store.LastReported(ctx, ch.ID, ids)
		}}, nil
}

// NextRun returns when an enabled auto channel polls next: on a grid of its
// interval, shifted by a stable per-channel offset, so that channels with
// the same interval spread out and a restart does not move them.
func NextRun(channelID int64, interval time.Duration, now time.Time) time.Time {
	h := fnv.New64a()
	fmt.Fprint(h, channelID)
	offset := time.Duration(h.Sum64() % uint64(interval))
	base := now.Add(-offset).Truncate(interval).Add(offset)
	for !base.After(now) {
		base = base.Add(interval)
	}
	return base
}

// schedule decides a channel's next run from its settings and health.
func (s *Scheduler) schedule(ch *feed.Channel, now time.Time) time.Time {
	switch {
	case !ch.Settings.Enabled || ch.Health.Status == feed.Disabled:
		return time.Time{}
	case ch.Health.Status == feed.ConnectionError:
		return ch.Health.NextRestore
	case ch.Settings.Schedule == feed.Auto:
		return NextRun(ch.ID, time.Duration(ch.Settings.IntervalMinutes)*time.Minute, now)
	}
	return time.Time{}
}

// Reschedule recomputes and saves a channel's next run (after its settings
// changed).
func (s *Scheduler) Reschedule(ctx context.Context, ch feed.Channel) error {
	return s.Store.SaveHealth(ctx, ch.ID, ch.Health, s.schedule(&ch, s.now()))
}

// optimizeAfter is the number of new objects after which a poll refreshes
// the database's planner statistics.
const optimizeAfter = 50_000

// prefetch is how many fetched pages may wait for the writer. Pages waiting
// when the writer takes the next are applied as one (groupObjects at most:
// one set of batched statements); while the writer stays behind, one
// transaction takes applied pages until it holds commitObjects objects or is
// commitAge old (a single page larger than that still commits whole). The
// first transaction of a poll commits its first page; the age allowed then
// doubles from commitAge/16 with each commit.
const (
	prefetch      = 2
	groupObjects  = 4000
	commitObjects = 50000
	commitAge     = 2 * time.Second
)

// ErrBusy means another poll of the channel is running.
var ErrBusy = errors.New("scheduler: the channel is being polled")

// Poll runs one poll of a channel to its end, committing each page with its
// cursor, and records it. The returned run says how it went; the error is
// the poll's failure, if any (the run is recorded either way).
func (s *Scheduler) Poll(ctx context.Context, ch feed.Channel, trigger feed.Trigger) (feed.PollRun, error) {
	lease, run, err := s.begin(ctx, ch, trigger)
	if err != nil {
		return run, err
	}
	return s.run(ctx, ch, trigger, lease, run)
}

// Start begins a poll like Poll but returns as soon as it holds the lease
// and its record exists: the run (with its id) and a channel that delivers
// the finished run and its error. The poll runs under ctx.
func (s *Scheduler) Start(ctx context.Context, ch feed.Channel, trigger feed.Trigger) (feed.PollRun, <-chan PollResult, error) {
	lease, run, err := s.begin(ctx, ch, trigger)
	if err != nil {
		return run, nil, err
	}
	done := make(chan PollResult, 1)
	go func() {
		r, err := s.run(ctx, ch, trigger, lease, run)
		done <- PollResult{r, err}
	}()
	return run, done, nil
}

// PollResult is how a poll started with Start ended.
type PollResult struct {
	Run feed.PollRun
	Err error
}

// begin takes the channel's lease and records the start of a poll.
// One process polls a channel once at a time even though its leases all
// carry its one holder name (which may take its own lease again).
func (s *Scheduler) begin(ctx context.Context, ch feed.Channel, trigger feed.Trigger) (store.Lease, feed.PollRun, error) {
	if !s.mark(&s.polling, ch.ID) {
		return store.Lease{}, feed.PollRun{}, fmt.Errorf("%w: %w", ErrBusy, intel.Errorf(intel.ECONFLICT, "the channel is being polled by this process"))
	}
	lease, run, err := s.lease(ctx, ch, trigger)
	if err != nil {
		s.unmark(&s.polling, ch.ID)
	}
	return lease, run, err
}

func (s *Scheduler) lease(ctx context.Context, ch feed.Channel, trigger feed.Trigger) (store.Lease, feed.PollRun, error) {
	lease, err := s.Store.AcquireLease(ctx, ch.ID, s.holder(), s.ttl())
	if intel.ErrorCode(err) == intel.ECONFLICT {
		// A process of this host that died holding the lease need not be
		// waited for.
		if by, herr := s.Store.LeaseHolder(ctx, ch.ID); herr == nil && deadHere(by) {
			s.log().Info("taking over the lease of a dead process", "channel", ch.Ref(), "holder", by)
			lease, err = s.Store.TakeLease(ctx, ch.ID, by, s.holder(), s.ttl())
		}
	}
	if err != nil {
		if intel.ErrorCode(err) == intel.ECONFLICT {
			return lease, feed.PollRun{}, fmt.Errorf("%w: %w", ErrBusy, err) // both: the domain code stays ECONFLICT
		}
		return lease, feed.PollRun{}, err
	}
	run, err := s.Store.StartPoll(ctx, feed.PollRun{ChannelID: ch.ID, Trigger: trigger, Holder: s.holder(), CursorBefore: lease.Cursor,
		Started: s.now()})
	if err != nil {
		s.Store.ReleaseLease(context.WithoutCancel(ctx), lease) //nolint:errcheck // a lease that lapses frees itself
		return lease, run, err
	}
	return lease, run, nil
}

// run polls page by page under the lease, then records the poll and the
// channel's health, and releases the lease.
func (s *Scheduler) run(ctx context.Context, ch feed.Channel, trigger feed.Trigger, lease store.Lease, run feed.PollRun) (feed.PollRun, error) {
	// OnEnd is called once the channel is free again: the lease released,
	// the channel no longer marked as polled by this process.
	released := false
	release := func() {
		if !released {
			released = true
			if err := s.Store.ReleaseLease(context.WithoutCancel(ctx), lease); err != nil {
				s.log().Warn("releasing the lease failed (it lapses by itself)", "channel", ch.Ref(), "error", err)
			}
			s.unmark(&s.polling, ch.ID)
		}
	}
	defer release()
	log := s.log().With("instance", ch.Instance, "channel", ch.Kind, "poll", run.ID)
	log.Info("poll started", "trigger", trigger, "cursor", lease.Cursor)
	pollErr := s.pages(ctx, ch, &lease, &run)
	run.Ended = s.now()
	switch {
	case pollErr != nil && ctx.Err() != nil && errors.Is(pollErr, context.Canceled):
		// The process is stopping: the poll is resumed from its cursor
		// by whichever process runs next (Store.Interrupted).
		run.Outcome, run.ErrorCode = feed.OutcomeFailed, "interrupted"
		run.ErrorMessage = "the process stopped; the poll resumes from its cursor in the next process to run"
	case pollErr != nil:
		run.Outcome, run.ErrorCode, run.ErrorMessage = feed.OutcomeFailed, errorCode(pollErr), errorMessage(pollErr)
	default:
		run.Outcome = feed.OutcomeOK
	}
	fctx := context.WithoutCancel(ctx)
	if err := s.Store.FinishPoll(fctx, run); err != nil {
		log.Error("recording the poll failed", "error", err)
	}
	// Health, from the freshest channel row (a user may have changed it).
	if fresh, err := s.Store.ChannelByID(fctx, ch.ID); err == nil {
		ch = fresh
	}
	now := s.now()
	if pollErr != nil {
		if !errors.Is(pollErr, context.Canceled) {
			ch.Health.Failed(now, string(ignite.ErrorClass(pollErr)), run.ErrorCode, run.ErrorMessage)
		}
	} else {
		ch.Health.Succeeded(now, run.Items(), trigger == feed.TriggerScheduled || trigger == feed.TriggerResume)
	}
	if err := s.Store.SaveHealth(fctx, ch.ID, ch.Health, s.schedule(&ch, now)); err != nil {
		log.Error("saving the channel's health failed", "error", err)
	}
	// After a large load, refresh the planner's statistics (PostgreSQL's
	// autovacuum may not have run yet; SQLite has none until asked).
	if run.New >= optimizeAfter {
		if err := s.Store.Optimize(fctx); err != nil {
			log.Warn("refreshing planner statistics failed", "error", err)
		}
	}
	log.Info("poll ended", "outcome", run.Outcome, "error_code", run.ErrorCode, "pages", run.Pages, "new", run.New,
		"updated", run.Updated, "unchanged", run.Unchanged, "duration", run.Ended.Sub(run.Started))
	release()
	if s.Observer != nil {
		s.Observer.Ended(ch.Instance, ch.Kind, run)
	}
	if s.OnEnd != nil {
		s.OnEnd(run)
	}
	return run, pollErr
}

func errorCode(err error) string {
	if c := ignite.ErrorCode(err); c != "" {
		return c
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "canceled"
	}
	return intel.ErrorCode(err)
}

func errorMessage(err error) string {
	var ie *ignite.Error
	if errors.As(err, &ie) {
		return ie.Error()
	}
	return err.Error()
}

// Test checks a channel's connectivity with one minimal request, and
// updates its health: a success restores a channel in connection_error, a
// loss of connectivity puts it there.
func (s *Scheduler) Test(ctx context.Context, ch feed.Channel) (feed.Health, error) {
	conn, err := s.connector(ctx, ch)
	if err == nil {
		err = conn.Test(ctx, ch.Kind)
	}
	if fresh, ferr := s.Store.ChannelByID(ctx, ch.ID); ferr == nil {
		ch = fresh
	}
	now := s.now()
	if err != nil {
		ch.Health.Failed(now, string(ignite.ErrorClass(err)), errorCode(err), errorMessage(err))
	} else if ch.Health.Status == feed.ConnectionError {
		ch.Health.Succeeded(now, 0, false)
	}
	if serr := s.Store.SaveHealth(ctx, ch.ID, ch.Health, s.schedule(&ch, now)); serr != nil {
		return ch.Health, serr
	}
	return ch.Health, err
}

// RunDue runs what is due now: restore attempts of channels in
// connection_error (a connectivity test, then a poll when it succeeds),
// scheduled polls, and polls whose process died (resumed from their cursor
// once the dead holder's lease has lapsed, or at once when the holder was a
// process of this host that no longer exists). Polls still marked running
// under a lapsed lease are recorded interrupted first. It launches them, at
// most Workers at once, and returns: a channel still being worked on is
// left to its work (Wait waits for all of them).
func (s *Scheduler) RunDue(ctx context.Context) error {
	now := s.now()
	if n, err := s.Store.CloseLapsedPolls(ctx, now); err != nil {
		return err
	} else if n > 0 {
		s.log().Warn("polls whose process died recorded as interrupted", "polls", n)
	}
	due, err := s.Store.DueChannels(ctx, now)
	if err != nil {
		return err
	}
	cut, err := s.Store.Interrupted(ctx, now, hostPrefix())
	if err != nil {
		return err
	}
	resume := map[int64]bool{}
	for _, ch := range cut {
		if ch.Settings.Enabled && ch.Health.Status == feed.Running && !slices.ContainsFunc(due, func(d feed.Channel) bool { return d.ID == ch.ID }) {
			resume[ch.ID] = true
			due = append(due, ch)
		}
	}
	slots := s.workerSlots()
	for _, ch := range due {
		if !s.mark(&s.running, ch.ID) {
			continue
		}
		s.work.Add(1)
		go func() {
			defer s.work.Done()
			defer s.unmark(&s.running, ch.ID)
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-ctx.Done():
				return
			}
			s.runOne(ctx, ch, resume[ch.ID])
		}()
	}
	return nil
}

// Wait waits until what RunDue launched is done.
func (s *Scheduler) Wait() { s.work.Wait() }

func (s *Scheduler) workerSlots() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots == nil {
		n := s.Workers
		if n <= 0 {
			n = 4
		}
		s.slots = make(chan struct{}, n)
	}
	return s.slots
}

func (s *Scheduler) runOne(ctx context.Context, ch feed.Channel, resume bool) {
	log := s.log().With("instance", ch.Instance, "channel", ch.Kind)
	switch {
	case resume:
		log.Info("resuming a poll whose process stopped")
		if _, err := s.Poll(ctx, ch, feed.TriggerResume); err != nil && !errors.Is(err, ErrBusy) {
			log.Warn("resumed poll failed", "error", err)
		}
	case ch.Health.Status == feed.ConnectionError:
		log.Info("restore attempt", "attempt", ch.Health.Restores+1, "error_code", ch.Health.ErrorCode)
		if _, err := s.Test(ctx, ch); err != nil {
			log.Warn("restore attempt failed", "error", err)
			return
		}
		log.Info("connectivity restored; polling")
		fresh, err := s.Store.ChannelByID(ctx, ch.ID)
		if err != nil {
			log.Warn("reading the restored channel failed", "error", err)
			return
		}
		if _, err := s.Poll(ctx, fresh, feed.TriggerRestore); err != nil && !errors.Is(err, ErrBusy) {
			log.Warn("poll after restore failed", "error", err)
		}
	case ch.Settings.Enabled:
		if _, err := s.Poll(ctx, ch, feed.TriggerScheduled); err != nil && !errors.Is(err, ErrBusy) {
			log.Warn("scheduled poll failed", "error", err)
		}
	default: // disabled since it was scheduled
		if err := s.Store.SaveHealth(ctx, ch.ID, ch.Health, time.Time{}); err != nil {
			log.Warn("unscheduling a disabled channel failed", "error", err)
		}
	}
}

// mark adds a channel to one of the scheduler's sets, unless it is in it.
func (s *Scheduler) mark(set *map[int64]bool, id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *set == nil {
		*set = map[int64]bool{}
	}
	if (*set)[id] {
		return false
	}
	(*set)[id] = true
	return true
}

func (s *Scheduler) unmark(set *map[int64]bool, id int64) {
	s.mu.Lock()
	delete(*set, id)
	s.mu.Unlock()
}

// Run schedules every enabled channel that has no next run yet, then runs
// what is due every Tick until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	chs, err := s.Store.Channels(ctx, "")
	if err != nil {
		return err
	}
	for _, ch := range chs {
		if ch.NextRun.IsZero() {
			if next := s.schedule(&ch, s.now()); !next.IsZero() {
				if err := s.Store.SaveHealth(ctx, ch.ID, ch.Health, next); err != nil {
					return err
				}
			}
		}
	}
	ticks := s.ticks
	if ticks == nil {
		tick := s.Tick
		if tick <= 0 {
			tick = 10 * time.Second
		}
		t := time.NewTicker(tick)
		defer t.Stop()
		ticks = t.C
	}
	defer s.Wait() // the polls it launched end with ctx
	for {
		if err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.log().Error("scheduler: reading due channels failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
	}
}
