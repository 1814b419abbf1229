package service

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/notify"
	"github.com/flintcti/flint/internal/store"
)

// NotifySealer seals (or opens) a rule's webhook URL or signing secret for
// its row id; what is "url" or "secret" (package secret binds each to its
// rule and purpose).
type NotifySealer func(ruleID int64, what string, plain []byte) ([]byte, error)

// Destinations lists the allow-list of webhook destinations.
func (s *Service) Destinations(ctx context.Context, p *auth.Principal) ([]notify.Destination, error) {
	if err := need(p, auth.ManageNotifications); err != nil {
		return nil, err
	}
	return s.Store.Destinations(ctx)
}

// AllowDestination puts a host (or *.domain, or an address; with an
// optional port) on the allow-list.
func (s *Service) AllowDestination(ctx context.Context, p *auth.Principal, pattern string) (notify.Destination, error) {
	if err := need(p, auth.ManageDestinations); err != nil {
		return notify.Destination{}, err
	}
	pat, err := notify.ParsePattern(pattern)
	if err != nil {
		return notify.Destination{}, err
	}
	d, err := s.Store.AddDestination(ctx, pat, p.Actor())
	if err != nil {
		return d, err
	}
	s.audit(ctx, p, "notify.destination.allow", "destination:"+pat, nil)
	return d, nil
}

// DisallowDestination takes a pattern off the allow-list; rules to it
// stay, and their deliveries fail (named) until it is allowed again.
func (s *Service) DisallowDestination(ctx context.Context, p *auth.Principal, pattern string) error {
	if err := need(p, auth.ManageDestinations); err != nil {
		return err
	}
	pat, err := notify.ParsePattern(pattern)
	if err != nil {
		return err
	}
	if err := s.Store.RemoveDestination(ctx, pat); err != nil {
		return err
	}
	s.audit(ctx, p, "notify.destination.disallow", "destination:"+pat, nil)
	return nil
}

// RuleInput is a new notification rule as a user gives it.
type RuleInput struct {
	Name    string         `json:"name"`
	Event   string         `json:"event"`
	Webhook string         `json:"webhook"`
	Secret  string         `json:"secret,omitempty"`
	Format  string         `json:"format,omitempty"`
	MaxTLP  string         `json:"max_tlp,omitempty"`
	Filters notify.Filters `json:"filters"`
}

// DefaultRuleTLP is the highest TLP a rule sends when none is given: a
// webhook leaves Flint for another system.
const DefaultRuleTLP = intel.TLPAmber

// AddRule stores a notification rule. The webhook's host must be on the
// allow-list; the URL and the secret are sealed; the rule sends nothing
// above its TLP cap, which cannot be wider than its creator's, and a rule
// that sends intelligence (exposures) needs read_intel.
func (s *Service) AddRule(ctx context.Context, p *auth.Principal, in RuleInput) (notify.Rule, error) {
	if err := need(p, auth.ManageNotifications); err != nil {
		return notify.Rule{}, err
	}
	if in.Event == notify.Exposure {
		if err := need(p, auth.ReadIntel); err != nil {
			return notify.Rule{}, err
		}
	}
	r := notify.Rule{Name: in.Name, Event: in.Event, Format: in.Format, Filters: in.Filters, CreatedBy: p.Actor()}
	var errs []intel.FieldError
	r.MaxTLP = DefaultRuleTLP
	if in.MaxTLP != "" {
		t, err := intel.ParseTLP(in.MaxTLP)
		if err != nil {
			errs = append(errs, intel.FieldError{Field: "max_tlp", Message: intel.ErrorMessage(err)})
		}
		r.MaxTLP = t
	} else if c := p.Cap(); c != "" && c.Rank() < r.MaxTLP.Rank() {
		r.MaxTLP = c
	}
	if err := r.Validate(); err != nil {
		errs = append(errs, intel.Fields(err)...)
	}
	t, err := notify.ParseTarget(in.Webhook)
	if err != nil {
		errs = append(errs, intel.Fields(err)...)
	}
	if n := len(in.Secret); in.Secret != "" && (n < notify.MinSecretLen || n > notify.MaxSecretLen || !utf8.ValidString(in.Secret)) {
		errs = append(errs, intel.FieldError{Field: "secret", Message: fmt.Sprintf("the signing secret must be %d–%d bytes of text (it is %d)",
			notify.MinSecretLen, notify.MaxSecretLen, n)})
	}
	if len(errs) > 0 {
		return r, intel.Invalid(errs)
	}
	if c := p.Cap(); c != "" && r.MaxTLP.Rank() > c.Rank() {
		return r, intel.Errorf(intel.EFORBIDDEN, "%s is capped at TLP:%s and cannot make a rule that sends TLP:%s", p.Actor(),
			c, r.MaxTLP)
	}
	patterns, err := s.Store.DestinationPatterns(ctx)
	if err != nil {
		return r, err
	}
	if _, ok := notify.Allowed(t, patterns); !ok {
		return r, intel.Invalid([]intel.FieldError{{Field: "webhook", Message: fmt.Sprintf(
			"destination %s is not on the allow-list of webhook destinations; an admin adds it (flint notify allow %s)", t.Host, t.Host)}})
	}
	if s.SealNotify == nil {
		return r, intel.Errorf(intel.EINTERNAL, "no key to seal the webhook with")
	}
	r.URLHint, r.Host = t.Hint, t.Host
	r.HasSecret = in.Secret != ""
	r, err = s.Store.CreateRule(ctx, r, func(id int64) (notify.Sealed, error) {
		var x notify.Sealed
		var err error
		if x.URL, err = s.SealNotify(id, "url", []byte(in.Webhook)); err != nil {
			return x, err
		}
		if in.Secret != "" {
			x.Secret, err = s.SealNotify(id, "secret", []byte(in.Secret))
		}
		return x, err
	})
	if err != nil {
		return r, err
	}
	s.audit(ctx, p, "notify.rule.add", ruleTarget(r), map[string]any{"event": r.Event, "destination": r.Host, "format": r.Format,
		"filters": r.Filters, "max_tlp": r.MaxTLP, "signed": r.HasSecret})
	return r, nil
}

