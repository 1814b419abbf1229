package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

// Lease is the right to poll one channel and to move its cursor. Token is a
// fencing token: it grows with every acquisition, and ApplyPage refuses a
// page whose lease token is no longer the channel's.
type Lease struct {
	ChannelID int64
	Token     int64
	Holder    string
	Until     time.Time
	Cursor    string // the channel's cursor when the lease was taken
}

// AcquireLease takes the lease on a channel for ttl, unless another holder's
// lease is still running (ECONFLICT, naming the holder and its expiry). A
// holder may take its own running lease again (a process restarted under
// the same name); the token still moves on, fencing anything the old one
// might yet try to commit.
func (s *Store) AcquireLease(ctx context.Context, channelID int64, holder string, ttl time.Duration) (Lease, error) {
	if holder == "" || ttl <= 0 {
		return Lease{}, intel.Errorf(intel.EINVALID, "a lease needs a holder and a positive duration")
	}
	now := s.now().UTC()
	until := now.Add(ttl)
	if _, err := s.db.ExecContext(ctx,
		`INSERT INTO channel_state (channel_id) VALUES ($1) ON CONFLICT (channel_id) DO NOTHING`, channelID); err != nil {
		return Lease{}, fmt.Errorf("store: acquire lease on channel %d: %w", channelID, err)
	}
	l := Lease{ChannelID: channelID, Holder: holder, Until: until.Truncate(time.Microsecond)}
	err := s.db.QueryRowContext(ctx, `
		UPDATE channel_state SET lease_token = lease_token + 1, lease_holder = $2, lease_until = $3, updated_at = $4
		WHERE channel_id = $1 AND (lease_until <= $4 OR lease_holder = $2)
		RETURNING lease_token, cursor`,
		channelID, holder, until.UnixMicro(), now.UnixMicro()).Scan(&l.Token, &l.Cursor)
	if errors.Is(err, sql.ErrNoRows) {
		var by string
		var exp int64
		if err := s.db.QueryRowContext(ctx, `SELECT lease_holder, lease_until FROM channel_state WHERE channel_id = $1`,
			channelID).Scan(&by, &exp); err != nil {
			return Lease{}, fmt.Errorf("store: acquire lease on channel %d: %w", channelID, err)
		}
		return Lease{}, intel.Errorf(intel.ECONFLICT, "channel %d is being polled by %s until %s",
			channelID, by, time.UnixMicro(exp).UTC().Format(time.RFC3339))
	}
	if err != nil {
		return Lease{}, fmt.Errorf("store: acquire lease on channel %d: %w", channelID, err)
	}
	return l, nil
}

// RenewLease extends a lease that is still the channel's.
func (s *Store) RenewLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	until := s.now().UTC().Add(ttl)
	res, err := s.db.ExecContext(ctx, `UPDATE channel_state SET lease_until = $1 WHERE channel_id = $2 AND lease_token = $3`,
		until.UnixMicro(), l.ChannelID, l.Token)
	if err != nil {
		return l, fmt.Errorf("store: renew lease on channel %d: %w", l.ChannelID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return l, staleLease(l)
	}
	l.Until = until.Truncate(time.Microsecond)
	return l, nil
}

// ReleaseLease gives a lease back so that the channel may be polled at once.
// Releasing a lease that is no longer the channel's does nothing.
func (s *Store) ReleaseLease(ctx context.Context, l Lease) error {
	if _, err := s.db.ExecContext(ctx,
		`UPDATE channel_state SET lease_holder = '', lease_until = 0 WHERE channel_id = $1 AND lease_token = $2`,
		l.ChannelID, l.Token); err != nil {
		return fmt.Errorf("store: release lease on channel %d: %w", l.ChannelID, err)
	}
	return nil
}

// LeaseHolder returns who holds (or last held) a channel's lease; "" when
// nobody ever did.
func (s *Store) LeaseHolder(ctx context.Context, channelID int64) (string, error) {
	var by string
	err := s.db.QueryRowContext(ctx, `SELECT lease_holder FROM channel_state WHERE channel_id = $1`, channelID).Scan(&by)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: read lease of channel %d: %w", channelID, err)
	}
	return by, nil
}

// TakeLease takes over a running lease from a holder known to be dead (a
// process of this host that no longer exists), provided the lease is still
// that holder's: no wait for it to lapse. The token moves on, so the dead
// holder's token is refused as after any takeover. ECONFLICT when the lease
// changed hands meanwhile.
func (s *Store) TakeLease(ctx context.Context, channelID int64, from, holder string, ttl time.Duration) (Lease, error) {
	if from == "" || holder == "" || ttl <= 0 {
		return Lease{}, intel.Errorf(intel.EINVALID, "a lease takeover needs the dead holder, a holder and a positive duration")
	}
	now := s.now().UTC()
	until := now.Add(ttl)
	l := Lease{ChannelID: channelID, Holder: holder, Until: until.Truncate(time.Microsecond)}
	err := s.db.QueryRowContext(ctx, `
		UPDATE channel_state SET lease_token = lease_token + 1, lease_holder = $2, lease_until = $3, updated_at = $4
		WHERE channel_id = $1 AND lease_holder = $5
		RETURNING lease_token, cursor`,
		channelID, holder, until.UnixMicro(), now.UnixMicro(), from).Scan(&l.Token, &l.Cursor)
	if errors.Is(err, sql.ErrNoRows) {
		return Lease{}, intel.Errorf(intel.ECONFLICT, "channel %d: the lease is no longer %s's", channelID, from)
	}
	if err != nil {
		return Lease{}, fmt.Errorf("store: take over lease on channel %d: %w", channelID, err)
	}
	return l, nil
}

// Cursor returns a channel's committed cursor ("" before its first page).
func (s *Store) Cursor(ctx context.Context, channelID int64) (string, error) {
	var c string
	err := s.db.QueryRowContext(ctx, `SELECT cursor FROM channel_state WHERE channel_id = $1`, channelID).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: read cursor of channel %d: %w", channelID, err)
	}
	return c, nil
}

func staleLease(l Lease) error {
	return intel.Errorf(intel.ECONFLICT, "channel %d: lease %d held by %s is no longer current; the page was not written",
		l.ChannelID, l.Token, l.Holder)
}
