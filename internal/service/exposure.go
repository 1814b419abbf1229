package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// RematchInventory matches the whole stored inventory against the stored
// vulnerabilities (every TLP: exposures are filtered by the reader's cap
// when read) with the rules of cmdb, and records the result as exposures
// (store.ReconcileExposures): new matches open, matches gone resolve. It
// runs after an import and after polls that stored or changed
// vulnerabilities; one at a time.
func (s *Service) RematchInventory(ctx context.Context) (store.ExposureCounts, error) {
	s.matchMu.Lock()
	defer s.matchMu.Unlock()
	for { // an import waits for another process's matching to end
		ok, err := s.Store.AcquireMatchLease(ctx, s.holder(), matchLease)
		if err != nil {
			return store.ExposureCounts{}, err
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return store.ExposureCounts{}, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	defer s.Store.ReleaseMatchLease(context.WithoutCancel(ctx), s.holder()) //nolint:errcheck // it lapses in any case
	return s.rematch(ctx)
}

// ErrMatchBusy says another process is matching the inventory: what it
// does not take, the next kick does.
var ErrMatchBusy = errors.New("exposures: another process is matching the inventory")

// matchLease is how long a matcher holds the right to match unless it
// renews it (every batch).
const matchLease = 2 * time.Minute

// holder names this process in the match lease: host:pid.
func (s *Service) holder() string {
	if s.Holder != "" {
		return s.Holder
	}
	h, _ := os.Hostname()
	return h + ":" + strconv.Itoa(os.Getpid())
}

// inventory reads the whole stored inventory.
func (s *Service) inventory(ctx context.Context) ([]store.InventoryRow, error) {
	var all []store.InventoryRow
	for after := int64(0); ; {
		rows, err := s.Store.Inventory(ctx, after, cmdb.MaxAssets)
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			return all, nil
		}
		after = rows[len(rows)-1].ID
		all = append(all, rows...)
	}
}

// rematch matches the whole inventory against every vulnerability, and
// records that everything stored before it began is matched.
func (s *Service) rematch(ctx context.Context) (store.ExposureCounts, error) {
	mark, err := s.Store.AddedMark(ctx)
	if err != nil {
		return store.ExposureCounts{}, err
	}
	all, err := s.inventory(ctx)
	if err != nil {
		return store.ExposureCounts{}, err
	}
	// Batches of one product's rows as far as possible (a product's
	// candidates are read once a batch), each matched and recorded on its
	// own: what is held at once is bounded by a batch's matches.
	slices.SortStableFunc(all, func(a, b store.InventoryRow) int {
		return strings.Compare(strings.ToLower(a.Product+a.CPE), strings.ToLower(b.Product+b.CPE))
	})
	var total store.ExposureCounts
	for len(all) > 0 {
		batch := all[:min(rematchBatch, len(all))]
		all = all[len(batch):]
		assets := make([]cmdb.Asset, len(batch))
		ids := make([]int64, len(batch))
		for i, r := range batch {
			assets[i] = cmdb.Asset{AssetID: r.AssetID, Asset: r.Name, Vendor: r.Vendor, Product: r.Product, Version: r.Version, CPE: r.CPE}
			ids[i] = r.ID
		}
		res, _, err := cmdb.MatchAll(ctx, s.Store, assets, "", &s.products)
		if err != nil {
			return total, err
		}
		var found []store.Found
		for i, r := range res {
			for _, m := range r.Matches {
				if m.Unplaced { // the asset's version is given, and none the vulnerability lists
					continue
				}
				found = append(found, store.Found{AssetRow: batch[i].ID, VulnID: m.VulnerabilityID, How: m.How, Reason: m.Reason})
			}
		}
		c, err := s.Store.ReconcileExposures(ctx, ids, found)
		if err != nil {
			return total, err
		}
		if ok, err := s.Store.AcquireMatchLease(ctx, s.holder(), matchLease); err != nil || !ok { // renewed
			if err == nil {
				err = fmt.Errorf("exposures: the match lease lapsed and another process took it")
			}
			return total, err
		}
		total.Opened, total.Reopened, total.Resolved, total.Seen = total.Opened+c.Opened, total.Reopened+c.Reopened,
			total.Resolved+c.Resolved, total.Seen+c.Seen
	}
	if total.Opened+total.Reopened+total.Resolved > 0 {
		s.log().Info("exposures: inventory matched", "opened", total.Opened, "reopened", total.Reopened, "resolved", total.Resolved,
			"seen", total.Seen)
	}
	return total, s.Store.SetMatchMark(ctx, mark)
}

// MatchChanged matches the vulnerabilities stored or changed since the
// last matching (the added log says which, in commit order) against the
// whole stored inventory, and records the result as exposures of those
// vulnerabilities: what a poll brought costs in proportion to it, not to
// every vulnerability stored. Never matched before, it matches everything.
func (s *Service) MatchChanged(ctx context.Context) (store.ExposureCounts, error) {
	s.matchMu.Lock()
	defer s.matchMu.Unlock()
	got, err := s.Store.AcquireMatchLease(ctx, s.holder(), matchLease)
	if err != nil {
		return store.ExposureCounts{}, err
	}
	if !got {
		return store.ExposureCounts{}, ErrMatchBusy
	}
	defer s.Store.ReleaseMatchLease(context.WithoutCancel(ctx), s.holder()) //nolint:errcheck // it lapses in any case
	after, ok, err := s.Store.MatchMark(ctx)
	if err != nil || !ok {
		if err != nil {
			return store.ExposureCounts{}, err
		}
		return s.rematch(ctx)
	}
	rows, err := s.inventory(ctx)
	if err != nil {
		return store.ExposureCounts{}, err
	}
	if len(rows) == 0 { // nothing to match: everything so far is matched
		mark, err := s.Store.AddedMark(ctx)
		if err != nil {
			return store.ExposureCounts{}, err
		}
		return store.ExposureCounts{}, s.Store.SetMatchMark(ctx, max(mark, after))
	}
	assets := make([]cmdb.Asset, len(rows))
	for i, r := range rows {
		assets[i] = cmdb.Asset{AssetID: r.AssetID, Asset: r.Name, Vendor: r.Vendor, Product: r.Product, Version: r.Version, CPE: r.CPE}
	}
	index := cmdb.NewIndex(assets)
	var total store.ExposureCounts
	for {
		ids, last, err := s.Store.ChangedVulnerabilities(ctx, after, changedBatch)
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			break
		}
		res, err := s.Store.Search(ctx, store.Query{IDs: ids, Types: []intel.Type{intel.Vulnerability}, Bare: true, Limit: len(ids)})
		if err != nil {
			return total, err
		}
		// Recorded vulnerability by vulnerability in groups of at most
		// about maxFound matches: what is held at once stays bounded
		// whatever the inventory.
		byID := make(map[int64]*intel.Object, len(res.Objects))
		for i := range res.Objects {
			byID[res.Objects[i].ID] = &res.Objects[i]
		}
		var found []store.Found
		var group []int64
		flush := func() error {
			c, err := s.Store.ReconcileVulnExposures(ctx, group, found)
			total.Opened, total.Reopened, total.Resolved, total.Seen = total.Opened+c.Opened, total.Reopened+c.Reopened,
				total.Resolved+c.Resolved, total.Seen+c.Seen
			found, group = found[:0], group[:0]
			return err
		}
		for _, id := range ids {
			group = append(group, id)
			if v := byID[id]; v != nil { // else removed since: its exposures went with it
				for _, m := range index.Match(v) {
					if !m.Unplaced {
						found = append(found, store.Found{AssetRow: rows[m.Asset].ID, VulnID: id, How: m.How, Reason: m.Reason})
					}
				}
			}
			if len(found) >= maxFound {
				if err := flush(); err != nil {
					return total, err
				}
			}
		}
		if err := flush(); err != nil {
			return total, err
		}
		if err := s.Store.SetMatchMark(ctx, last); err != nil {
			return total, err
		}
		after = last
		if ok, err := s.Store.AcquireMatchLease(ctx, s.holder(), matchLease); err != nil || !ok { // renewed
			if err == nil {
				err = fmt.Errorf("exposures: the match lease lapsed and another process took it")
			}
			return total, err
		}
	}
	if total.Opened+total.Reopened+total.Resolved > 0 {
		s.log().Info("exposures: changed vulnerabilities matched", "opened", total.Opened, "reopened", total.Reopened,
			"resolved", total.Resolved, "seen", total.Seen)
	}
	return total, nil
}

