package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/time/rate"

	"github.com/flintcti/flint/internal/api"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/web"
)

// ServeCmd runs the daemon.
type ServeCmd struct {
	Listen    string  `default:"127.0.0.1:8080" help:"Address of the REST API (and /healthz, /readyz)."`
	RateLimit float64 `name:"rate-limit" default:"50" help:"Requests per second allowed per API key."`
	RateBurst int     `name:"rate-burst" default:"100" help:"Requests an API key may send at once above its rate."`
	// SecureCookies marks the console's session cookie Secure.
	SecureCookies bool          `name:"secure-cookies" help:"Mark the console's session cookie Secure: set it when a TLS proxy serves Flint (over TLS it is set in any case)."`
	TLSCert       string        `name:"tls-cert" help:"Serve HTTPS with this PEM certificate (chain) file; with --tls-key. Both are read again on SIGHUP."`
	TLSKey        string        `name:"tls-key" help:"The PEM private key of --tls-cert."`
	RetentionDays int           `name:"retention-days" env:"FLINT_RETENTION_DAYS" help:"Purge objects whose validity ended more than this many days ago (1–3650), with their provenance and relationships: at start, then hourly. 0 (the default) keeps everything."`
	LeaseTTL      time.Duration `name:"lease-ttl" default:"2m" help:"How long a channel's lease lasts unless renewed (every page): when a replica dies mid-poll, another resumes the poll after this (10s–1h)."`
	SchedulerTick time.Duration `name:"scheduler-tick" default:"10s" hidden:"" help:"How often due channels are looked for (100ms–1m; tests)."`
	// Notifications.
	NotifyAllowInternal bool          `name:"notify-allow-internal" help:"Let webhooks reach loopback, private and link-local addresses (receivers inside the network). Off, a webhook is sent only to public addresses, whatever its host name resolves to."`
	NotifyTimeout       time.Duration `name:"notify-timeout" default:"10s" help:"How long a webhook receiver has to answer (1s–1m)."`
	NotifyAttempts      int           `name:"notify-attempts" default:"10" help:"Attempts at a delivery before it is given up (1–50); retries wait 30s, doubling up to an hour."`
	NotifyBackoff       time.Duration `name:"notify-backoff" default:"30s" hidden:"" help:"The first retry's wait (100ms–1h; tests)."`
	NotifyTick          time.Duration `name:"notify-tick" default:"2s" hidden:"" help:"How often the outbox is looked at (100ms–1m; tests)."`
	MetricsListen       string        `name:"metrics-listen" help:"Also serve Prometheus metrics at /metrics on this address, without a key (bind it to a private address). On the main address /metrics needs a key with view_feed_source."`
}

