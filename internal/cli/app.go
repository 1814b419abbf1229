package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/metrics"
	"github.com/flintcti/flint/internal/notify"
	"github.com/flintcti/flint/internal/scheduler"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// App is Flint assembled: its configuration, store, secret box and
// scheduler. End-to-end tests start the real thing through Open/Run/Close.
type App struct {
	// SecureCookies marks the console's session cookie Secure (a TLS
	// proxy in front).
	SecureCookies bool
	DataDir       string
	DSN           string
	Store         *store.Store
	Box           *secret.Box
	Scheduler     *scheduler.Scheduler
	Service       *service.Service // the use cases the commands call
	Metrics       *metrics.Metrics
	// Notifier dispatches the outbox's events to notification rules and
	// delivers them; NotifyTick is how often (default 2 s).
	Notifier   *notify.Deliverer
	NotifyTick time.Duration

	kindsMu sync.Mutex
	kinds   map[int64]feed.Kind // channel id → kind (vulnChannel)
	// RetentionDays, above 0, purges the objects whose validity ended more
	// than this many days ago: at start, then hourly.
	RetentionDays int
	Log           *slog.Logger
}

// DefaultDataDir is $FLINT_DATA_DIR's fallback: the user's data directory
// ($XDG_DATA_HOME/flint, else ~/.local/share/flint).
func DefaultDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "flint"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data directory: give --data-dir or set FLINT_DATA_DIR (%w)", err)
	}
	return filepath.Join(home, ".local", "share", "flint"), nil
}

