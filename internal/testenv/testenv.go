// Package testenv builds what the scheduler's, the API's and the use
// cases' tests run on, the same way for all: a Flashpoint Ignite simulator
// over loopback HTTP, a fresh store of a dialect on the simulator's clock,
// a secret box, and instances of the simulator with their tokens sealed.
// Each test package makes its own scheduler from it (the scheduler's own
// tests need its unexported hooks) with FastClient and Loopback.
package testenv

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/store/storetest"
)

// SimNow is the simulator's clock unless a test sets its own.
var SimNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// Env is a simulator and a store.
type Env struct {
	Sim   *sim.Server
	URL   string // the simulator's base URL
	DSN   string
	Store *store.Store
	Box   *secret.Box
}

// New starts a simulator (cfg; its clock at SimNow unless cfg.Now is set;
// tokens "good" with every dataset and "novuln" without vulnerabilities
// unless cfg.Tokens is set) and opens a fresh store of the dialect on its
// clock. Both end with the test.
func New(t testing.TB, dialect string, cfg sim.Config) *Env {
	t.Helper()
	if cfg.Now.IsZero() {
		cfg.Now = SimNow
	}
	if cfg.Tokens == nil {
		all, _ := sim.ParseToken("good")
		novuln, _ := sim.ParseToken("novuln:reports,indicators,premium")
		cfg.Tokens = []sim.Token{all, novuln}
	}
	s := sim.New(cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	dsn := storetest.DSN(t, dialect)
	st, err := store.Open(context.Background(), store.Options{DSN: dsn, Now: s.Clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, err := secret.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Sim: s, URL: srv.URL, DSN: dsn, Store: st, Box: box}
}

// Seal is the store's Sealer for the environment's box.
func (e *Env) Seal(id int64, token string) ([]byte, error) {
	return e.Box.Seal([]byte(token), secret.InstanceAD(id))
}

// AddInstance adds an instance of the simulator with token; settings, when
// not nil, adjusts each channel's default settings.
func (e *Env) AddInstance(t testing.TB, name, token string, settings func(k feed.Kind, s *feed.Settings)) feed.Instance {
	t.Helper()
	all := map[feed.Kind]feed.Settings{}
	for _, k := range feed.Kinds() {
		s := feed.DefaultSettings(name, k, e.Sim.Clock())
		if settings != nil {
			settings(k, &s)
		}
		all[k] = s
	}
	in, err := e.Store.CreateInstance(context.Background(), feed.Instance{Name: name, BaseURL: e.URL, VerifyTLS: true}, token, e.Seal, all)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// Channel reads a channel.
func (e *Env) Channel(t testing.TB, instance string, k feed.Kind) feed.Channel {
	t.Helper()
	ch, err := e.Store.Channel(context.Background(), instance, k)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// FastClient makes the Ignite client retry at once and without a rate
// limit, as tests want it.
func FastClient(o *ignite.Options) {
	o.RetryBase, o.RetryMax, o.RetryAfterCap, o.RateLimit = time.Millisecond, 5*time.Millisecond, 10*time.Millisecond, -1
}

// Loopback lets instances reach the simulator on loopback.
var Loopback = &ignite.AddrPolicy{AllowLoopback: true}
