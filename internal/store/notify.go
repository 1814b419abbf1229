package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/notify"
)

// AddDestination puts a pattern (notify.ParsePattern's form) on the
// allow-list of webhook destinations; ECONFLICT when it is there.
func (s *Store) AddDestination(ctx context.Context, pattern, by string) (notify.Destination, error) {
	now := s.now().UTC()
	d := notify.Destination{Pattern: pattern, CreatedBy: by, Created: now.Truncate(time.Microsecond)}
	err := s.db.QueryRowContext(ctx, `INSERT INTO notify_destinations (pattern, created_by, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (pattern) DO NOTHING RETURNING id`, pattern, by, now.UnixMicro()).Scan(&d.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return d, intel.Errorf(intel.ECONFLICT, "destination %q is on the allow-list already", pattern)
	}
	if err != nil {
		return d, fmt.Errorf("store: add destination: %w", err)
	}
	return d, nil
}

// RemoveDestination takes a pattern off the allow-list.
func (s *Store) RemoveDestination(ctx context.Context, pattern string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM notify_destinations WHERE pattern = $1`, pattern)
	if err != nil {
		return fmt.Errorf("store: remove destination: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return intel.Errorf(intel.ENOTFOUND, "destination %q is not on the allow-list", pattern)
	}
	return nil
}

// Destinations lists the allow-list.
func (s *Store) Destinations(ctx context.Context) ([]notify.Destination, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, pattern, created_by, created_at FROM notify_destinations ORDER BY pattern`)
	if err != nil {
		return nil, fmt.Errorf("store: list destinations: %w", err)
	}
	defer rows.Close()
	out := []notify.Destination{}
	for rows.Next() {
		var d notify.Destination
		var at int64
		if err := rows.Scan(&d.ID, &d.Pattern, &d.CreatedBy, &at); err != nil {
			return nil, err
		}
		d.Created = time.UnixMicro(at).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// DestinationPatterns lists the allow-list's patterns.
func (s *Store) DestinationPatterns(ctx context.Context) ([]string, error) {
	ds, err := s.Destinations(ctx)
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Pattern
	}
	return out, err
}

