package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/flintcti/flint/internal/intel"
)

// User is a console user: a name and a password, with a role and TLP cap
// as an API key has (the same permissions, the same cap).
type User struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Role       Role      `json:"role"`
	MaxTLP     intel.TLP `json:"max_tlp,omitempty"` // "" : no cap
	Created    time.Time `json:"created"`
	CreatedBy  string    `json:"created_by,omitempty"`
	PasswordAt time.Time `json:"password_changed"`
}

// Limits of users and passwords.
const (
	MaxUserNameLen = 64
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// Validate checks a user's name, role and cap.
func (u *User) Validate() error {
	var bad []intel.FieldError
	if n := utf8.RuneCountInString(u.Name); n < 1 || n > MaxUserNameLen || strings.TrimSpace(u.Name) != u.Name || strings.ContainsAny(u.Name, " \t:") {
		bad = append(bad, intel.FieldError{Field: "name",
			Message: fmt.Sprintf("user name %q must be 1–%d characters without spaces or colons", u.Name, MaxUserNameLen)})
	} else if intel.HasControl(u.Name) {
		bad = append(bad, intel.FieldError{Field: "name",
			Message: fmt.Sprintf("user name %q contains a control or bidirectional formatting character", u.Name)})
	}
	if _, err := ParseRole(string(u.Role)); err != nil {
		bad = append(bad, intel.FieldError{Field: "role", Message: intel.ErrorMessage(err)})
	}
	if u.MaxTLP != "" && !u.MaxTLP.Valid() {
		bad = append(bad, intel.FieldError{Field: "max_tlp",
			Message: fmt.Sprintf("max_tlp %q is not known; allowed: clear, green, amber, amber+strict, red (or empty: no cap)", u.MaxTLP)})
	}
	return intel.Invalid(bad)
}

// CheckPasswordRules checks a new password's length: 12–256 characters
// (no composition rules: length is what resists guessing, NIST SP 800-63B).
func CheckPasswordRules(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen || n > MaxPasswordLen {
		return intel.Invalid([]intel.FieldError{{Field: "password",
			Message: fmt.Sprintf("a password must be %d–%d characters long (it has %d)", MinPasswordLen, MaxPasswordLen, n)}})
	}
	return nil
}

// argon2id parameters (RFC 9106's second recommended option, memory
// lowered as OWASP allows: 19 MiB, 2 passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns the stored form of a password: argon2id with a
// random salt, in the PHC string format.
func HashPassword(pw string) (string, error) {
	if err := CheckPasswordRules(pw); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw is the password of a stored hash (in
// constant time in the hash). A malformed hash matches nothing.
func CheckPassword(stored, pw string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || len(pw) > 4*MaxPasswordLen {
		return false
	}
	var version int
	var mem, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &passes, &threads); err != nil ||
		mem < 8*1024 || mem > 1<<20 || passes < 1 || passes > 10 || threads < 1 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) < 16 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, passes, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// UserPrincipal returns the principal of a signed-in user: the user's
// role and cap, named user:<name> in the audit trail.
func UserPrincipal(u User) *Principal {
	return &Principal{UserID: u.ID, Name: u.Name, Role: u.Role, MaxTLP: u.MaxTLP, actor: "user:" + u.Name}
}
