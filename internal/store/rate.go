package store

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a limit: PerSecond on average, Burst at once.
type Rate struct {
	PerSecond float64
	Burst     int
}

// interval and tolerance of the generic cell rate algorithm, in µs.
func (r Rate) gcra() (t, tau int64) {
	t = int64(1e6 / r.PerSecond)
	return t, int64(max(r.Burst-1, 0)) * t
}

// Limits shared by every process of the store. On PostgreSQL, where
// replicas share the store, a limited key's next slot is a row updated in
// one statement per request (rate_slots, GCRA on the database's clock), so
// that replicas together keep to the limit. A SQLite store is served by one
// process: its limits are kept in memory and cost no write.

// Reserve takes the next slot of key's limit and returns how long to wait
// before using it (0: at once).
func (s *Store) Reserve(ctx context.Context, key string, r Rate) (time.Duration, error) {
	if s.dialect == SQLite {
		return s.memLimiter(key, r).Reserve().Delay(), nil
	}
	t, tau := r.gcra()
	var tat, now int64
	err := s.db.QueryRowContext(ctx, `WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us)
		INSERT INTO rate_slots (key, tat) SELECT $1, us + $2 FROM clock
		ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_slots.tat, (SELECT us FROM clock)) + $2
		RETURNING tat, (SELECT us FROM clock)`, key, t).Scan(&tat, &now)
	if err != nil {
		return 0, fmt.Errorf("store: reserve a slot of %s: %w", key, err)
	}
	return time.Duration(max(tat-t-tau-now, 0)) * time.Microsecond, nil
}

// Allow takes a slot of key's limit if one is free now, and reports
// whether it did.
func (s *Store) Allow(ctx context.Context, key string, r Rate) (bool, error) {
	if s.dialect == SQLite {
		return s.memLimiter(key, r).Allow(), nil
	}
	t, tau := r.gcra()
	rows, err := s.db.QueryContext(ctx, `WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us)
		INSERT INTO rate_slots (key, tat) SELECT $1, us + $2 FROM clock
		ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_slots.tat, (SELECT us FROM clock)) + $2
		WHERE GREATEST(rate_slots.tat, (SELECT us FROM clock)) - $3 <= (SELECT us FROM clock)
		RETURNING tat`, key, t, tau)
	if err != nil {
		return false, fmt.Errorf("store: take a slot of %s: %w", key, err)
	}
	defer rows.Close()
	ok := rows.Next()
	return ok, rows.Err()
}

// memLimiter is key's in-memory limiter (SQLite).
func (s *Store) memLimiter(key string, r Rate) *rate.Limiter {
	if l, ok := s.limits.Load(key); ok {
		return l.(*rate.Limiter)
	}
	l, _ := s.limits.LoadOrStore(key, rate.NewLimiter(rate.Limit(r.PerSecond), max(r.Burst, 1)))
	return l.(*rate.Limiter)
}

// Limiter is a limit shared through the store that requests wait for
// (ignite.Limiter).
type Limiter struct {
	s    *Store
	key  string
	rate Rate
}

// SharedLimiter returns the limiter of key at r.
func (s *Store) SharedLimiter(key string, r Rate) *Limiter { return &Limiter{s: s, key: key, rate: r} }

// Wait reserves the next slot and waits for it (or for ctx to end).
func (l *Limiter) Wait(ctx context.Context) error {
	d, err := l.s.Reserve(ctx, l.key, l.rate)
	if err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