// MatchBeside runs MatchChanged on every signal of kick (its senders
// coalesce them), at most once per spacing, until ctx ends: serve matches
// what polls store beside them, page after page.
func (s *Service) MatchBeside(ctx context.Context, kick <-chan struct{}, spacing time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		for {
			_, err := s.MatchChanged(ctx)
			if err != nil && !errors.Is(err, ErrMatchBusy) && ctx.Err() == nil {
				s.log().Warn("exposures: matching the inventory failed; the next page or poll tries again", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(spacing):
			}
			if !errors.Is(err, ErrMatchBusy) {
				break
			}
			// Another process matches: this one tries again, so that what
			// was committed after that one last looked is not left behind.
		}
	}
}

// changedBatch is how many changed vulnerabilities are read at once, and
// maxFound about the most matches held before they are recorded.
const (
	changedBatch = 200
	maxFound     = 50000
)

// rematchBatch is how many inventory rows are matched and recorded at
// once (each keeps at most cmdb.MaxMatches exposures).
const rematchBatch = 200

// Exposures lists exposures the principal may see (none of a
// vulnerability above its TLP cap).
func (s *Service) Exposures(ctx context.Context, p *auth.Principal, q store.ExposureQuery) ([]store.Exposure, error) {
	if err := need(p, auth.ReadIntel); err != nil {
		return nil, err
	}
	for _, st := range q.States {
		switch st {
		case store.ExposureOpen, store.ExposureAcknowledged, store.ExposureResolved, store.ExposureDismissed:
		default:
			return nil, intel.Errorf(intel.EINVALID, "state %q: want open, acknowledged, resolved or dismissed", st)
		}
	}
	if q.Limit < 1 || q.Limit > 1000 {
		return nil, intel.Errorf(intel.EINVALID, "limit %d: want 1–1000", q.Limit)
	}
	q.MaxTLP = p.Cap()
	return s.Store.Exposures(ctx, q)
}

