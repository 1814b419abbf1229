package feed

import "time"

// Status is a channel's working status.
type Status string

// Working statuses (docs/domain.md §4).
const (
	Running         Status = "running"
	ConnectionError Status = "connection_error" // disabled automatically; restore attempts run
	Disabled        Status = "disabled"         // by a user
)

// RestoreEvery spaces the restore attempts of a channel in connection_error:
// three an hour.
const RestoreEvery = 20 * time.Minute

// NoDataAfter is the number of consecutive empty scheduled polls after which
// a channel is flagged no_data.
const NoDataAfter = 3

// Health is a channel's working state.
type Health struct {
	Status       Status    `json:"status"`
	ErrorCode    string    `json:"error_code,omitempty"` // "401", "503", "timeout", "dns", "tls", "refused", "reset", "bad_response"
	ErrorMessage string    `json:"error_message,omitempty"`
	Since        time.Time `json:"since,omitzero"` // when the status last changed
	NoData       bool      `json:"no_data"`
	EmptyPolls   int       `json:"empty_polls"`
	NextRestore  time.Time `json:"next_restore,omitzero"`
	Restores     int       `json:"restore_attempts"` // failed attempts since the connection error began
}

// Disconnects reports whether a failure of this class means the channel has
// lost connectivity (and is disabled until restored): network and TLS
// failures, 401 and 403, and 5xx or 429 that outlasted the retries. A bad
// response or a refused request fails the poll but keeps the channel running.
func Disconnects(class string) bool {
	switch class {
	case "network", "unauthorized", "forbidden", "upstream", "rate_limited":
		return true
	}
	return false
}

// Enable records a user enabling the channel.
func (h *Health) Enable(now time.Time) {
	if h.Status != Running {
		*h = Health{Status: Running, Since: now}
	}
}

// Disable records a user disabling the channel.
func (h *Health) Disable(now time.Time) {
	*h = Health{Status: Disabled, Since: now, NoData: h.NoData, EmptyPolls: h.EmptyPolls}
}

// Succeeded records a successful poll (or connectivity test) that received
// items; scheduled says it was a scheduled poll, the only kind that counts
// towards no_data. A channel in connection_error is restored.
func (h *Health) Succeeded(now time.Time, items int, scheduled bool) {
	if h.Status == ConnectionError {
		*h = Health{Status: Running, Since: now, NoData: h.NoData, EmptyPolls: h.EmptyPolls}
	}
	h.ErrorCode, h.ErrorMessage = "", ""
	switch {
	case items > 0:
		h.EmptyPolls, h.NoData = 0, false
	case scheduled:
		h.EmptyPolls++
		h.NoData = h.EmptyPolls >= NoDataAfter
	}
}

// Failed records a failed poll or restore attempt with the error's class,
// code and message. A loss of connectivity puts the channel in
// connection_error with its next restore attempt RestoreEvery later; other
// failures keep it running with the error shown. A channel a user disabled
// stays disabled, with the error shown.
func (h *Health) Failed(now time.Time, class, code, message string) {
	h.ErrorCode, h.ErrorMessage = code, message
	if !Disconnects(class) || h.Status == Disabled { // a user's disable stands: no restore attempts
		return
	}
	if h.Status != ConnectionError {
		h.Status, h.Since, h.Restores = ConnectionError, now, 0
	} else {
		h.Restores++
	}
	h.NextRestore = now.Add(RestoreEvery)
}

// RestoreDue reports whether a restore attempt is due.
func (h *Health) RestoreDue(now time.Time) bool {
	return h.Status == ConnectionError && !now.Before(h.NextRestore)
}
