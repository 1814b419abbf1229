package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// Event is a row of the outbox: what happened, to what (an exposure's or a
// channel's id), with the facts of the moment for channel events (an
// exposure's are read when the event is dispatched).
type Event struct {
	ID        int64           `json:"id"`
	Kind      string          `json:"kind"`
	SubjectID int64           `json:"subject_id"`
	Data      json.RawMessage `json:"data,omitempty"`
	Created   time.Time       `json:"created"`
}

// ChannelFacts are a channel event's data, written with the change.
type ChannelFacts struct {
	ChannelID    int64     `json:"channel_id"`
	Instance     string    `json:"instance"`
	Channel      string    `json:"channel"`
	Collection   string    `json:"collection"`
	Status       string    `json:"status"`
	ErrorCode    string    `json:"error_code,omitempty"`
	ErrorMessage string    `json:"error_message,omitempty"`
	EmptyPolls   int       `json:"empty_polls,omitempty"`
	PollID       int64     `json:"poll_id,omitempty"`
	Trigger      string    `json:"trigger,omitempty"`
	Since        time.Time `json:"since,omitzero"`
}

// ExposureFacts are an exposure event's data: the exposure, its asset and
// its vulnerability as they are when the event is dispatched.
type ExposureFacts struct {
	Exposure struct {
		ID        int64     `json:"id"`
		State     string    `json:"state"`
		How       string    `json:"how"`
		Reason    string    `json:"reason"`
		FirstSeen time.Time `json:"first_seen"`
		Reopened  bool      `json:"reopened,omitempty"`
	} `json:"exposure"`
	Asset struct {
		AssetID string `json:"asset_id"`
		Name    string `json:"name,omitempty"`
		Vendor  string `json:"vendor,omitempty"`
		Product string `json:"product"`
		Version string `json:"version,omitempty"`
		CPE     string `json:"cpe,omitempty"`
	} `json:"asset"`
	Vulnerability struct {
		ID              int64     `json:"id"`
		Name            string    `json:"name"`
		Title           string    `json:"title,omitempty"`
		CVSSv3          *float64  `json:"cvss_v3,omitempty"`
		Severity        string    `json:"severity,omitempty"`
		ExploitMaturity string    `json:"exploit_maturity,omitempty"`
		TLP             intel.TLP `json:"tlp"`
		Collections     []string  `json:"collections,omitempty"`
		Instances       []string  `json:"instances,omitempty"`
	} `json:"vulnerability"`
}

// Wants reports whether a rule takes an exposure with these facts.
func (r *Rule) WantsExposure(x *ExposureFacts) bool {
	f, v := &r.Filters, &x.Vulnerability
	switch {
	case r.Event != Exposure:
		return false
	case v.TLP.Rank() > r.MaxTLP.Rank():
		return false
	case x.Exposure.How == "name_only" && !f.NameOnly:
		return false
	case f.MinCVSSv3 != nil && (v.CVSSv3 == nil || *v.CVSSv3 < *f.MinCVSSv3):
		return false
	case len(f.Severities) > 0 && !slices.Contains(f.Severities, strings.ToLower(v.Severity)):
		return false
	case len(f.Maturities) > 0 && !slices.Contains(f.Maturities, strings.ToLower(v.ExploitMaturity)):
		return false
	}
	return anyIn(f.Collections, v.Collections) && anyIn(f.Instances, v.Instances)
}

// WantsChannel reports whether a rule takes a channel event of its kind.
func (r *Rule) WantsChannel(kind string, c *ChannelFacts) bool {
	return r.Event == kind && anyIn(r.Filters.Collections, []string{c.Collection}) && anyIn(r.Filters.Instances, []string{c.Instance})
}

// anyIn: no filter, or one of have is in want (case-insensitively).
func anyIn(want, have []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, h := range have {
		if slices.Contains(want, strings.ToLower(h)) {
			return true
		}
	}
	return false
}

// Document is the JSON a webhook receives (format json).
type Document struct {
	ID         string    `json:"id"` // the delivery's idempotency key, also in the Idempotency-Key header
	EventID    int64     `json:"event_id"`
	Type       string    `json:"type"`
	Rule       string    `json:"rule"`
	OccurredAt time.Time `json:"occurred_at"`
	Data       any       `json:"data"`
}

// Body renders a delivery's body in the rule's format.
func Body(r *Rule, key string, ev Event, data any) ([]byte, error) {
	switch r.Format {
	case FormatSlack:
		return json.Marshal(map[string]string{"text": slackEscape(Text(ev.Kind, data))})
	case FormatTeams:
		card := map[string]any{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
			"body": []map[string]any{{"type": "TextBlock", "text": Text(ev.Kind, data), "wrap": true}}}
		return json.Marshal(map[string]any{"type": "message", "attachments": []map[string]any{
			{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": nil, "content": card}}})
	}
	return json.Marshal(Document{ID: key, EventID: ev.ID, Type: ev.Kind, Rule: r.Name, OccurredAt: ev.Created, Data: data})
}

// slackEscape escapes what Slack reads as markup (<…> links and
// mentions), so that a name from upstream cannot become a link.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Text is the one-paragraph message of an event (formats slack and teams).
func Text(kind string, data any) string {
	switch d := data.(type) {
	case *ExposureFacts:
		v, a := &d.Vulnerability, &d.Asset
		score := ""
		if v.CVSSv3 != nil {
			score = " (CVSS v3 " + strconv.FormatFloat(*v.CVSSv3, 'f', 1, 64) + ")"
		}
		verb := "affects"
		if d.Exposure.Reopened {
			verb = "affects again"
		}
		version := a.Version
		if version != "" {
			version = " " + version
		}
		return sprintf("Flint: %s%s %s %s (%s%s), matched by %s [TLP:%s] — exposure %d.", v.Name, score, verb, a.AssetID,
			a.Product, version, d.Exposure.How, strings.ToUpper(string(v.TLP)), d.Exposure.ID)
	case *ChannelFacts:
		ch := d.Instance + "/" + d.Channel
		switch kind {
		case ChannelError:
			return sprintf("Flint: channel %s is in Connection Error (%s): %s. It is disabled; restore attempts run three times an hour.",
				ch, d.ErrorCode, d.ErrorMessage)
		case ChannelRestored:
			return sprintf("Flint: channel %s is running again.", ch)
		case NoData:
			return sprintf("Flint: channel %s received no data in its last %d scheduled polls.", ch, d.EmptyPolls)
		case PollFailed:
			return sprintf("Flint: poll %d of channel %s failed (%s): %s.", d.PollID, ch, d.ErrorCode, d.ErrorMessage)
		}
	case *TestFacts:
		return "Flint: a test notification for rule " + d.Rule + "."
	}
	return "Flint: " + kind
}

// TestFacts are the data of a test notification.
type TestFacts struct {
	Rule string `json:"rule"`
	Test bool   `json:"test"`
}

// Header names.
const (
	SignatureHeader   = "Flint-Signature"
	IdempotencyHeader = "Idempotency-Key"
	EventHeader       = "Flint-Event"
)

// ReplayWindow is how old a signature's timestamp a receiver should accept
// (docs/notifications.md).
const ReplayWindow = 5 * time.Minute

// Sign returns the Flint-Signature header value of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix seconds>.<body>" under
// secret>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}
