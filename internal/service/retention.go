package service

import (
	"context"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
)

// Retention bounds.
const (
	MinRetentionDays = 1
	MaxRetentionDays = 3650
	// purgeBatch is how many objects one purge transaction deletes: a
	// poll's page waits for at most one such batch.
	purgeBatch = 500
	// purgeScan is how many expired ids one read of the objects lists.
	purgeScan = 10000
)

// PurgeResult is what a retention pass did.
type PurgeResult struct {
	Days   int       `json:"days"`
	Cutoff time.Time `json:"cutoff"` // objects valid until before this were purged
	Purged int       `json:"purged"`
}

// PurgeExpired deletes the objects whose validity ended more than days
// ago, with their provenance, relationships, text index and collection
// membership, in batches of purgeBatch (each its own short transaction, so
// that polls go on between them). The pass is audited when it purged
// anything, as the principal p (the daemon: system:retention).
func (s *Service) PurgeExpired(ctx context.Context, p *auth.Principal, days int) (PurgeResult, error) {
	if p == nil || p.Role != auth.Admin || p.List != "" {
		return PurgeResult{}, intel.Errorf(intel.EFORBIDDEN, "%s may not purge: purging intelligence needs the admin role", p.Actor())
	}
	if days < MinRetentionDays || days > MaxRetentionDays {
		return PurgeResult{}, intel.Errorf(intel.EINVALID, "retention days %d: want %d–%d (or leave retention off)", days,
			MinRetentionDays, MaxRetentionDays)
	}
	res := PurgeResult{Days: days, Cutoff: s.now().Add(-time.Duration(days) * 24 * time.Hour)}
	defer func() {
		if res.Purged > 0 {
			s.audit(ctx, p, "purge", "objects", res)
			s.log().Info("retention: expired objects purged", "objects", res.Purged, "expired_before", res.Cutoff)
		}
	}()
	var after int64
	for {
		ids, err := s.Store.Expired(ctx, res.Cutoff, after, purgeScan)
		if err != nil || len(ids) == 0 {
			return res, err
		}
		after = ids[len(ids)-1]
		for len(ids) > 0 {
			n := min(purgeBatch, len(ids))
			gone, err := s.Store.Purge(ctx, res.Cutoff, ids[:n])
			if err != nil {
				return res, err
			}
			ids = ids[n:]
			res.Purged += len(gone)
			if s.Purged != nil && len(gone) > 0 {
				s.Purged(len(gone))
			}
		}
	}
}
