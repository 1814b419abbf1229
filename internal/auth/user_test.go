package auth

import (
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/intel"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("%q %v", h, err)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "correct horse batterY") || CheckPassword(h, "") {
		t.Error("the check does not tell the password")
	}
	if h2, _ := HashPassword("correct horse battery"); h2 == h {
		t.Error("two hashes of one password are the same: no salt")
	}
	for _, bad := range []string{"", "x", "$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA", strings.Replace(h, "argon2id", "argon2i", 1),
		strings.Replace(h, "m=19456", "m=99999999", 1)} {
		if CheckPassword(bad, "correct horse battery") {
			t.Errorf("the malformed hash %q matched", bad)
		}
	}
	for _, pw := range []string{"short", strings.Repeat("x", 257)} {
		if _, err := HashPassword(pw); intel.ErrorCode(err) != intel.EINVALID || !strings.Contains(intel.Fields(err)[0].Message, "12–256") {
			t.Errorf("password of %d characters: %v", len(pw), err)
		}
	}
}

func TestUserPrincipal(t *testing.T) {
	p := UserPrincipal(User{ID: 3, Name: "alice", Role: Analyst, MaxTLP: intel.TLPGreen})
	if p.UserID != 3 || p.KeyID != 0 || p.Actor() != "user:alice" || p.Cap() != intel.TLPGreen || !p.Can(ReadIntel) || p.Can(ManageKeys) {
		t.Errorf("%+v %s", p, p.Actor())
	}
}
