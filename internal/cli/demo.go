package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// DemoCmd runs Flint on a fresh machine with no account: the built-in
// simulator on a loopback port, a SQLite store, an instance with all three
// channels enabled, one poll of each, then the daemon.
type DemoCmd struct {
	Listen    string `default:"127.0.0.1:8080" help:"Address of Flint's HTTP endpoint (REST API, /healthz); 127.0.0.1:0 takes any free port."`
	SimListen string `name:"sim-listen" default:"127.0.0.1:0" help:"Address of the built-in simulator."`
	Once      bool   `help:"Exit after the first poll instead of running the daemon."`
	Keep      bool   `help:"Keep the temporary data directory on exit (without --data-dir, the demo's data is removed when it ends)."`
}

// Run runs the demo.
func (c *DemoCmd) Run(ctx context.Context, e *env) error {
	started := time.Now()
	// Flint's own address first: a port in use is an error before any poll.
	var hl net.Listener
	if !c.Once {
		var err error
		if hl, err = net.Listen("tcp", c.Listen); err != nil {
			return fmt.Errorf("demo: cannot listen on %s (%w); choose another address with --listen, e.g. --listen 127.0.0.1:0 for any free port", c.Listen, err)
		}
		defer hl.Close()
	}
	s := sim.New(sim.Config{Seed: 1, Logger: e.log})
	ln, err := net.Listen("tcp", c.SimListen)
	if err != nil {
		return fmt.Errorf("demo: cannot listen on %s for the simulator (%w); choose another address with --sim-listen", c.SimListen, err)
	}
	base := "http://" + ln.Addr().String()
	simErr := make(chan error, 1)
	go func() { simErr <- serve(ctx, ln, s.Handler()) }()

	dataDir, kept, removed := e.g.DataDir, "kept", false
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "flint-demo-"); err != nil {
			return err
		}
		if c.Keep {
			kept = "temporary, kept on exit (--keep)"
		} else {
			kept, removed = "temporary, removed on exit; --keep keeps it", true
			defer os.RemoveAll(dataDir)
		}
	}
	a, err := Open(ctx, dataDir, e.g.DB, e.log)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Scheduler.Addresses = &ignite.AddrPolicy{AllowLoopback: true} // the demo's simulator is on loopback
	fmt.Fprintf(e.stdout, "Flashpoint Ignite simulator: %s\ndata directory: %s (%s; database %s)\n", base, dataDir, kept, a.Where())

	// The demo instance: created on first run, pointed at this run's
	// simulator after; through the use cases, as an operator named "demo".
	demo := auth.Operator("demo")
	token := sim.DefaultToken
	v, err := a.Service.Instance(ctx, demo, "demo")
	switch intel.ErrorCode(err) {
	case intel.ENOTFOUND:
		name := "demo"
		if v, err = a.Service.CreateInstance(ctx, demo, service.InstanceInput{Name: &name, BaseURL: &base, Token: &token}); err != nil {
			return err
		}
		for _, ch := range v.Channels {
			if _, err := a.Service.UpdateChannel(ctx, demo, service.ChannelRef{Instance: name, Kind: string(ch.Kind)},
				service.ChannelEdit{Apply: func(s *feed.Settings) error { s.Enabled = true; return nil }, Enable: true}); err != nil {
				return err
			}
		}
	case "":
		v, err = a.Service.UpdateInstance(ctx, demo, "demo", service.InstanceInput{BaseURL: &base, Token: &token})
	}
	if err != nil {
		return err
	}
	chs, err := a.Service.Channels(ctx, demo, v.Name)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	lines := make([]string, len(chs))
	for i, ch := range chs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started, err := a.Service.StartPoll(ctx, demo, service.ChannelRef{Instance: ch.Instance, Kind: string(ch.Kind)})
			if err != nil {
				lines[i] = fmt.Sprintf("%s/%s: %v", ch.Instance, ch.Kind, err)
				return
			}
			res := <-started.Done
			lines[i] = runLine(ch, res.Run)
			if res.Err != nil {
				lines[i] += ": " + res.Err.Error()
			}
		}()
	}
	wg.Wait()
	for _, l := range lines {
		fmt.Fprintln(e.stdout, l)
	}
	fmt.Fprintf(e.stdout, "first poll done in %.1fs\n", time.Since(started).Seconds())
	if err := demoSummary(ctx, e, a); err != nil {
		return err
	}
	if !removed || !c.Once { // the commands work while the data directory is there
		flint := fmt.Sprintf("%s --data-dir %s", selfCommand(), dataDir)
		when := "look around"
		if !c.Once {
			when = "look around (in another terminal, while the demo runs)"
		}
		fmt.Fprintf(e.stdout, "\n%s:\n  %s channel list\n  %s channel runs demo indicators\n  %s vuln search --min-cvss3 9\n",
			when, flint, flint, flint)
	}
	if c.Once {
		return nil
	}
	for _, ch := range chs {
		if fresh, err := a.Store.ChannelByID(ctx, ch.ID); err == nil {
			if err := a.Scheduler.Reschedule(ctx, fresh); err != nil { // after the first polls: their next runs
				e.log.Warn("demo: scheduling a channel failed", "channel", fresh.Ref(), "error", err)
			}
		}
	}
	key, err := demoKey(ctx, e, a)
	if err != nil {
		return err
	}
	apiURL := "http://" + hl.Addr().String() + "/api/v1"
	example := "203.0.113.7"
	if res, err := a.Store.Search(ctx, store.Query{Types: []intel.Type{intel.IPv4}, Limit: 1}); err == nil && len(res.Objects) > 0 {
		example = res.Objects[0].Value
	}
	fmt.Fprintf(e.stdout, "\nREST API: %s (OpenAPI document: %s/openapi.json)\nan admin key for this demo (shown once): %s\n", apiURL, apiURL, key)
	fmt.Fprintf(e.stdout, "  curl -H 'Authorization: Bearer %s' '%s/vulnerabilities?min_cvss3=9&sort=-cvss3&limit=5'\n", key, apiURL)
	fmt.Fprintf(e.stdout, "  curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{\"values\": [\"%s\", \"example.com\"]}' %s/lookup\n", key, example, apiURL)
	pw, err := demoUser(ctx, a)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "console: http://%s/ (user demo, password for this run: %s)\n", hl.Addr(), pw)
	fmt.Fprintf(e.stdout, "TAXII 2.1: http://%s/taxii2/ (HTTP Basic, the key as the password)\n", hl.Addr())
	fmt.Fprintf(e.stdout, "  curl -u demo:%s -H 'Accept: application/taxii+json;version=2.1' http://%s/taxii2/flint/collections/\n", key, hl.Addr())
	fmt.Fprintf(e.stdout, "  curl http://%s/healthz\n\ndaemon running (simulator at %s); Ctrl-C to stop\n", hl.Addr(), base)
	httpErr := make(chan error, 1)
	go func() { httpErr <- serveWith(ctx, hl, a.HTTPServer(ctx)) }()
	if err := a.Run(ctx); err != nil {
		return err
	}
	if err := <-httpErr; err != nil {
		return err
	}
	return <-simErr
}

