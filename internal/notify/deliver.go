package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/flintcti/flint/internal/intel"
)

// Delivery states.
const (
	Pending   = "pending"   // waiting for its next attempt
	Delivered = "delivered" // a 2xx answer
	GivenUp   = "given_up"  // MaxAttempts failed
)

// Delivery is one event's delivery to one rule.
type Delivery struct {
	ID         int64     `json:"id"`
	Key        string    `json:"idempotency_key"`
	EventID    int64     `json:"event_id"`
	RuleID     int64     `json:"rule_id"`
	Rule       string    `json:"rule"`
	Kind       string    `json:"event"`
	State      string    `json:"state"`
	Attempts   int       `json:"attempts"`
	NextAt     time.Time `json:"next_attempt,omitzero"`
	LastStatus int       `json:"last_status,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	Created    time.Time `json:"created"`
	Delivered  time.Time `json:"delivered,omitzero"`
	Body       []byte    `json:"-"`
}

// NewDelivery is a delivery made by a dispatch.
type NewDelivery struct {
	RuleID int64
	Key    string
	Body   []byte
}

// Attempt is how one delivery attempt went.
type Attempt struct {
	OK     bool
	Status int    // the receiver's HTTP status, 0 without an answer
	Error  string // why it failed, without the URL or the secret
}

// Sealed are a rule's sealed URL and secret (nil: none).
type Sealed struct {
	URL, Secret []byte
}

// Outbox is what the deliverer needs of the store.
type Outbox interface {
	PendingEvents(ctx context.Context, limit int) ([]Event, error)
	ExposureFacts(ctx context.Context, exposureID int64) (*ExposureFacts, error) // nil: the exposure is gone
	NotifyRules(ctx context.Context, event string) ([]Rule, error)
	FanOut(ctx context.Context, eventID int64, ds []NewDelivery) error
	ClaimDeliveries(ctx context.Context, holder string, until time.Time, limit int) ([]Delivery, error)
	FinishAttempt(ctx context.Context, d Delivery, holder string, a Attempt, maxAttempts int, next time.Time) error
	DestinationPatterns(ctx context.Context) ([]string, error)
	RuleSealed(ctx context.Context, ruleID int64) (Sealed, error)
	PruneOutbox(ctx context.Context, cutoff time.Time) (int64, error)
}

// KeepEvents is how long dispatched events and their finished deliveries
// stay visible before they are pruned.
const KeepEvents = 30 * 24 * time.Hour

// Opener opens a rule's sealed URL or secret (package secret; what names
// which: "url" or "secret").
type Opener func(ruleID int64, what string, sealed []byte) ([]byte, error)

// Deliverer dispatches outbox events to rules and delivers them.
type Deliverer struct {
	Store  Outbox
	Open   Opener
	Holder string // this process, for delivery claims
	// AllowInternal lets webhooks reach loopback, private and link-local
	// addresses (receivers inside the network, and tests); off, only
	// public addresses are dialled, whatever a host name resolves to.
	AllowInternal bool
	Timeout       time.Duration // per attempt; default 10 s
	MaxAttempts   int           // then given up; default 10
	Backoff       time.Duration // first retry's wait, doubled each time up to an hour; default 30 s
	UserAgent     string
	Now           func() time.Time
	Log           *slog.Logger
	// Attempted, when set, is told of each attempt: the event kind and
	// delivered, failed or given_up (metrics).
	Attempted func(event, result string)

	clientOnce sync.Once
	client     *http.Client
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Deliverer) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (d *Deliverer) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return 10 * time.Second
}

// MaxAttemptsDefault is the bound on attempts when none is set.
const MaxAttemptsDefault = 10

func (d *Deliverer) maxAttempts() int {
	if d.MaxAttempts > 0 {
		return d.MaxAttempts
	}
	return MaxAttemptsDefault
}

// wait is the pause after the n-th failed attempt.
func (d *Deliverer) wait(n int) time.Duration {
	b := d.Backoff
	if b <= 0 {
		b = 30 * time.Second
	}
	for i := 1; i < n && b < time.Hour; i++ {
		b *= 2
	}
	return min(b, time.Hour)
}

// ClaimFor is how long a claimed delivery is this process's: past it (the
// process died mid-attempt), another takes it.
func (d *Deliverer) ClaimFor() time.Duration { return 2*d.timeout() + 5*time.Second }

// Run dispatches and delivers every tick until ctx ends.
func (d *Deliverer) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var pruned time.Time
	for {
		if now := d.now(); now.Sub(pruned) >= time.Hour {
			if n, err := d.Store.PruneOutbox(ctx, now.Add(-KeepEvents)); err != nil && ctx.Err() == nil {
				d.log().Warn("notify: pruning old events failed", "error", err)
			} else if n > 0 {
				d.log().Info("notify: old events pruned", "events", n)
			}
			pruned = now
		}
		if _, err := d.Dispatch(ctx); err != nil && ctx.Err() == nil {
			d.log().Warn("notify: dispatching events failed; trying again", "error", err)
		}
		if _, err := d.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			d.log().Warn("notify: delivering failed; trying again", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Dispatch fans the outbox's pending events out to the rules that want
// them: each event's deliveries are made, and the event marked dispatched,
// in one transaction. It returns how many deliveries it made.
func (d *Deliverer) Dispatch(ctx context.Context) (int, error) {
	made := 0
	for {
		evs, err := d.Store.PendingEvents(ctx, 100)
		if err != nil || len(evs) == 0 {
			return made, err
		}
		rules := map[string][]Rule{}
		for _, ev := range evs {
			rs, ok := rules[ev.Kind]
			if !ok {
				if rs, err = d.Store.NotifyRules(ctx, ev.Kind); err != nil {
					return made, err
				}
				rules[ev.Kind] = rs
			}
			ds, err := d.deliveriesOf(ctx, ev, rs)
			if err != nil {
				return made, err
			}
			if err := d.Store.FanOut(ctx, ev.ID, ds); err != nil {
				return made, err
			}
			made += len(ds)
		}
	}
}

func (d *Deliverer) deliveriesOf(ctx context.Context, ev Event, rules []Rule) ([]NewDelivery, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	var data any
	var wants func(r *Rule) bool
	switch ev.Kind {
	case Exposure:
		x, err := d.Store.ExposureFacts(ctx, ev.SubjectID)
		if err != nil {
			return nil, err
		}
		if x == nil { // removed since (its asset or vulnerability is gone)
			return nil, nil
		}
		var extra struct {
			Reopened bool `json:"reopened"`
		}
		_ = jsonUnmarshal(ev.Data, &extra)
		x.Exposure.Reopened = extra.Reopened
		data, wants = x, func(r *Rule) bool { return r.WantsExposure(x) }
	default:
		var c ChannelFacts
		if err := jsonUnmarshal(ev.Data, &c); err != nil {
			return nil, fmt.Errorf("notify: event %d: %w", ev.ID, err)
		}
		data, wants = &c, func(r *Rule) bool { return r.WantsChannel(ev.Kind, &c) }
	}
	var out []NewDelivery
	for i := range rules {
		r := &rules[i]
		if !wants(r) {
			continue
		}
		key := uuid.NewString()
		body, err := Body(r, key, ev, data)
		if err != nil {
			return nil, err
		}
		out = append(out, NewDelivery{RuleID: r.ID, Key: key, Body: body})
	}
	return out, nil
}

// DeliverDue attempts every delivery that is due, claiming them first (so
// that replicas never attempt one at once), and returns how many were
// delivered.
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	done := 0
	for {
		ds, err := d.Store.ClaimDeliveries(ctx, d.Holder, d.now().Add(d.ClaimFor()), 20)
		if err != nil || len(ds) == 0 {
			return done, err
		}
		patterns, err := d.Store.DestinationPatterns(ctx)
		if err != nil {
			return done, err
		}
		for _, dl := range ds {
			a := d.attempt(ctx, dl, patterns)
			if ctx.Err() != nil {
				return done, ctx.Err() // the claim lapses; the next process attempts it again
			}
			n := dl.Attempts + 1
			if err := d.Store.FinishAttempt(context.WithoutCancel(ctx), dl, d.Holder, a, d.maxAttempts(), d.now().Add(d.wait(n))); err != nil {
				return done, err
			}
			if d.Attempted != nil {
				result := "failed"
				if a.OK {
					result = Delivered
				} else if n >= d.maxAttempts() {
					result = GivenUp
				}
				d.Attempted(dl.Kind, result)
			}
			switch {
			case a.OK:
				done++
			case n >= d.maxAttempts():
				d.log().Warn("notify: delivery given up", "delivery", dl.ID, "rule", dl.Rule, "event", dl.EventID, "attempts", n, "error", a.Error)
			default:
				d.log().Info("notify: delivery failed; retrying", "delivery", dl.ID, "rule", dl.Rule, "attempts", n, "error", a.Error)
			}
		}
	}
}

// attempt sends one delivery.
func (d *Deliverer) attempt(ctx context.Context, dl Delivery, patterns []string) Attempt {
	sealed, err := d.Store.RuleSealed(ctx, dl.RuleID)
	if err != nil {
		return Attempt{Error: "the rule could not be read: " + intel.ErrorMessage(err)}
	}
	return d.Send(ctx, dl.RuleID, sealed, patterns, dl.Key, dl.Kind, dl.Body)
}

// Send posts body to a rule's webhook, signed when the rule has a secret,
// after checking the URL against the allow-list, and says how it went.
// The URL and the secret appear in nothing it returns.
func (d *Deliverer) Send(ctx context.Context, ruleID int64, sealed Sealed, patterns []string, key, kind string, body []byte) Attempt {
	raw, err := d.Open(ruleID, "url", sealed.URL)
	if err != nil {
		return Attempt{Error: "the webhook URL could not be unsealed (was the key changed?)"}
	}
	t, err := ParseTarget(string(raw))
	if err != nil {
		return Attempt{Error: intel.ErrorMessage(err)}
	}
	if _, ok := Allowed(t, patterns); !ok {
		return Attempt{Error: "destination " + t.Host + " is not on the allow-list (flint notify allow)"}
	}
	var secret []byte
	if sealed.Secret != nil {
		if secret, err = d.Open(ruleID, "secret", sealed.Secret); err != nil {
			return Attempt{Error: "the signing secret could not be unsealed (was the key changed?)"}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL.String(), bytes.NewReader(body))
	if err != nil {
		return Attempt{Error: "the request could not be made"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.UserAgent)
	req.Header.Set(IdempotencyHeader, key)
	req.Header.Set(EventHeader, kind)
	if secret != nil {
		req.Header.Set(SignatureHeader, Sign(secret, d.now(), body))
	}
	resp, err := d.httpClient().Do(req)
	if err != nil {
		return Attempt{Error: describe(err, t)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // the connection back to the pool; the answer's text is not kept
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return Attempt{OK: true, Status: resp.StatusCode}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return Attempt{Status: resp.StatusCode, Error: "the receiver answered " + resp.Status + " (redirects are not followed)"}
	}
	return Attempt{Status: resp.StatusCode, Error: "the receiver answered " + strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)}
}

// describe says why a request failed without the URL (which url.Error
// quotes).
func describe(err error, t Target) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var refused *refusedAddr
	switch {
	case errors.As(err, &refused):
		return refused.Error()
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "no answer from " + t.Host + " in time"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection to " + t.Host + " refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection to " + t.Host + " reset"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "the name " + t.URL.Hostname() + " did not resolve"
	}
	return "the request to " + t.Host + " failed (network or TLS)"
}

// refusedAddr is a dial to an address webhooks may not reach.
type refusedAddr struct{ addr netip.Addr }

func (e *refusedAddr) Error() string {
	return "the webhook's host resolved to " + e.addr.String() +
		", a loopback, private or special address, which webhooks may not reach (serve --notify-allow-internal allows it)"
}

// httpClient is a client that never follows redirects, uses no proxy and
// dials only the addresses the deliverer allows (checked on the address
// actually dialled, so a name that resolves differently later gains
// nothing).
func (d *Deliverer) httpClient() *http.Client {
	d.clientOnce.Do(d.makeClient)
	return d.client
}

func (d *Deliverer) makeClient() {
	dialer := &net.Dialer{Timeout: d.timeout(), Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		if !d.AllowInternal && !Public(ap.Addr()) {
			return &refusedAddr{ap.Addr()}
		}
		return nil
	}}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   d.timeout(),
		ResponseHeaderTimeout: d.timeout(),
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	d.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}
