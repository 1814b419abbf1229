// Package auth holds Flint's API keys, roles and permissions.
//
// A key is "flint_" followed by 26 random base32 characters (130 bits);
// only its SHA-256 is stored, and its first characters are kept to tell keys
// apart in lists. SHA-256 without a salt is enough for random keys of that
// strength (a slow hash protects guessable passwords, not these).
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flintcti/flint/internal/intel"
)

// Permission is what a key may do. The first four are Cyware Intel
// Exchange's feed-source permissions (the Flashpoint Ignite feed-source page Flint is modelled on); read_intel and
// manage_keys are Flint's.
type Permission string

// Permissions.
const (
	ViewAPIFeed      Permission = "view_api_feed"      // collections and the feeds served from them
	ViewFeedSource   Permission = "view_feed_source"   // instances, channels, poll records
	CreateFeedSource Permission = "create_feed_source" // add instances
	UpdateFeedSource Permission = "update_feed_source" // change, test, poll, migrate, remove instances and channels
	ReadIntel        Permission = "read_intel"         // objects, lookup, vulnerabilities, CMDB matching
	ManageKeys       Permission = "manage_keys"        // API keys and the audit trail
	ManageOutlets    Permission = "manage_outlets"     // blocklists and the allow-list
	// ManageNotifications: notification rules and their deliveries.
	ManageNotifications Permission = "manage_notifications"
	// ManageDestinations: the allow-list of webhook destinations, which
	// bounds where any rule may send.
	ManageDestinations Permission = "manage_destinations"
)

// AllPermissions lists every permission.
func AllPermissions() []Permission {
	return []Permission{ViewAPIFeed, ViewFeedSource, CreateFeedSource, UpdateFeedSource, ReadIntel, ManageKeys, ManageOutlets,
		ManageNotifications, ManageDestinations}
}

// Role is a named set of permissions.
type Role string

// Roles.
const (
	Admin       Role = "admin"
	FeedManager Role = "feed-manager"
	Analyst     Role = "analyst"
)

// Roles lists every role.
func Roles() []Role { return []Role{Admin, FeedManager, Analyst} }

// Permissions returns the role's permissions (none for an unknown role).
func (r Role) Permissions() []Permission {
	switch r {
	case Admin:
		return AllPermissions()
	case FeedManager:
		return []Permission{ViewAPIFeed, ViewFeedSource, CreateFeedSource, UpdateFeedSource}
	case Analyst:
		return []Permission{ReadIntel, ViewFeedSource, ViewAPIFeed}
	}
	return nil
}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Roles(), r) {
		return r, nil
	}
	return "", intel.Errorf(intel.EINVALID, "role %q is not known; allowed: admin, feed-manager, analyst", s)
}

