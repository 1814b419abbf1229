package auth

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Throttle counts failed authentications per client address: Burst at
// once, then one per Every. It tracks at most MaxAddrs addresses, and
// forgets them all rather than grow without bound. The zero value is not
// ready: set Burst and Every.
type Throttle struct {
	Burst    int
	Every    time.Duration
	MaxAddrs int // default 10,000

	m sync.Map // address → *rate.Limiter
	n atomic.Int64
}

// Held reports whether addr has no failure left to spend (a request from
// it is refused before any look-up). It records nothing.
func (t *Throttle) Held(addr string) bool {
	l, ok := t.m.Load(addr)
	return ok && l.(*rate.Limiter).Tokens() < 1
}

// Fail spends one of addr's failures.
func (t *Throttle) Fail(addr string) { t.limiter(addr).Allow() }

func (t *Throttle) limiter(addr string) *rate.Limiter {
	if l, ok := t.m.Load(addr); ok {
		return l.(*rate.Limiter)
	}
	maxAddrs := t.MaxAddrs
	if maxAddrs <= 0 {
		maxAddrs = 10000
	}
	if t.n.Add(1) > int64(maxAddrs) {
		t.m.Clear()
		t.n.Store(1)
	}
	l, _ := t.m.LoadOrStore(addr, rate.NewLimiter(rate.Every(t.Every), t.Burst))
	return l.(*rate.Limiter)
}

// ClientAddr is a request's remote IP address (no port).
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
