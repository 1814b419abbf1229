package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

// Exposure states.
const (
	ExposureOpen         = "open"
	ExposureAcknowledged = "acknowledged"
	ExposureResolved     = "resolved"
	ExposureDismissed    = "dismissed"
)

// Exposure is a vulnerability matching a row of the stored inventory.
type Exposure struct {
	ID          int64     `json:"id"`
	AssetRow    int64     `json:"asset_row"`
	AssetID     string    `json:"asset_id"`
	Asset       string    `json:"asset,omitempty"`
	Product     string    `json:"product"`
	Version     string    `json:"version,omitempty"`
	VulnID      int64     `json:"vulnerability_id"`
	Vuln        string    `json:"vulnerability"` // CVE id or title
	CVSSv3      *float64  `json:"cvss_v3,omitempty"`
	Severity    string    `json:"severity,omitempty"`
	TLP         intel.TLP `json:"tlp"`
	How         string    `json:"how"`
	Reason      string    `json:"reason"`
	State       string    `json:"state"`
	StateReason string    `json:"state_reason,omitempty"`
	StateBy     string    `json:"state_by,omitempty"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	StateAt     time.Time `json:"state_at"`
}

// Found is a match the matcher made: an inventory row, a vulnerability,
// how and why.
type Found struct {
	AssetRow, VulnID int64
	How, Reason      string
}

// ExposureCounts say what a reconciliation changed.
type ExposureCounts struct {
	Opened   int `json:"opened"`   // new exposures
	Reopened int `json:"reopened"` // resolved ones matching again
	Resolved int `json:"resolved"` // open or acknowledged ones no longer matching
	Seen     int `json:"seen"`     // still matching
}

// ReconcileExposures records the matches of inventory rows (at most MaxIDs
// of them, each matched whole), in one transaction: a new match opens an
// exposure, a resolved one matching again reopens, one still matching is
// seen again (a dismissed one stays dismissed, an acknowledged one
// acknowledged), and an open or acknowledged exposure of those rows no
// longer found is resolved.
func (s *Store) ReconcileExposures(ctx context.Context, assetRows []int64, found []Found) (ExposureCounts, error) {
	return s.reconcile(ctx, "asset_row", assetRows, found)
}

// ReconcileVulnExposures records the matches of vulnerabilities (at most
// MaxIDs, each matched against the whole inventory) as ReconcileExposures
// does those of inventory rows: the exposures of these vulnerabilities not
// found are resolved.
func (s *Store) ReconcileVulnExposures(ctx context.Context, vulnIDs []int64, found []Found) (ExposureCounts, error) {
	return s.reconcile(ctx, "vuln_id", vulnIDs, found)
}

// reconcile reconciles the exposures whose column col (asset_row or
// vuln_id, a constant) is one of ids with what was found for them.
func (s *Store) reconcile(ctx context.Context, col string, ids []int64, found []Found) (ExposureCounts, error) {
	assetRows := ids
	var c ExposureCounts
	nowUS := s.now().UTC().UnixMicro()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return c, fmt.Errorf("store: reconcile exposures: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	type key struct{ row, vuln int64 }
	type cur struct {
		id          int64
		state       string
		how, reason string
	}
	stored := map[key]cur{}
	if len(assetRows) == 0 {
		return c, nil
	}
	if len(assetRows) > MaxIDs {
		return c, fmt.Errorf("store: reconcile the exposures of %d inventory rows or vulnerabilities at once; at most %d", len(assetRows), MaxIDs)
	}
	cond, args := s.in(1, int64Args(assetRows))
	rows, err := tx.QueryContext(ctx, `SELECT id, asset_row, vuln_id, state, how, reason FROM exposures WHERE `+col+` `+cond, args...)
	if err != nil {
		return c, fmt.Errorf("store: reconcile exposures: %w", err)
	}
	for rows.Next() {
		var k key
		var v cur
		if err := rows.Scan(&v.id, &k.row, &k.vuln, &v.state, &v.how, &v.reason); err != nil {
			rows.Close()
			return c, err
		}
		stored[k] = v
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return c, fmt.Errorf("store: reconcile exposures: %w", err)
	}
	seen := make(map[key]bool, len(found))
	fresh := newRows("bigint", "bigint", "text", "text", "text", "bigint", "bigint", "bigint")
	var still []int64 // seen again, how and why unchanged: last_seen only
	for _, f := range found {
		k := key{f.AssetRow, f.VulnID}
		if seen[k] {
			continue
		}
		seen[k] = true
		v, ok := stored[k]
		switch {
		case !ok:
			fresh.add(f.AssetRow, f.VulnID, f.How, f.Reason, ExposureOpen, nowUS, nowUS, nowUS)
			c.Opened++
		case v.state == ExposureResolved:
			_, err = tx.ExecContext(ctx, `UPDATE exposures SET how = $1, reason = $2, state = $3, state_reason = 'it matches again',
				state_by = '', last_seen = $4, state_at = $4 WHERE id = $5`, f.How, f.Reason, ExposureOpen, nowUS, v.id)
			c.Reopened++
		case v.how != f.How || v.reason != f.Reason:
			_, err = tx.ExecContext(ctx, `UPDATE exposures SET how = $1, reason = $2, last_seen = $3 WHERE id = $4`, f.How, f.Reason, nowUS, v.id)
			c.Seen++
		default:
			still = append(still, v.id)
			c.Seen++
		}
		if err != nil {
			return c, fmt.Errorf("store: reconcile exposures: %w", err)
		}
	}
	if _, err := s.execRows(ctx, tx, `INSERT INTO exposures (asset_row, vuln_id, how, reason, state, first_seen, last_seen, state_at)`, fresh, ``); err != nil {
		return c, fmt.Errorf("store: reconcile exposures: %w", err)
	}
	var gone []int64
	for k, v := range stored {
		if !seen[k] && (v.state == ExposureOpen || v.state == ExposureAcknowledged) {
			gone = append(gone, v.id)
		}
	}
	c.Resolved = len(gone)
	if err := chunks(still, s.batchLen, func(ids []int64) error {
		cond, args := s.in(2, int64Args(ids))
		_, err := tx.ExecContext(ctx, `UPDATE exposures SET last_seen = $1 WHERE id `+cond, append([]any{nowUS}, args...)...)
		return err
	}); err != nil {
		return c, fmt.Errorf("store: reconcile exposures: %w", err)
	}
	if err := chunks(gone, s.batchLen, func(ids []int64) error {
		cond, args := s.in(4, int64Args(ids))
		_, err := tx.ExecContext(ctx, `UPDATE exposures SET state = $1, state_reason = $2, state_by = '', state_at = $3 WHERE id `+cond,
			append([]any{ExposureResolved, "no longer matches: the asset's version or the vulnerability changed", nowUS}, args...)...)
		return err
	}); err != nil {
		return c, fmt.Errorf("store: reconcile exposures: %w", err)
	}
	// Opened and reopened exposures notify (notify), committed with them.
	if c.Opened+c.Reopened > 0 {
		if err := s.exposureEvents(ctx, tx, col, assetRows, nowUS); err != nil {
			return c, err
		}
	}
	if err := tx.Commit(); err != nil {
		return c, fmt.Errorf("store: reconcile exposures: %w", err)
	}
	return c, nil
}

// ExposureQuery filters exposures.
type ExposureQuery struct {
	States  []string
	AssetID string
	VulnID  int64
	MaxTLP  intel.TLP // "" : every TLP
	After   int64     // exposure id
	Limit   int
}

const exposureSelect = `SELECT e.id, e.asset_row, a.asset_id, a.name, a.product, a.version, e.vuln_id, COALESCE(o.value, o.vkey), v.cvss_v3,
	COALESCE(v.severity, ''), o.tlp, e.how, e.reason, e.state, e.state_reason, e.state_by, e.first_seen, e.last_seen, e.state_at
	FROM exposures e JOIN assets a ON a.id = e.asset_row JOIN objects o ON o.id = e.vuln_id LEFT JOIN vulnerabilities v ON v.object_id = o.id`

// Exposures lists exposures by id.
func (s *Store) Exposures(ctx context.Context, q ExposureQuery) ([]Exposure, error) {
	var where []string
	args := []any{q.After}
	where = append(where, `e.id > $1`)
	if len(q.States) > 0 {
		var marks []string
		for _, st := range q.States {
			args = append(args, st)
			marks = append(marks, fmt.Sprintf("$%d", len(args)))
		}
		where = append(where, `e.state IN (`+strings.Join(marks, ", ")+`)`)
	}
	if q.AssetID != "" {
		args = append(args, q.AssetID)
		where = append(where, fmt.Sprintf(`a.asset_id = $%d`, len(args)))
	}
	if q.VulnID != 0 {
		args = append(args, q.VulnID)
		where = append(where, fmt.Sprintf(`e.vuln_id = $%d`, len(args)))
	}
	if q.MaxTLP != "" {
		var marks []string
		for _, t := range intel.TLPsUpTo(q.MaxTLP) {
			args = append(args, string(t))
			marks = append(marks, fmt.Sprintf("$%d", len(args)))
		}
		where = append(where, `o.tlp IN (`+strings.Join(marks, ", ")+`)`)
	}
	args = append(args, q.Limit)
	rows, err := s.rdb.QueryContext(ctx, exposureSelect+` WHERE `+strings.Join(where, " AND ")+fmt.Sprintf(` ORDER BY e.id LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list exposures: %w", err)
	}
	defer rows.Close()
	var out []Exposure
	for rows.Next() {
		e, err := scanExposure(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func scanExposure(r scanner) (Exposure, error) {
	var e Exposure
	var cvss sql.NullFloat64
	var first, last, at int64
	var tlp string
	if err := r.Scan(&e.ID, &e.AssetRow, &e.AssetID, &e.Asset, &e.Product, &e.Version, &e.VulnID, &e.Vuln, &cvss, &e.Severity, &tlp,
		&e.How, &e.Reason, &e.State, &e.StateReason, &e.StateBy, &first, &last, &at); err != nil {
		return e, fmt.Errorf("store: read exposure: %w", err)
	}
	if cvss.Valid {
		e.CVSSv3 = &cvss.Float64
	}
	e.TLP = intel.TLP(tlp)
	e.FirstSeen, e.LastSeen, e.StateAt = time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC(), time.UnixMicro(at).UTC()
	return e, nil
}

// Exposure returns one exposure (ENOTFOUND when there is none, or when it
// is marked above maxTLP).
func (s *Store) Exposure(ctx context.Context, id int64, maxTLP intel.TLP) (Exposure, error) {
	e, err := scanExposure(s.rdb.QueryRowContext(ctx, exposureSelect+` WHERE e.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && maxTLP != "" && e.TLP.Rank() > maxTLP.Rank()) {
		return Exposure{}, intel.Errorf(intel.ENOTFOUND, "no exposure %d", id)
	}
	return e, err
}

// SetExposureState moves an exposure to state (acknowledged or dismissed)
// from one of from, recording why and by whom; ECONFLICT when it is in
// none of from.
func (s *Store) SetExposureState(ctx context.Context, id int64, state, reason, by string, from ...string) error {
	args := []any{state, reason, by, s.now().UTC().UnixMicro(), id}
	var marks []string
	for _, f := range from {
		args = append(args, f)
		marks = append(marks, fmt.Sprintf("$%d", len(args)))
	}
	res, err := s.db.ExecContext(ctx, `UPDATE exposures SET state = $1, state_reason = $2, state_by = $3, state_at = $4
		WHERE id = $5 AND state IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return fmt.Errorf("store: set exposure %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return intel.Errorf(intel.ECONFLICT, "exposure %d is not %s", id, strings.Join(from, " or "))
	}
	return nil
}

// MatchMark returns the added log's stamp up to which every vulnerability
// has been matched against the inventory; false when none ever was.
func (s *Store) MatchMark(ctx context.Context) (int64, bool, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT added_after FROM match_state WHERE id = 1`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: match state: %w", err)
	}
	return v, true, nil
}

// SetMatchMark records that every vulnerability up to the stamp has been
// matched.
func (s *Store) SetMatchMark(ctx context.Context, stamp int64) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO match_state (id, added_after) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET added_after = excluded.added_after`, stamp); err != nil {
		return fmt.Errorf("store: match state: %w", err)
	}
	return nil
}

// AddedMark returns the added log's latest stamp: everything stored or
// changed so far has a stamp at or below it.
func (s *Store) AddedMark(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, `SELECT last FROM added_clock WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: added clock: %w", err)
	}
	return v, nil
}

// ChangedVulnerabilities returns the vulnerabilities stored or changed
// after the added log's stamp after, oldest first, at most about limit
// (a stamp's objects are never split), each once, and the stamp of the
// last one (after when there is none). Stamps increase in the order
// transactions commit, so resuming after the last stamp misses nothing.
func (s *Store) ChangedVulnerabilities(ctx context.Context, after int64, limit int) ([]int64, int64, error) {
	var colls []int64
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM collections ORDER BY id`)
	if err != nil {
		return nil, after, fmt.Errorf("store: changed vulnerabilities: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, after, err
		}
		colls = append(colls, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, after, fmt.Errorf("store: changed vulnerabilities: %w", err)
	}
	type entry struct{ at, id int64 }
	var all []entry
	// Each collection gives its first limit entries; one that gave limit
	// may have more after its last, so nothing past the smallest such last
	// stamp is taken (stamps are unique across collections: one clock).
	cut := int64(math.MaxInt64)
	for _, c := range colls {
		rows, err := s.db.QueryContext(ctx, `SELECT a.added_at, a.object_id FROM added_log a JOIN objects o ON o.id = a.object_id
			WHERE a.collection_id = $1 AND a.added_at > $2 AND o.type = 'vulnerability' ORDER BY a.added_at LIMIT $3`, c, after, limit)
		if err != nil {
			return nil, after, fmt.Errorf("store: changed vulnerabilities: %w", err)
		}
		n := 0
		var lastAt int64
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.at, &e.id); err != nil {
				rows.Close()
				return nil, after, err
			}
			all = append(all, e)
			n, lastAt = n+1, e.at
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, after, fmt.Errorf("store: changed vulnerabilities: %w", err)
		}
		if n == limit && lastAt < cut {
			cut = lastAt
		}
	}
	slices.SortFunc(all, func(a, b entry) int { return cmp.Compare(a.at, b.at) })
	var ids []int64
	seen := map[int64]bool{}
	last := after
	for _, e := range all {
		if e.at > cut || len(ids) >= limit {
			break
		}
		if !seen[e.id] {
			seen[e.id] = true
			ids = append(ids, e.id)
		}
		last = e.at
	}
	return ids, last, nil
}

// CountExposures counts the exposures in every state.
func (s *Store) CountExposures(ctx context.Context) (int, error) {
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM exposures`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count exposures: %w", err)
	}
	return n, nil
}

// AcquireMatchLease takes the right to match the inventory for ttl unless
// another holder's lease runs; a holder may take its own again (renew).
func (s *Store) AcquireMatchLease(ctx context.Context, holder string, ttl time.Duration) (bool, error) {
	now := s.now().UTC()
	res, err := s.db.ExecContext(ctx, `UPDATE match_lease SET holder = $1, lease_until = $2 WHERE id = 1 AND (lease_until <= $3 OR holder = $1)`,
		holder, now.Add(ttl).UnixMicro(), now.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("store: match lease: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleaseMatchLease gives the lease up, if holder has it.
func (s *Store) ReleaseMatchLease(ctx context.Context, holder string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE match_lease SET lease_until = 0 WHERE id = 1 AND holder = $1`, holder); err != nil {
		return fmt.Errorf("store: match lease: %w", err)
	}
	return nil
}