// AcknowledgeExposure marks an open exposure acknowledged: seen by a
// person, still to fix.
func (s *Service) AcknowledgeExposure(ctx context.Context, p *auth.Principal, id int64) (store.Exposure, error) {
	return s.setExposure(ctx, p, id, store.ExposureAcknowledged, "", "exposure.acknowledge", store.ExposureOpen)
}

// DismissExposure marks an open or acknowledged exposure dismissed, with
// the person's reason (a false match, an accepted risk); matching again
// leaves it dismissed.
func (s *Service) DismissExposure(ctx context.Context, p *auth.Principal, id int64, reason string) (store.Exposure, error) {
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n < 1 || n > 500 {
		return store.Exposure{}, intel.Errorf(intel.EINVALID, "a dismissal needs a reason of 1–500 characters (have %d)", n)
	}
	return s.setExposure(ctx, p, id, store.ExposureDismissed, reason, "exposure.dismiss", store.ExposureOpen, store.ExposureAcknowledged)
}

func (s *Service) setExposure(ctx context.Context, p *auth.Principal, id int64, state, reason, action string, from ...string) (store.Exposure, error) {
	if err := need(p, auth.ReadIntel); err != nil {
		return store.Exposure{}, err
	}
	if _, err := s.Store.Exposure(ctx, id, p.Cap()); err != nil {
		return store.Exposure{}, err
	}
	if err := s.Store.SetExposureState(ctx, id, state, reason, p.Actor(), from...); err != nil {
		return store.Exposure{}, err
	}
	e, err := s.Store.Exposure(ctx, id, p.Cap())
	if err != nil {
		return store.Exposure{}, err
	}
	s.audit(ctx, p, action, "exposure:"+strconv.FormatInt(id, 10), map[string]any{"asset_id": e.AssetID, "vulnerability": e.Vuln, "reason": reason})
	return e, nil
}