// demoSummary prints what the store holds.
func demoSummary(ctx context.Context, e *env, a *App) error {
	fmt.Fprintln(e.stdout, "\nstored:")
	for _, t := range intel.Types() {
		n, err := a.Store.Count(ctx, store.Query{Types: []intel.Type{t}})
		if err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(e.stdout, "  %-16s %d\n", t, n)
		}
	}
	cols, err := a.Store.Collections(ctx)
	if err != nil {
		return err
	}
	for _, c := range cols {
		fmt.Fprintf(e.stdout, "  collection %q: %d objects\n", c.Name, c.Objects)
	}
	res, err := a.Store.Search(ctx, store.Query{Types: []intel.Type{intel.Vulnerability}, CVSSv3: store.Range{Min: ptrFloat(9)}, Limit: 3})
	if err != nil {
		return err
	}
	for _, o := range res.Objects {
		line := fmt.Sprintf("  critical: %s (CVSS v3 %.1f)", o.Value, o.Vulnerability.CVSSv3.Score)
		if o.Name != o.Value {
			line += " " + o.Name
		}
		fmt.Fprintln(e.stdout, line)
	}
	return nil
}

func ptrFloat(v float64) *float64 { return &v }

// demoKey revokes the previous demo's key and creates a new admin key.
func demoKey(ctx context.Context, e *env, a *App) (string, error) {
	demo := auth.Operator("demo")
	keys, err := a.Service.Keys(ctx, demo)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		if k.Name == "demo" && k.Revoked == nil {
			if _, _, err := a.Service.RevokeKey(ctx, demo, k.ID); err != nil {
				return "", err
			}
		}
	}
	k, err := a.Service.CreateKey(ctx, demo, service.KeyInput{Name: "demo", Role: string(auth.Admin)})
	if err != nil {
		return "", err
	}
	return k.Token, nil
}

// demoUser gives the console's admin user "demo" a new password for this
// run (creating the user on the first) and returns the password.
func demoUser(ctx context.Context, a *App) (string, error) {
	demo := auth.Operator("demo")
	pw := strings.ToLower(rand.Text())[:20]
	err := a.Service.SetPassword(ctx, demo, "demo", pw)
	if intel.ErrorCode(err) == intel.ENOTFOUND {
		_, err = a.Service.CreateUser(ctx, demo, service.UserInput{Name: "demo", Role: string(auth.Admin), Password: pw})
	}
	return pw, err
}
