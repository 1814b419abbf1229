package bench

import (
	"context"
	"crypto/rand"
	"strconv"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/scheduler"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/store"
)

// pipeline is Flint's ingest path on a fresh store: a scheduler over it and
// one channel of an instance of the simulator, the only one enabled.
type pipeline struct {
	store     *store.Store
	scheduler *scheduler.Scheduler
	channel   feed.Channel
	dir       string // the temporary directory of the SQLite file; "" with Env.DB
	close     func()
}

// newPipeline opens a fresh store (Env.DB, or a SQLite file in a temporary
// directory, kept when keep), creates an instance of the simulator at base
// with only the channel kind enabled (manual, from start), and a scheduler
// that may reach the simulator on loopback.
func newPipeline(ctx context.Context, env Env, name string, kind feed.Kind, base, token string, start time.Time, keep bool) (*pipeline, error) {
	dsn, dir, remove, err := env.tempDB(name, keep)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, store.Options{DSN: dsn, Logger: env.Log})
	if err != nil {
		remove()
		return nil, err
	}
	p := &pipeline{store: st, dir: dir, close: func() { st.Close(); remove() }}
	key := make([]byte, 32) // this run's key: the token is sealed like any other
	rand.Read(key)
	box, err := secret.New(key)
	if err != nil {
		p.close()
		return nil, err
	}
	seal := func(id int64, tok string) ([]byte, error) { return box.Seal([]byte(tok), secret.InstanceAD(id)) }
	settings := map[feed.Kind]feed.Settings{}
	for _, k := range feed.Kinds() {
		s := feed.DefaultSettings("bench", k, time.Now())
		s.StartAt, s.Enabled, s.Schedule = start, k == kind, feed.Manual
		settings[k] = s
	}
	instance := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) // unique when Env.DB names a shared database
	if _, err = st.CreateInstance(ctx, feed.Instance{Name: instance, BaseURL: base, VerifyTLS: true}, token, seal, settings); err == nil {
		p.channel, err = st.Channel(ctx, instance, kind)
	}
	if err != nil {
		p.close()
		return nil, err
	}
	p.scheduler = &scheduler.Scheduler{Store: st, Box: box, Log: env.Log, Version: env.Version,
		Addresses: &ignite.AddrPolicy{AllowLoopback: true}}
	return p, nil
}