// Run runs the scheduler and the HTTP endpoint until interrupted.
func (c *ServeCmd) Run(ctx context.Context, e *env) error {
	if c.RateLimit <= 0 || c.RateBurst < 1 {
		return fmt.Errorf("%w: --rate-limit must be above 0 and --rate-burst at least 1", errUsage)
	}
	if c.RetentionDays != 0 && (c.RetentionDays < service.MinRetentionDays || c.RetentionDays > service.MaxRetentionDays) {
		return fmt.Errorf("%w: --retention-days %d: want %d–%d, or 0 to keep everything", errUsage, c.RetentionDays,
			service.MinRetentionDays, service.MaxRetentionDays)
	}
	if c.LeaseTTL < 10*time.Second || c.LeaseTTL > time.Hour {
		return fmt.Errorf("%w: --lease-ttl %v: want 10s–1h", errUsage, c.LeaseTTL)
	}
	if c.SchedulerTick < 100*time.Millisecond || c.SchedulerTick > time.Minute {
		return fmt.Errorf("%w: --scheduler-tick %v: want 100ms–1m", errUsage, c.SchedulerTick)
	}
	if c.NotifyTimeout < time.Second || c.NotifyTimeout > time.Minute {
		return fmt.Errorf("%w: --notify-timeout %v: want 1s–1m", errUsage, c.NotifyTimeout)
	}
	if c.NotifyAttempts < 1 || c.NotifyAttempts > 50 {
		return fmt.Errorf("%w: --notify-attempts %d: want 1–50", errUsage, c.NotifyAttempts)
	}
	if c.NotifyBackoff < 100*time.Millisecond || c.NotifyBackoff > time.Hour {
		return fmt.Errorf("%w: --notify-backoff %v: want 100ms–1h", errUsage, c.NotifyBackoff)
	}
	if c.NotifyTick < 100*time.Millisecond || c.NotifyTick > time.Minute {
		return fmt.Errorf("%w: --notify-tick %v: want 100ms–1m", errUsage, c.NotifyTick)
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	a.RetentionDays = c.RetentionDays
	a.Notifier.AllowInternal, a.Notifier.Timeout, a.Notifier.MaxAttempts, a.Notifier.Backoff = c.NotifyAllowInternal, c.NotifyTimeout,
		c.NotifyAttempts, c.NotifyBackoff
	a.NotifyTick = c.NotifyTick
	a.Scheduler.LeaseTTL, a.Scheduler.Tick = c.LeaseTTL, c.SchedulerTick
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("%w: give --tls-cert and --tls-key together", errUsage)
	}
	var certs *certReloader
	if c.TLSCert != "" {
		certs = &certReloader{certFile: c.TLSCert, keyFile: c.TLSKey}
		if err := certs.load(); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", c.Listen, err)
	}
	scheme := "http"
	if certs != nil {
		stop := certs.reloadOnHangup(ctx, e.log)
		defer stop()
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get})
		scheme = "https"
	}
	fmt.Fprintf(e.stdout, "flint serving on %s://%s (database %s)\n", scheme, ln.Addr(), a.Where())
	for _, w := range serveWarnings(ln.Addr(), a.DataDir, certs != nil) {
		e.log.Warn(w)
	}
	errc := make(chan error, 1)
	if c.MetricsListen != "" {
		mln, err := net.Listen("tcp", c.MetricsListen)
		if err != nil {
			return fmt.Errorf("serve: listen on %s (--metrics-listen): %w", c.MetricsListen, err)
		}
		fmt.Fprintf(e.stdout, "flint metrics on http://%s/metrics\n", mln.Addr())
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.Metrics.Handler())
		merr := make(chan error, 1)
		go func() { merr <- serveWith(ctx, mln, api.NewHTTPServer(mux)) }()
		defer func() {
			if err := <-merr; err != nil {
				e.log.Warn("serve: the metrics listener failed", "error", err)
			}
		}()
	}
	a.SecureCookies = c.SecureCookies
	srv := a.HTTPServer(ctx, func(s *api.Server) { s.RateLimit, s.RateBurst = rate.Limit(c.RateLimit), c.RateBurst })
	go func() { errc <- serveWith(ctx, ln, srv) }()
	if err := a.Run(ctx); err != nil {
		return err
	}
	return <-errc
}

// serveWarnings names what makes a daemon easy to attack: plain HTTP on an
// address other machines reach (API keys travel in the clear), and a data
// directory other users may read (the database, the key file's directory).
func serveWarnings(addr net.Addr, dataDir string, tlsOn bool) []string {
	var out []string
	if ta, ok := addr.(*net.TCPAddr); ok && !ta.IP.IsLoopback() && !tlsOn {
		out = append(out, fmt.Sprintf("serve: listening on %s without TLS: API keys and intelligence cross the network in the clear; "+
			"put a TLS-terminating proxy in front, or listen on 127.0.0.1", addr))
	}
	if fi, err := os.Stat(dataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		out = append(out, fmt.Sprintf("serve: the data directory %s has mode %v: other users of this machine may read it; chmod 700 it",
			dataDir, fi.Mode().Perm()))
	}
	return out
}

// HTTPServer returns the daemon's HTTP server: the REST API, TAXII and
// the blocklists under their paths, the console everywhere else, with the
// server's timeouts; polls started through it run under ctx.
func (a *App) HTTPServer(ctx context.Context, opts ...func(*api.Server)) *http.Server {
	base := func() context.Context { return ctx }
	srv := &api.Server{Service: a.Service, Log: a.Log, Version: Version, BaseContext: base, Metrics: a.Metrics.Handler()}
	for _, o := range opts {
		o(srv)
	}
	mux := http.NewServeMux()
	apiH := srv.Handler()
	for _, p := range api.Prefixes() {
		mux.Handle(p, apiH)
	}
	mux.Handle("/", (&web.Server{Service: a.Service, Log: a.Log, BaseContext: base, Secure: a.SecureCookies}).Handler())
	return api.NewHTTPServer(a.Metrics.Instrument(mux))
}