// CreateRule stores a notification rule; seal seals its URL and secret for
// the row id it is given. ECONFLICT when the name is taken
// (case-insensitively).
func (s *Store) CreateRule(ctx context.Context, r notify.Rule, seal func(id int64) (notify.Sealed, error)) (notify.Rule, error) {
	now := s.now().UTC()
	fj, err := json.Marshal(r.Filters)
	if err != nil {
		return r, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return r, fmt.Errorf("store: create rule: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	err = tx.QueryRowContext(ctx, `INSERT INTO notify_rules (name, name_key, event, url_hint, host, format, filters, max_tlp, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (name_key) DO NOTHING RETURNING id`,
		r.Name, strings.ToLower(r.Name), r.Event, r.URLHint, r.Host, r.Format, string(fj), string(r.MaxTLP), r.CreatedBy, now.UnixMicro()).Scan(&r.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, intel.Errorf(intel.ECONFLICT, "a notification rule named %q already exists (names are unique regardless of case)", r.Name)
	}
	if err != nil {
		return r, fmt.Errorf("store: create rule %q: %w", r.Name, err)
	}
	sealed, err := seal(r.ID)
	if err != nil {
		return r, fmt.Errorf("store: seal rule %q: %w", r.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE notify_rules SET url_sealed = $1, secret_sealed = $2 WHERE id = $3`,
		sealed.URL, sealed.Secret, r.ID); err != nil {
		return r, fmt.Errorf("store: create rule %q: %w", r.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return r, fmt.Errorf("store: create rule %q: %w", r.Name, err)
	}
	return s.NotifyRule(ctx, r.Name)
}

const ruleCols = `id, name, event, url_hint, host, secret_sealed IS NOT NULL, format, filters, max_tlp, created_by, created_at`

func scanRule(r scanner) (notify.Rule, error) {
	var x notify.Rule
	var filters, tlp string
	var at int64
	if err := r.Scan(&x.ID, &x.Name, &x.Event, &x.URLHint, &x.Host, &x.HasSecret, &x.Format, &filters, &tlp, &x.CreatedBy, &at); err != nil {
		return x, err
	}
	if err := json.Unmarshal([]byte(filters), &x.Filters); err != nil {
		return x, fmt.Errorf("rule %d: bad filters: %w", x.ID, err)
	}
	x.MaxTLP, x.Created = intel.TLP(tlp), time.UnixMicro(at).UTC()
	return x, nil
}

// NotifyRules lists the rules of an event kind ("" : every rule), by name.
func (s *Store) NotifyRules(ctx context.Context, event string) ([]notify.Rule, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+ruleCols+` FROM notify_rules WHERE $1 = '' OR event = $1 ORDER BY name_key`, event)
	if err != nil {
		return nil, fmt.Errorf("store: list rules: %w", err)
	}
	defer rows.Close()
	out := []notify.Rule{}
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list rules: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// NotifyRule returns the rule named name (case-insensitively).
func (s *Store) NotifyRule(ctx context.Context, name string) (notify.Rule, error) {
	r, err := scanRule(s.db.QueryRowContext(ctx, `SELECT `+ruleCols+` FROM notify_rules WHERE name_key = $1`, strings.ToLower(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return r, intel.Errorf(intel.ENOTFOUND, "no notification rule named %q", name)
	}
	if err != nil {
		return r, fmt.Errorf("store: rule %q: %w", name, err)
	}
	return r, nil
}

// RuleSealed returns a rule's sealed URL and secret.
func (s *Store) RuleSealed(ctx context.Context, id int64) (notify.Sealed, error) {
	var x notify.Sealed
	err := s.db.QueryRowContext(ctx, `SELECT url_sealed, secret_sealed FROM notify_rules WHERE id = $1`, id).Scan(&x.URL, &x.Secret)
	if errors.Is(err, sql.ErrNoRows) {
		return x, intel.Errorf(intel.ENOTFOUND, "notification rule %d was removed", id)
	}
	if err != nil {
		return x, fmt.Errorf("store: rule %d: %w", id, err)
	}
	return x, nil
}

// DeleteRule removes a rule, and with it its deliveries (pending ones are
// not attempted).
func (s *Store) DeleteRule(ctx context.Context, name string) (notify.Rule, error) {
	r, err := s.NotifyRule(ctx, name)
	if err != nil {
		return r, err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM notify_rules WHERE id = $1`, r.ID); err != nil {
		return r, fmt.Errorf("store: remove rule %q: %w", name, err)
	}
	return r, nil
}

// addEvent writes an event to the outbox in tx: the change that caused it
// and its notification commit together or not at all.
func (s *Store) addEvent(ctx context.Context, tx *sql.Tx, kind string, subject int64, data any, nowUS int64) error {
	d := []byte("{}")
	if data != nil {
		var err error
		if d, err = json.Marshal(data); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (kind, subject_id, data, created_at) VALUES ($1, $2, $3, $4)`, kind, subject, string(d), nowUS)
	if err != nil {
		return fmt.Errorf("store: outbox %s: %w", kind, err)
	}
	return nil
}

// channelEvents writes the events of a channel's health change from old to
// h: into connection_error (with its code), out of it, and into no_data.
func (s *Store) channelEvents(ctx context.Context, tx *sql.Tx, id int64, old, h feed.Health, nowUS int64) error {
	var kinds []string
	switch {
	case h.Status == feed.ConnectionError && old.Status != feed.ConnectionError:
		kinds = append(kinds, notify.ChannelError)
	case old.Status == feed.ConnectionError && h.Status == feed.Running:
		kinds = append(kinds, notify.ChannelRestored)
	}
	if h.NoData && !old.NoData {
		kinds = append(kinds, notify.NoData)
	}
	if len(kinds) == 0 {
		return nil
	}
	f, err := s.channelFacts(ctx, tx, id)
	if err != nil {
		return err
	}
	f.Status, f.ErrorCode, f.ErrorMessage, f.EmptyPolls, f.Since = string(h.Status), h.ErrorCode, h.ErrorMessage, h.EmptyPolls, h.Since
	for _, k := range kinds {
		if err := s.addEvent(ctx, tx, k, id, f, nowUS); err != nil {
			return err
		}
	}
	return nil
}

// channelFacts reads the names of a channel's instance, kind and
// collection.
func (s *Store) channelFacts(ctx context.Context, tx *sql.Tx, id int64) (notify.ChannelFacts, error) {
	f := notify.ChannelFacts{ChannelID: id}
	var settings string
	if err := tx.QueryRowContext(ctx, `SELECT i.name, c.kind, c.settings FROM channels c JOIN instances i ON i.id = c.instance_id WHERE c.id = $1`,
		id).Scan(&f.Instance, &f.Channel, &settings); err != nil {
		return f, fmt.Errorf("store: channel %d: %w", id, err)
	}
	var st feed.Settings
	if err := json.Unmarshal([]byte(settings), &st); err == nil {
		f.Collection = st.Collection
	}
	return f, nil
}

// exposureEvents writes an event for each exposure (whose column col,
// asset_row or vuln_id, is one of ids) that this
// transaction opened or reopened (state open, state_at now), when a rule
// follows exposures; name_only ones only when such a rule takes them.
func (s *Store) exposureEvents(ctx context.Context, tx *sql.Tx, col string, ids []int64, nowUS int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT filters FROM notify_rules WHERE event = $1`, notify.Exposure)
	if err != nil {
		return fmt.Errorf("store: exposure rules: %w", err)
	}
	follow, nameOnly := false, false
	for rows.Next() {
		var fj string
		if err := rows.Scan(&fj); err != nil {
			rows.Close()
			return err
		}
		var f notify.Filters
		_ = json.Unmarshal([]byte(fj), &f)
		follow, nameOnly = true, nameOnly || f.NameOnly
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil || !follow {
		return err
	}
	return chunks(ids, s.batchLen, func(c []int64) error {
		cond, args := s.in(5, int64Args(c))
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox (kind, subject_id, data, created_at)
			SELECT $1, id, CASE WHEN first_seen = $2 THEN '{}' ELSE '{"reopened":true}' END, $2 FROM exposures
			WHERE state = $3 AND state_at = $2 AND ($4 OR how <> 'name_only') AND `+col+` `+cond+` ORDER BY id`,
			append([]any{notify.Exposure, nowUS, ExposureOpen, nameOnly}, args...)...)
		if err != nil {
			return fmt.Errorf("store: outbox exposures: %w", err)
		}
		return nil
	})
}

// PendingEvents returns the oldest events not yet dispatched.
func (s *Store) PendingEvents(ctx context.Context, limit int) ([]notify.Event, error) {
	return s.events(ctx, s.db, `WHERE dispatched_at IS NULL ORDER BY id LIMIT $1`, limit)
}

func (s *Store) events(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, where string, args ...any) ([]notify.Event, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, kind, subject_id, data, created_at FROM outbox `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var out []notify.Event
	for rows.Next() {
		var e notify.Event
		var data string
		var at int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.SubjectID, &data, &at); err != nil {
			return nil, err
		}
		e.Data, e.Created = json.RawMessage(data), time.UnixMicro(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// ExposureFacts reads what an exposure event tells: the exposure, its
// asset, its vulnerability with the collections that hold it and the
// instances that reported it. nil when the exposure is gone.
func (s *Store) ExposureFacts(ctx context.Context, id int64) (*notify.ExposureFacts, error) {
	var x notify.ExposureFacts
	var first int64
	var tlp string
	var cvss sql.NullFloat64
	e, a, v := &x.Exposure, &x.Asset, &x.Vulnerability
	err := s.db.QueryRowContext(ctx, `SELECT e.id, e.state, e.how, e.reason, e.first_seen, a.asset_id, a.name, a.vendor, a.product, a.version, a.cpe,
		o.id, COALESCE(o.value, o.vkey), o.name, o.tlp, v.cvss_v3, COALESCE(v.severity, ''), COALESCE(v.exploit_maturity, '')
		FROM exposures e JOIN assets a ON a.id = e.asset_row JOIN objects o ON o.id = e.vuln_id LEFT JOIN vulnerabilities v ON v.object_id = o.id
		WHERE e.id = $1`, id).Scan(&e.ID, &e.State, &e.How, &e.Reason, &first, &a.AssetID, &a.Name, &a.Vendor, &a.Product, &a.Version, &a.CPE,
		&v.ID, &v.Name, &v.Title, &tlp, &cvss, &v.Severity, &v.ExploitMaturity)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: exposure %d: %w", id, err)
	}
	e.FirstSeen, v.TLP = time.UnixMicro(first).UTC(), intel.TLP(tlp)
	if cvss.Valid {
		v.CVSSv3 = &cvss.Float64
	}
	if v.Title == v.Name {
		v.Title = ""
	}
	if v.Collections, err = s.strings(ctx, `SELECT c.name FROM collection_objects co JOIN collections c ON c.id = co.collection_id
		WHERE co.object_id = $1 ORDER BY c.name`, v.ID); err != nil {
		return nil, err
	}
	if v.Instances, err = s.strings(ctx, `SELECT DISTINCT instance FROM provenance WHERE object_id = $1 ORDER BY instance`, v.ID); err != nil {
		return nil, err
	}
	return &x, nil
}

func (s *Store) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// FanOut makes an event's deliveries and marks it dispatched, in one
// transaction; an event another process dispatched meanwhile is left as
// that one made it.
func (s *Store) FanOut(ctx context.Context, eventID int64, ds []notify.NewDelivery) error {
	nowUS := s.now().UTC().UnixMicro()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: dispatch event %d: %w", eventID, err)
	}
	defer tx.Rollback() //nolint:errcheck
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET dispatched_at = $1 WHERE id = $2 AND dispatched_at IS NULL`, nowUS, eventID)
	if err != nil {
		return fmt.Errorf("store: dispatch event %d: %w", eventID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	for _, d := range ds {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_deliveries (key, event_id, rule_id, kind, body, state, next_at, created_at, updated_at)
			SELECT $1, $2, $3, o.kind, $4, $5, $6, $6, $6 FROM outbox o WHERE o.id = $2`,
			d.Key, eventID, d.RuleID, string(d.Body), notify.Pending, nowUS); err != nil {
			return fmt.Errorf("store: dispatch event %d: %w", eventID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: dispatch event %d: %w", eventID, err)
	}
	return nil
}

const deliveryCols = `d.id, d.key, d.event_id, d.rule_id, r.name, d.kind, d.state, d.attempts, d.next_at, d.last_status, d.last_error,
	d.created_at, d.delivered_at, d.body`

func scanDelivery(r scanner) (notify.Delivery, error) {
	var d notify.Delivery
	var next, created int64
	var delivered sql.NullInt64
	var body string
	if err := r.Scan(&d.ID, &d.Key, &d.EventID, &d.RuleID, &d.Rule, &d.Kind, &d.State, &d.Attempts, &next, &d.LastStatus, &d.LastError,
		&created, &delivered, &body); err != nil {
		return d, err
	}
	d.Created, d.Delivered, d.Body = time.UnixMicro(created).UTC(), fromMicros(delivered), []byte(body)
	if d.State == notify.Pending {
		d.NextAt = time.UnixMicro(next).UTC()
	}
	return d, nil
}

// ClaimDeliveries claims up to limit due pending deliveries for holder
// until until (none claimed by another holder whose claim runs), oldest
// due first.
func (s *Store) ClaimDeliveries(ctx context.Context, holder string, until time.Time, limit int) ([]notify.Delivery, error) {
	nowUS := s.now().UTC().UnixMicro()
	lock := ""
	if s.dialect != SQLite {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	rows, err := s.db.QueryContext(ctx, `UPDATE notify_deliveries SET claimed_until = $1, holder = $2 WHERE id IN (
		SELECT id FROM notify_deliveries WHERE state = $3 AND next_at <= $4 AND claimed_until <= $4 ORDER BY next_at, id LIMIT $5`+lock+`)
		RETURNING id`, until.UnixMicro(), holder, notify.Pending, nowUS, limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim deliveries: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil || len(ids) == 0 {
		return nil, err
	}
	cond, args := s.in(1, int64Args(ids))
	return s.deliveries(ctx, s.db, ` WHERE d.id `+cond+` ORDER BY d.next_at, d.id`, args...)
}

func (s *Store) deliveries(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, where string, args ...any) ([]notify.Delivery, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries d JOIN notify_rules r ON r.id = d.rule_id`+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	defer rows.Close()
	out := []notify.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("store: deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// FinishAttempt records how an attempt at a pending delivery went:
// delivered, or failed and due again at next, or given up after
// maxAttempts.
func (s *Store) FinishAttempt(ctx context.Context, d notify.Delivery, holder string, a notify.Attempt, maxAttempts int, next time.Time) error {
	nowUS := s.now().UTC().UnixMicro()
	var err error
	switch {
	case a.OK:
		_, err = s.db.ExecContext(ctx, `UPDATE notify_deliveries SET state = $1, attempts = attempts + 1, last_status = $2, last_error = '',
			claimed_until = 0, holder = '', delivered_at = $3, updated_at = $3 WHERE id = $4 AND state = $5`,
			notify.Delivered, a.Status, nowUS, d.ID, notify.Pending)
	default:
		_, err = s.db.ExecContext(ctx, `UPDATE notify_deliveries SET attempts = attempts + 1, last_status = $1, last_error = $2,
			state = CASE WHEN attempts + 1 >= $3 THEN $4 ELSE state END, next_at = $5, claimed_until = 0, holder = '', updated_at = $6
			WHERE id = $7 AND state = $8`,
			a.Status, a.Error, maxAttempts, notify.GivenUp, next.UnixMicro(), nowUS, d.ID, notify.Pending)
	}
	if err != nil {
		return fmt.Errorf("store: record delivery %d: %w", d.ID, err)
	}
	return nil
}

// DeliveryQuery filters the deliveries listed.
type DeliveryQuery struct {
	Rule   string // name
	State  string
	Before int64 // a delivery id; 0 from the newest
	Limit  int
}

// Deliveries lists deliveries, newest first.
func (s *Store) Deliveries(ctx context.Context, q DeliveryQuery) ([]notify.Delivery, error) {
	args := []any{q.Before, q.Limit}
	where := ` WHERE ($1 = 0 OR d.id < $1)`
	if q.Rule != "" {
		args = append(args, strings.ToLower(q.Rule))
		where += fmt.Sprintf(` AND r.name_key = $%d`, len(args))
	}
	if q.State != "" {
		args = append(args, q.State)
		where += fmt.Sprintf(` AND d.state = $%d`, len(args))
	}
	return s.deliveries(ctx, s.rdb, where+` ORDER BY d.id DESC LIMIT $2`, args...)
}

// PruneOutbox deletes events dispatched before cutoff none of whose
// deliveries is pending, with their deliveries, and returns how many.
func (s *Store) PruneOutbox(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE dispatched_at < $1
		AND NOT EXISTS (SELECT 1 FROM notify_deliveries d WHERE d.event_id = outbox.id AND d.state = $2)`, cutoff.UnixMicro(), notify.Pending)
	if err != nil {
		return 0, fmt.Errorf("store: prune outbox: %w", err)
	}
	return res.RowsAffected()
}