// Open opens the data directory, the secret key and the store (migrating
// it), and builds the scheduler.
func Open(ctx context.Context, dataDir, dsn string, log *slog.Logger) (*App, error) {
	if dataDir == "" {
		d, err := DefaultDataDir()
		if err != nil {
			return nil, err
		}
		dataDir = d
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dataDir, err)
	}
	if dsn == "" {
		dsn = filepath.Join(dataDir, "flint.db")
	}
	st, err := store.Open(ctx, store.Options{DSN: dsn, Logger: log})
	if err != nil {
		return nil, err
	}
	// A new key is created only when no stored token needs the old one.
	sealed, err := st.SealedTokens(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	box, err := secret.Load(os.Getenv(secret.KeyEnv), dataDir, !sealed)
	if err != nil {
		st.Close()
		return nil, err
	}
	a := &App{DataDir: dataDir, DSN: dsn, Store: st, Box: box, Log: log, Metrics: metrics.New(st, Version)}
	a.Scheduler = &scheduler.Scheduler{Store: st, Box: box, Log: log, Version: Version, Observer: a.Metrics,
		// One limit per instance, whichever channel asks and on whichever
		// replica (PostgreSQL).
		Limiter: func(id int64) ignite.Limiter {
			return st.SharedLimiter(fmt.Sprintf("upstream:%d", id), store.Rate{PerSecond: ignite.DefaultRateLimit, Burst: ignite.DefaultRateBurst})
		}}
	a.Notifier = &notify.Deliverer{Store: st, Log: log, UserAgent: "Flint/" + Version, Attempted: a.Metrics.NotifyAttempt,
		Holder: fmt.Sprintf("%s:%d", hostname(), os.Getpid()),
		Open: func(id int64, what string, sealed []byte) ([]byte, error) {
			return box.Open(sealed, secret.RuleAD(id, what))
		}}
	a.Service = &service.Service{Store: st, Scheduler: a.Scheduler, Seal: a.Seal, Log: log, TokenKey: box.Derive("taxii-next"),
		Purged: a.Metrics.Purged, Notifier: a.Notifier,
		SealNotify: func(id int64, what string, plain []byte) ([]byte, error) {
			return box.Seal(plain, secret.RuleAD(id, what))
		}}
	return a, nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// Seal is the store's Sealer for this installation's key.
func (a *App) Seal(id int64, token string) ([]byte, error) {
	return a.Box.Seal([]byte(token), secret.InstanceAD(id))
}

// Where describes the database without its password.
func (a *App) Where() string {
	if strings.HasPrefix(a.DSN, "postgres") {
		return "PostgreSQL"
	}
	return a.DSN
}

// Run runs the daemon until ctx ends.
// Run runs the scheduler until ctx ends, and beside it the STIX id
// index of TAXII's look-ups by id: brought up to date at the start and
// after each poll, off the ingest path (a look-up catches up in any case).
func (a *App) Run(ctx context.Context) error {
	kick, rematch := make(chan struct{}, 1), make(chan struct{}, 1)
	kick <- struct{}{}
	rematch <- struct{}{}
	prev := a.Scheduler.OnEnd
	a.Scheduler.OnEnd = func(run feed.PollRun) {
		if prev != nil {
			prev(run)
		}
		select {
		case kick <- struct{}{}:
		default: // one is pending already
		}
		if run.New+run.Updated > 0 && a.vulnChannel(ctx, run.ChannelID) { // what it stored or changed is matched
			select {
			case rematch <- struct{}{}:
			default:
			}
		}
	}
	// Matching runs beside ingest: every page a vulnerabilities channel
	// commits is matched soon after (coalesced, at most once a second).
	prevPage := a.Scheduler.OnPage
	a.Scheduler.OnPage = func(run feed.PollRun) {
		if prevPage != nil {
			prevPage(run)
		}
		if a.vulnChannel(ctx, run.ChannelID) {
			select {
			case rematch <- struct{}{}:
			default:
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			if err := a.Service.IndexSTIX(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("taxii: indexing STIX ids failed; look-ups by id will catch up", "error", err)
			}
		}
	}()
	wg.Add(1)
	go func() { // what polls stored or changed matched against the inventory
		defer wg.Done()
		a.Service.MatchBeside(ctx, rematch, time.Second)
	}()
	wg.Add(1)
	go func() { // expired console sessions, hourly
		defer wg.Done()
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for {
			if n, err := a.Service.PurgeSessions(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("console: purging expired sessions failed", "error", err)
			} else if n > 0 {
				a.Log.Info("console: expired sessions purged", "sessions", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	wg.Add(1)
	go func() { // notifications: the outbox dispatched to rules, deliveries attempted
		defer wg.Done()
		tick := a.NotifyTick
		if tick <= 0 {
			tick = 2 * time.Second
		}
		a.Notifier.Run(ctx, tick)
	}()
	if a.RetentionDays > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.retain(ctx, time.Hour)
		}()
	}
	defer wg.Wait()
	return a.Scheduler.Run(ctx)
}

// vulnChannel reports whether a channel is a vulnerabilities channel
// (remembered: a channel's kind never changes).
func (a *App) vulnChannel(ctx context.Context, id int64) bool {
	a.kindsMu.Lock()
	k, ok := a.kinds[id]
	a.kindsMu.Unlock()
	if !ok {
		ch, err := a.Store.ChannelByID(context.WithoutCancel(ctx), id)
		if err != nil {
			return false
		}
		k = ch.Kind
		a.kindsMu.Lock()
		if a.kinds == nil {
			a.kinds = map[int64]feed.Kind{}
		}
		a.kinds[id] = k
		a.kindsMu.Unlock()
	}
	return k == feed.Vulnerabilities
}

// retain purges expired objects at once and then every interval, until ctx
// ends; the service audits each pass that purged anything.
func (a *App) retain(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if _, err := a.Service.PurgeExpired(ctx, auth.Operator("system:retention"), a.RetentionDays); err != nil && ctx.Err() == nil {
			a.Log.Warn("retention: purging expired objects failed; the next pass goes on", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Close closes the store.
func (a *App) Close() error { return a.Store.Close() }

// open is Open for a command, from the global flags.
func (e *env) open(ctx context.Context) (*App, error) {
	policy, err := e.g.addresses()
	if err != nil {
		return nil, err
	}
	a, err := Open(ctx, e.g.DataDir, e.g.DB, e.log)
	if err != nil {
		return nil, err
	}
	a.Scheduler.Addresses = policy
	return a, nil
}

// addresses is the upstream address policy the global flags set.
func (g *Globals) addresses() (*ignite.AddrPolicy, error) {
	p := &ignite.AddrPolicy{AllowLoopback: g.UpstreamLoopback}
	var err error
	if p.Allow, err = ignite.ParsePrefixes(g.UpstreamAllow); err != nil {
		return nil, fmt.Errorf("%w: --upstream-allow: %v", errUsage, err)
	}
	if p.Deny, err = ignite.ParsePrefixes(g.UpstreamDeny); err != nil {
		return nil, fmt.Errorf("%w: --upstream-deny: %v", errUsage, err)
	}
	return p, nil
}

// operator is the principal of whoever runs a command: an admin without a
// cap, named in the audit trail by the user running it.
func (e *env) operator() *auth.Principal { return auth.Operator(actor()) }
