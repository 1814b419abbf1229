package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/notify"
)

// Sealer seals an instance's token for its row id (package secret).
type Sealer func(instanceID int64, token string) ([]byte, error)

// CreateInstance stores a new instance with its sealed token and its three
// channels with the given settings. The name must be unique
// (case-insensitively): ECONFLICT otherwise.
func (s *Store) CreateInstance(ctx context.Context, in feed.Instance, token string, seal Sealer, settings map[feed.Kind]feed.Settings) (feed.Instance, error) {
	now := s.now().UTC()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return in, fmt.Errorf("store: create instance: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	id, err := s.newID(ctx, tx, "instances")
	if err != nil {
		return in, fmt.Errorf("store: create instance %q: %w", in.Name, err)
	}
	idCol, idArg := idColumn(id)
	err = tx.QueryRowContext(ctx, `INSERT INTO instances (`+idCol+`name, name_key, base_url, verify_tls, token_hint, created_at, updated_at)
		VALUES (`+idArg+`$1, $2, $3, $4, $5, $6, $6) ON CONFLICT (name_key) DO NOTHING RETURNING id`,
		in.Name, strings.ToLower(in.Name), in.BaseURL, boolInt(in.VerifyTLS), feed.TokenHint(token), now.UnixMicro()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return in, intel.Errorf(intel.ECONFLICT, "an instance named %q already exists (names are unique regardless of case)", in.Name)
	}
	if err != nil {
		return in, fmt.Errorf("store: create instance %q: %w", in.Name, err)
	}
	sealed, err := seal(id, token)
	if err != nil {
		return in, fmt.Errorf("store: seal token of instance %q: %w", in.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE instances SET token_sealed = $1 WHERE id = $2`, sealed, id); err != nil {
		return in, fmt.Errorf("store: create instance %q: %w", in.Name, err)
	}
	for _, k := range feed.Kinds() {
		st, ok := settings[k]
		if !ok {
			st = feed.DefaultSettings(in.Name, k, now)
		}
		h := feed.Health{Status: feed.Disabled, Since: now}
		if st.Enabled {
			h.Status = feed.Running
		}
		sj, _ := json.Marshal(st)
		hj, _ := json.Marshal(h)
		chID, err := s.newID(ctx, tx, "channels")
		if err != nil {
			return in, fmt.Errorf("store: create channel %s of %q: %w", k, in.Name, err)
		}
		idCol, idArg := idColumn(chID)
		if _, err := tx.ExecContext(ctx, `INSERT INTO channels (`+idCol+`instance_id, kind, settings, health, next_run_at, created_at, updated_at)
			VALUES (`+idArg+`$1, $2, $3, $4, NULL, $5, $5)`, id, string(k), string(sj), string(hj), now.UnixMicro()); err != nil {
			return in, fmt.Errorf("store: create channel %s of %q: %w", k, in.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return in, fmt.Errorf("store: create instance %q: %w", in.Name, err)
	}
	return s.Instance(ctx, in.Name)
}

// newID returns the id of a new row of table (instances or channels) on
// SQLite, from id_sequences, so that no id is ever given twice (SQLite would
// give a removed newest row's id again, and with it the removed channel's
// provenance); 0 on PostgreSQL, whose sequences never repeat.
func (s *Store) newID(ctx context.Context, tx *sql.Tx, table string) (int64, error) {
	if s.dialect != SQLite {
		return 0, nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, `UPDATE id_sequences SET last = last + 1 WHERE name = $1 RETURNING last`, table).Scan(&id)
	return id, err
}

// idColumn returns the column and the value that add an explicit id (from
// newID) to an INSERT, or nothing for id 0; the id is a number the store
// made, never user input.
func idColumn(id int64) (col, arg string) {
	if id == 0 {
		return "", ""
	}
	return "id, ", strconv.FormatInt(id, 10) + ", "
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

const instanceCols = `id, name, base_url, verify_tls, token_sealed IS NOT NULL, token_hint, created_at, updated_at`

func scanInstance(r scanner) (feed.Instance, error) {
	var in feed.Instance
	var verify int64
	var created, updated int64
	if err := r.Scan(&in.ID, &in.Name, &in.BaseURL, &verify, &in.TokenSet, &in.TokenHint, &created, &updated); err != nil {
		return in, err
	}
	in.VerifyTLS = verify != 0
	in.Created, in.Updated = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return in, nil
}

// Instance returns the instance named name (case-insensitively).
func (s *Store) Instance(ctx context.Context, name string) (feed.Instance, error) {
	in, err := scanInstance(s.rdb.QueryRowContext(ctx, `SELECT `+instanceCols+` FROM instances WHERE name_key = $1`, strings.ToLower(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return in, intel.Errorf(intel.ENOTFOUND, "no instance named %q", name)
	}
	if err != nil {
		return in, fmt.Errorf("store: read instance %q: %w", name, err)
	}
	return in, nil
}

// Instances lists the instances by name.
func (s *Store) Instances(ctx context.Context) ([]feed.Instance, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+instanceCols+` FROM instances ORDER BY name_key`)
	if err != nil {
		return nil, fmt.Errorf("store: list instances: %w", err)
	}
	defer rows.Close()
	var out []feed.Instance
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list instances: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// SealedTokens reports whether any instance holds a sealed token (and so
// needs the key that sealed it).
func (s *Store) SealedTokens(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM instances WHERE token_sealed IS NOT NULL LIMIT 1) t`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: look for sealed tokens: %w", err)
	}
	return n > 0, nil
}

// InstanceToken returns an instance's sealed token.
func (s *Store) InstanceToken(ctx context.Context, id int64) ([]byte, error) {
	var sealed []byte
	err := s.db.QueryRowContext(ctx, `SELECT token_sealed FROM instances WHERE id = $1`, id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, intel.Errorf(intel.ENOTFOUND, "no instance %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read token of instance %d: %w", id, err)
	}
	return sealed, nil
}

// UpdateInstance changes an instance's name, base URL and TLS verification,
// and its token when token is not empty; a base URL with another scheme,
// host or port needs the token (EINVALID on the field token). Its channels, collections, cursors
// and history stay (a legacy migration is this call).
func (s *Store) UpdateInstance(ctx context.Context, in feed.Instance, token string, seal Sealer) (feed.Instance, error) {
	now := s.now().UTC().UnixMicro()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return in, fmt.Errorf("store: update instance: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	// The stored token goes only to the server it was given for: a new
	// scheme, host or port needs the token again.
	var oldURL string
	if err := tx.QueryRowContext(ctx, `SELECT base_url FROM instances WHERE id = $1`, in.ID).Scan(&oldURL); errors.Is(err, sql.ErrNoRows) {
		return in, intel.Errorf(intel.ENOTFOUND, "no instance %d", in.ID)
	} else if err != nil {
		return in, fmt.Errorf("store: update instance %q: %w", in.Name, err)
	}
	if token == "" && !feed.SameOrigin(oldURL, in.BaseURL) {
		return in, intel.Invalid([]intel.FieldError{{Field: "token", Message: fmt.Sprintf(
			"the base URL moves from %s to %s (another scheme, host or port): give the token again, since the stored one is never sent to another server",
			oldURL, in.BaseURL)}})
	}
	res, err := tx.ExecContext(ctx, `UPDATE instances SET name = $1, name_key = $2, base_url = $3, verify_tls = $4, updated_at = $5 WHERE id = $6`,
		in.Name, strings.ToLower(in.Name), in.BaseURL, boolInt(in.VerifyTLS), now, in.ID)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "unique") {
			return in, intel.Errorf(intel.ECONFLICT, "an instance named %q already exists", in.Name)
		}
		return in, fmt.Errorf("store: update instance %q: %w", in.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return in, intel.Errorf(intel.ENOTFOUND, "no instance %d", in.ID)
	}
	if token != "" {
		sealed, err := seal(in.ID, token)
		if err != nil {
			return in, fmt.Errorf("store: seal token of instance %q: %w", in.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE instances SET token_sealed = $1, token_hint = $2 WHERE id = $3`,
			sealed, feed.TokenHint(token), in.ID); err != nil {
			return in, fmt.Errorf("store: update token of instance %q: %w", in.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return in, fmt.Errorf("store: update instance %q: %w", in.Name, err)
	}
	return s.Instance(ctx, in.Name)
}

// DeleteInstance removes an instance, its channels and their poll history.
// The intelligence it brought stays, with its provenance.
// Its channels' cursors and leases go with them: a new instance starts
// afresh.
func (s *Store) DeleteInstance(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete instance %q: %w", name, err)
	}
	defer tx.Rollback() //nolint:errcheck
	for _, table := range []string{"channel_state", "vulnerability_records"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE channel_id IN
			(SELECT c.id FROM channels c JOIN instances i ON i.id = c.instance_id WHERE i.name_key = $1)`, strings.ToLower(name)); err != nil {
			return fmt.Errorf("store: delete instance %q: %w", name, err)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM instances WHERE name_key = $1`, strings.ToLower(name))
	if err != nil {
		return fmt.Errorf("store: delete instance %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return intel.Errorf(intel.ENOTFOUND, "no instance named %q", name)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: delete instance %q: %w", name, err)
	}
	return nil
}

const channelCols = `c.id, c.instance_id, i.name, c.kind, c.settings, c.health, c.next_run_at, c.created_at, c.updated_at,
	COALESCE((SELECT cursor FROM channel_state cs WHERE cs.channel_id = c.id), '')`

func scanChannel(r scanner) (feed.Channel, error) {
	var ch feed.Channel
	var settings, health string
	var next sql.NullInt64
	var created, updated int64
	if err := r.Scan(&ch.ID, &ch.InstanceID, &ch.Instance, &ch.Kind, &settings, &health, &next, &created, &updated, &ch.Cursor); err != nil {
		return ch, err
	}
	if err := json.Unmarshal([]byte(settings), &ch.Settings); err != nil {
		return ch, fmt.Errorf("channel %d: bad settings: %w", ch.ID, err)
	}
	if err := json.Unmarshal([]byte(health), &ch.Health); err != nil {
		return ch, fmt.Errorf("channel %d: bad health: %w", ch.ID, err)
	}
	ch.NextRun = fromMicros(next)
	ch.Created, ch.Updated = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return ch, nil
}

func (s *Store) queryChannels(ctx context.Context, where string, args ...any) ([]feed.Channel, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+channelCols+` FROM channels c JOIN instances i ON i.id = c.instance_id `+where+
		` ORDER BY i.name_key, CASE c.kind WHEN 'reports' THEN 0 WHEN 'vulnerabilities' THEN 1 ELSE 2 END`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list channels: %w", err)
	}
	defer rows.Close()
	var out []feed.Channel
	for rows.Next() {
		ch, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list channels: %w", err)
		}
		out = append(out, ch)
	}
	return out, rows.Err()
}

// Channels lists the channels of an instance, or of every instance when
// instance is empty.
func (s *Store) Channels(ctx context.Context, instance string) ([]feed.Channel, error) {
	if instance == "" {
		return s.queryChannels(ctx, ``)
	}
	if _, err := s.Instance(ctx, instance); err != nil {
		return nil, err
	}
	return s.queryChannels(ctx, `WHERE i.name_key = $1`, strings.ToLower(instance))
}

// Channel returns one channel of an instance.
func (s *Store) Channel(ctx context.Context, instance string, k feed.Kind) (feed.Channel, error) {
	chs, err := s.queryChannels(ctx, `WHERE i.name_key = $1 AND c.kind = $2`, strings.ToLower(instance), string(k))
	if err != nil {
		return feed.Channel{}, err
	}
	if len(chs) == 0 {
		if _, err := s.Instance(ctx, instance); err != nil {
			return feed.Channel{}, err
		}
		return feed.Channel{}, intel.Errorf(intel.ENOTFOUND, "instance %q has no channel %q", instance, k)
	}
	return chs[0], nil
}

// ChannelByID returns a channel by id.
func (s *Store) ChannelByID(ctx context.Context, id int64) (feed.Channel, error) {
	chs, err := s.queryChannels(ctx, `WHERE c.id = $1`, id)
	if err != nil {
		return feed.Channel{}, err
	}
	if len(chs) == 0 {
		return feed.Channel{}, intel.Errorf(intel.ENOTFOUND, "no channel %d", id)
	}
	return chs[0], nil
}

// DueChannels returns the channels whose next run (a scheduled poll or a
// restore attempt) is due at now.
func (s *Store) DueChannels(ctx context.Context, now time.Time) ([]feed.Channel, error) {
	return s.queryChannels(ctx, `WHERE c.next_run_at IS NOT NULL AND c.next_run_at <= $1`, now.UnixMicro())
}

// SaveChannel writes a channel's settings, health and next run.
func (s *Store) SaveChannel(ctx context.Context, ch feed.Channel) error {
	sj, err := json.Marshal(ch.Settings)
	if err != nil {
		return err
	}
	hj, err := json.Marshal(ch.Health)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE channels SET settings = $1, health = $2, next_run_at = $3, updated_at = $4 WHERE id = $5`,
		string(sj), string(hj), micros(ch.NextRun), s.now().UTC().UnixMicro(), ch.ID)
	if err != nil {
		return fmt.Errorf("store: save channel %d: %w", ch.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return intel.Errorf(intel.ENOTFOUND, "no channel %d", ch.ID)
	}
	return nil
}

// StartPoll records the start of a poll and returns its record.
func (s *Store) StartPoll(ctx context.Context, run feed.PollRun) (feed.PollRun, error) {
	run.Outcome = feed.OutcomeRunning
	if run.Started.IsZero() {
		run.Started = s.now().UTC()
	}
	// The caller holds the channel's lease: a poll still marked running was
	// cut short (its process died) and is recorded so.
	if _, err := s.db.ExecContext(ctx, `UPDATE polls SET `+interruptedSet+`, ended_at = $1 WHERE channel_id = $2 AND outcome = 'running'`,
		run.Started.UnixMicro(), run.ChannelID); err != nil {
		return run, fmt.Errorf("store: close interrupted polls of channel %d: %w", run.ChannelID, err)
	}
	err := s.db.QueryRowContext(ctx, `INSERT INTO polls (channel_id, trigger, holder, started_at, cursor_before, cursor_after, outcome)
		VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id`, run.ChannelID, string(run.Trigger), run.Holder, run.Started.UnixMicro(),
		run.CursorBefore, string(run.Outcome)).Scan(&run.ID)
	if err != nil {
		return run, fmt.Errorf("store: record poll of channel %d: %w", run.ChannelID, err)
	}
	return run, nil
}

// interruptedSet is the assignment that records a poll as cut short.
const interruptedSet = `outcome = 'failed', error_code = 'interrupted',
	error_message = 'the polling process stopped before the poll ended'`

// CloseLapsedPolls records as interrupted every poll still marked running
// whose channel's lease has lapsed: its holder died (a live holder renews
// its lease with every page). It returns how many it closed.
func (s *Store) CloseLapsedPolls(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE polls SET `+interruptedSet+`, ended_at = $1
		WHERE outcome = 'running' AND channel_id IN (SELECT channel_id FROM channel_state WHERE lease_until <= $1)`, now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: close lapsed polls: %w", err)
	}
	return res.RowsAffected()
}

// Interrupted returns the channels whose last poll did not end: it was
// recorded interrupted, or it is still marked running while its lease has
// lapsed or is held by a holder whose name starts with holderPrefix (a
// process of this host, which the caller can tell dead or alive). These
// polls are to be resumed from their cursor.
func (s *Store) Interrupted(ctx context.Context, now time.Time, holderPrefix string) ([]feed.Channel, error) {
	// One index probe per channel (its latest poll), whatever the history.
	return s.queryChannels(ctx, `WHERE EXISTS (
		SELECT 1 FROM polls p LEFT JOIN channel_state cs ON cs.channel_id = p.channel_id
		WHERE p.id = (SELECT max(id) FROM polls WHERE channel_id = c.id)
		  AND (p.error_code = 'interrupted' OR (p.outcome = 'running' AND (cs.lease_until IS NULL OR cs.lease_until <= $1
		       OR ($2 <> '' AND substr(cs.lease_holder, 1, length($2)) = $2)))))`, now.UnixMicro(), holderPrefix)
}

// FinishPoll records how a poll ended.
func (s *Store) FinishPoll(ctx context.Context, run feed.PollRun) error {
	if run.Ended.IsZero() {
		run.Ended = s.now().UTC()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: finish poll %d: %w", run.ID, err)
	}
	defer tx.Rollback() //nolint:errcheck
	res, err := tx.ExecContext(ctx, `UPDATE polls SET ended_at = $1, pages = $2, new = $3, updated = $4, unchanged = $5, filtered = $6,
		invalid = $7, unsupported = $8, cursor_after = $9, outcome = $10, error_code = $11, error_message = $12,
		listed = $13, requests = $14, relationships = $15 WHERE id = $16`,
		run.Ended.UnixMicro(), run.Pages, run.New, run.Updated, run.Unchanged, run.Filtered, run.Invalid, run.Unsupported,
		run.CursorAfter, string(run.Outcome), run.ErrorCode, run.ErrorMessage, run.Listed, run.Requests, run.Relationships, run.ID)
	if err != nil {
		return fmt.Errorf("store: finish poll %d: %w", run.ID, err)
	}
	// A failed poll is an event (notify), written with its record; an
	// interrupted one (the process stopping) is resumed, not failed.
	if n, _ := res.RowsAffected(); n > 0 && run.Outcome == feed.OutcomeFailed && run.ErrorCode != "interrupted" {
		f, err := s.channelFacts(ctx, tx, run.ChannelID)
		if err != nil {
			return err
		}
		f.Status, f.ErrorCode, f.ErrorMessage, f.PollID, f.Trigger = string(run.Outcome), run.ErrorCode, run.ErrorMessage, run.ID, string(run.Trigger)
		if err := s.addEvent(ctx, tx, notify.PollFailed, run.ChannelID, f, s.now().UTC().UnixMicro()); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: finish poll %d: %w", run.ID, err)
	}
	return nil
}

// Polls returns a channel's most recent polls, newest first.
func (s *Store) Polls(ctx context.Context, channelID int64, limit int) ([]feed.PollRun, error) {
	if limit <= 0 {
		limit = 20
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, channel_id, trigger, holder, started_at, ended_at, pages, new, updated, unchanged,
		filtered, invalid, unsupported, cursor_before, cursor_after, outcome, error_code, error_message, listed, requests, relationships
		FROM polls WHERE channel_id = $1 ORDER BY id DESC LIMIT $2`, channelID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list polls of channel %d: %w", channelID, err)
	}
	defer rows.Close()
	var out []feed.PollRun
	for rows.Next() {
		var r feed.PollRun
		var started int64
		var ended sql.NullInt64
		if err := rows.Scan(&r.ID, &r.ChannelID, &r.Trigger, &r.Holder, &started, &ended, &r.Pages, &r.New, &r.Updated, &r.Unchanged,
			&r.Filtered, &r.Invalid, &r.Unsupported, &r.CursorBefore, &r.CursorAfter, &r.Outcome, &r.ErrorCode, &r.ErrorMessage,
			&r.Listed, &r.Requests, &r.Relationships); err != nil {
			return nil, fmt.Errorf("store: list polls: %w", err)
		}
		r.Started, r.Ended = time.UnixMicro(started).UTC(), fromMicros(ended)
		out = append(out, r)
	}
	return out, rows.Err()
}

// SaveHealth writes a channel's health and next run, leaving its settings
// as they are (a user may change them while a poll runs).
func (s *Store) SaveHealth(ctx context.Context, id int64, h feed.Health, nextRun time.Time) error {
	hj, err := json.Marshal(h)
	if err != nil {
		return err
	}
	nowUS := s.now().UTC().UnixMicro()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save health of channel %d: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck
	// The health it had, to see what changed (locked on PostgreSQL; a
	// SQLite write transaction holds the database).
	lock := ""
	if s.dialect != SQLite {
		lock = ` FOR UPDATE`
	}
	var oldJSON string
	if err := tx.QueryRowContext(ctx, `SELECT health FROM channels WHERE id = $1`+lock, id).Scan(&oldJSON); err != nil {
		if errors.Is(err, sql.ErrNoRows) { // removed meanwhile: nothing to save
			return nil
		}
		return fmt.Errorf("store: save health of channel %d: %w", id, err)
	}
	var old feed.Health
	_ = json.Unmarshal([]byte(oldJSON), &old)
	if _, err := tx.ExecContext(ctx, `UPDATE channels SET health = $1, next_run_at = $2, updated_at = $3 WHERE id = $4`,
		string(hj), micros(nextRun), nowUS, id); err != nil {
		return fmt.Errorf("store: save health of channel %d: %w", id, err)
	}
	// Its notifications commit with it (notify).
	if err := s.channelEvents(ctx, tx, id, old, h, nowUS); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save health of channel %d: %w", id, err)
	}
	return nil
}

// LastReported returns, for those of the Flashpoint vulnerability ids a
// channel has stored, when each record was last changed: a poll fetches a
// record's detail only when the record is new or changed since.
func (s *Store) LastReported(ctx context.Context, channelID int64, ids []int64) (map[int64]time.Time, error) {
	out := make(map[int64]time.Time, len(ids))
	err := chunks(ids, s.batchLen, func(c []int64) error {
		cond, args := s.in(2, int64Args(c))
		rows, err := s.rdb.QueryContext(ctx, `SELECT flashpoint_id, max(last_reported) FROM vulnerability_records
			WHERE channel_id = $1 AND flashpoint_id `+cond+` GROUP BY flashpoint_id`, append([]any{channelID}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, last int64
			if err := rows.Scan(&id, &last); err != nil {
				return err
			}
			out[id] = time.UnixMicro(last).UTC()
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: last reported of channel %d: %w", channelID, err)
	}
	return out, nil
}
