// Package service holds Flint's use cases: each one takes the principal
// that asks, checks its permission, validates, does the work through the
// store and the scheduler, writes the audit record and returns a typed
// result. The REST API, the command line and the console only translate
// between their transport and these methods; none repeats a use case.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/notify"
	"github.com/flintcti/flint/internal/scheduler"
	"github.com/flintcti/flint/internal/store"
)

// Service is the use cases over one store and scheduler.
type Service struct {
	Store     *store.Store
	Scheduler *scheduler.Scheduler
	Seal      store.Sealer     // seals an instance's token for the store
	Now       func() time.Time // default time.Now
	Log       *slog.Logger     // default: discard

	// TokenKey signs TAXII's next tokens (secret.Box.Derive): the same key
	// across restarts and replicas keeps their tokens good. Unset, a random
	// key of the process.
	TokenKey []byte
	// Purged, when set, is told how many objects each retention batch
	// purged (metrics).
	Purged func(n int)
	// SealNotify seals a notification rule's webhook URL and secret;
	// Notifier sends test notifications (and, in serve, delivers).
	SealNotify NotifySealer
	Notifier   *notify.Deliverer
	// Holder names this process in the lease of matching the inventory
	// (one matcher at a time across processes); default host:pid.
	Holder string

	tokenOnce sync.Once
	randomKey []byte
	indexMu   sync.Mutex // one STIX id indexing at a time
	products  cmdb.Cache // the CMDB matcher's product catalogue, while the software is unchanged
	matchMu   sync.Mutex // one matching of the inventory at a time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// need checks that p holds perm. The transports check it too (the API per
// route); checking here keeps a new transport from forgetting.
func need(p *auth.Principal, perm auth.Permission) error {
	if p == nil {
		return intel.Errorf(intel.EUNAUTHORIZED, "no principal: sign in or give an API key")
	}
	if !p.Can(perm) {
		return intel.Errorf(intel.EFORBIDDEN, "%s (role %s) lacks the %s permission", p.Actor(), p.Role, perm)
	}
	if p.List != "" && perm != auth.ViewAPIFeed {
		return intel.Errorf(intel.EFORBIDDEN, "%s is bound to the blocklist %q and may only read it", p.Actor(), p.List)
	}
	return nil
}

// audit records a change made by p. The change is made when this runs, so
// a failure to record it is logged, not returned.
func (s *Service) audit(ctx context.Context, p *auth.Principal, action, target string, detail any) {
	if err := s.Store.Audit(context.WithoutCancel(ctx), p.Actor(), action, target, detail); err != nil {
		s.log().Error("the audit record was not written", "actor", p.Actor(), "action", action, "target", target, "error", err)
	}
}

// AuditTrail lists audit records, newest first, before the record id
// before (0: from the newest); next is the id to continue from, "" at the end.
func (s *Service) AuditTrail(ctx context.Context, p *auth.Principal, before int64, limit int) (recs []store.AuditRecord, next string, err error) {
	if err := need(p, auth.ManageKeys); err != nil {
		return nil, "", err
	}
	if limit < 1 || limit > 1000 {
		return nil, "", intel.Invalid([]intel.FieldError{{Field: "limit", Message: fmt.Sprintf("limit %d must be a whole number in 1–1000", limit)}})
	}
	if recs, err = s.Store.AuditTrail(ctx, before, limit); err != nil {
		return nil, "", err
	}
	if recs == nil {
		recs = []store.AuditRecord{}
	}
	if len(recs) == limit {
		next = fmt.Sprint(recs[len(recs)-1].ID)
	}
	return recs, next, nil
}