func ruleTarget(r notify.Rule) string { return fmt.Sprintf("rule:%d %s", r.ID, r.Name) }

// Rules lists the notification rules.
func (s *Service) Rules(ctx context.Context, p *auth.Principal) ([]notify.Rule, error) {
	if err := need(p, auth.ManageNotifications); err != nil {
		return nil, err
	}
	return s.Store.NotifyRules(ctx, "")
}

// RemoveRule removes a rule and its deliveries.
func (s *Service) RemoveRule(ctx context.Context, p *auth.Principal, name string) (notify.Rule, error) {
	if err := need(p, auth.ManageNotifications); err != nil {
		return notify.Rule{}, err
	}
	r, err := s.Store.DeleteRule(ctx, name)
	if err != nil {
		return r, err
	}
	s.audit(ctx, p, "notify.rule.remove", ruleTarget(r), nil)
	return r, nil
}

// RuleTestResult is how a test notification went.
type RuleTestResult struct {
	Rule      string `json:"rule"`
	Delivered bool   `json:"delivered"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
}

// TestRule sends a test notification to a rule's webhook now, signed and
// checked as a real one, and says how it went.
func (s *Service) TestRule(ctx context.Context, p *auth.Principal, name string) (RuleTestResult, error) {
	if err := need(p, auth.ManageNotifications); err != nil {
		return RuleTestResult{}, err
	}
	r, err := s.Store.NotifyRule(ctx, name)
	if err != nil {
		return RuleTestResult{}, err
	}
	if s.Notifier == nil {
		return RuleTestResult{}, intel.Errorf(intel.EINTERNAL, "notifications are not set up in this process")
	}
	sealed, err := s.Store.RuleSealed(ctx, r.ID)
	if err != nil {
		return RuleTestResult{}, err
	}
	patterns, err := s.Store.DestinationPatterns(ctx)
	if err != nil {
		return RuleTestResult{}, err
	}
	key := "test-" + fmt.Sprintf("%d-%d", r.ID, s.now().UnixNano())
	ev := notify.Event{Kind: "test", Created: s.now().Truncate(time.Second)}
	body, err := notify.Body(&r, key, ev, &notify.TestFacts{Rule: r.Name, Test: true})
	if err != nil {
		return RuleTestResult{}, err
	}
	a := s.Notifier.Send(ctx, r.ID, sealed, patterns, key, "test", body)
	s.audit(ctx, p, "notify.rule.test", ruleTarget(r), map[string]any{"delivered": a.OK, "status": a.Status, "error": a.Error})
	return RuleTestResult{Rule: r.Name, Delivered: a.OK, Status: a.Status, Error: a.Error}, nil
}

// Deliveries lists deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, p *auth.Principal, q store.DeliveryQuery) ([]notify.Delivery, error) {
	if err := need(p, auth.ManageNotifications); err != nil {
		return nil, err
	}
	if q.State != "" && q.State != notify.Pending && q.State != notify.Delivered && q.State != notify.GivenUp {
		return nil, intel.Invalid([]intel.FieldError{{Field: "state", Message: fmt.Sprintf("state %q is not known; allowed: pending, delivered, given_up", q.State)}})
	}
	if q.Limit < 1 || q.Limit > 1000 {
		q.Limit = 100
	}
	return s.Store.Deliveries(ctx, q)
}