// Key is a stored API key (never the key itself).
type Key struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	MaxTLP    intel.TLP  `json:"max_tlp,omitempty"` // "" : no cap
	List      string     `json:"list,omitempty"`    // "" : not bound; else the one blocklist the key may read (a firewall's)
	Prefix    string     `json:"prefix"`
	Created   time.Time  `json:"created"`
	CreatedBy string     `json:"created_by,omitempty"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	Revoked   *time.Time `json:"revoked,omitempty"`
}

// Limits of keys.
const (
	KeyPrefix     = "flint_"
	MaxKeyNameLen = 64
	shownChars    = len(KeyPrefix) + 6
)

// Validate checks a new key's name, role and cap.
func (k *Key) Validate() error {
	var bad []intel.FieldError
	if n := utf8.RuneCountInString(k.Name); n < 1 || n > MaxKeyNameLen || strings.TrimSpace(k.Name) != k.Name {
		bad = append(bad, intel.FieldError{Field: "name",
			Message: fmt.Sprintf("key name %q must be 1–%d characters without leading or trailing spaces", k.Name, MaxKeyNameLen)})
	} else if intel.HasControl(k.Name) {
		bad = append(bad, intel.FieldError{Field: "name",
			Message: fmt.Sprintf("key name %q contains a control or bidirectional formatting character", k.Name)})
	}
	if _, err := ParseRole(string(k.Role)); err != nil {
		bad = append(bad, intel.FieldError{Field: "role", Message: intel.ErrorMessage(err)})
	}
	if k.MaxTLP != "" && !k.MaxTLP.Valid() {
		bad = append(bad, intel.FieldError{Field: "max_tlp",
			Message: fmt.Sprintf("max_tlp %q is not known; allowed: clear, green, amber, amber+strict, red (or empty: no cap)", k.MaxTLP)})
	}
	return intel.Invalid(bad)
}

// NewToken returns a new random key, the prefix shown for it and its hash.
func NewToken() (token, prefix, hash string) {
	token = KeyPrefix + strings.ToLower(rand.Text())
	return token, token[:shownChars], Hash(token)
}

// Hash returns the stored form of a key.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// LooksLikeKey reports whether s has the shape of a Flint key (a cheap
// check before a database look-up).
func LooksLikeKey(s string) bool {
	return strings.HasPrefix(s, KeyPrefix) && len(s) > len(KeyPrefix)+16 && len(s) <= 128
}

// Principal is who makes a request: the key's identity, role and cap.
type Principal struct {
	KeyID  int64 // the API key's id (0: not a key)
	UserID int64 // the console user's id (0: not a user)
	Name   string
	Role   Role
	MaxTLP intel.TLP // "" : no cap
	List   string    // "" : not bound; else the only thing the principal may read is this blocklist

	actor string // how the audit trail names it, when not by its key
}

// Operator is the principal of whoever runs Flint's command line on its
// host: an admin without a TLP cap (whoever may open the data directory
// holds everything in it anyway), named name in the audit trail.
func Operator(name string) *Principal {
	return &Principal{Name: name, Role: Admin, actor: name}
}

// PrincipalOf returns the principal of a stored key.
func PrincipalOf(k Key) *Principal {
	return &Principal{KeyID: k.ID, Name: k.Name, Role: k.Role, MaxTLP: k.MaxTLP, List: k.List}
}

// Can reports whether the principal has the permission.
func (p *Principal) Can(perm Permission) bool {
	return p != nil && slices.Contains(p.Role.Permissions(), perm)
}

// Sees reports whether the principal may see an object marked tlp. An
// object without a marking (TLP none) is seen by every key.
func (p *Principal) Sees(tlp intel.TLP) bool {
	return p == nil || p.MaxTLP == "" || tlp.Rank() <= p.MaxTLP.Rank()
}

// Cap is the principal's TLP cap ("" : none, as for no principal).
func (p *Principal) Cap() intel.TLP {
	if p == nil {
		return ""
	}
	return p.MaxTLP
}

// Grants checks that the principal may create a key k: k may hold no
// permission the principal lacks, and no wider TLP cap (a capped principal
// creates only keys capped at or below its own cap). A nil principal (the
// operator at the command line) grants anything.
func (p *Principal) Grants(k Key) error {
	if p == nil {
		return nil
	}
	for _, perm := range k.Role.Permissions() {
		if !p.Can(perm) {
			return intel.Errorf(intel.EFORBIDDEN, "the key %q (role %s) may not create a key with role %s: that role has the %s permission, which %q lacks",
				p.Name, p.Role, k.Role, perm, p.Name)
		}
	}
	if p.MaxTLP != "" && (k.MaxTLP == "" || k.MaxTLP.Rank() > p.MaxTLP.Rank()) {
		cap := string(k.MaxTLP)
		if cap == "" {
			cap = "no cap"
		}
		return intel.Errorf(intel.EFORBIDDEN, "the key %q is capped at TLP %s: it may create keys capped at %s or below, not %s",
			p.Name, p.MaxTLP, p.MaxTLP, cap)
	}
	return nil
}

// MayMark reports whether the principal may set the TLP that marks
// intelligence (a channel's TLP): only a principal without a cap, since a
// capped one could re-mark what it may not see into what it may.
func (p *Principal) MayMark() bool { return p == nil || p.MaxTLP == "" }

// Actor names the principal in the audit trail.
func (p *Principal) Actor() string {
	switch {
	case p == nil:
		return "anonymous"
	case p.actor != "":
		return p.actor
	}
	return fmt.Sprintf("key:%d %s", p.KeyID, p.Name)
}
