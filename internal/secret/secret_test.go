package secret

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, err := New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	token := []byte("fp-bearer-token-123456")
	s1, _ := b.Seal(token, []byte("instance:1"))
	s2, _ := b.Seal(token, []byte("instance:1"))
	if bytes.Equal(s1, s2) || bytes.Contains(s1, token) {
		t.Fatal("sealing must use a fresh nonce and hide the token")
	}
	got, err := b.Open(s1, []byte("instance:1"))
	if err != nil || !bytes.Equal(got, token) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(s1, []byte("instance:2")); err != ErrOpen {
		t.Errorf("another row's additional data: %v, want ErrOpen", err)
	}
	s1[30] ^= 1
	if _, err := b.Open(s1, []byte("instance:1")); err != ErrOpen {
		t.Errorf("altered value: %v, want ErrOpen", err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(s2, []byte("instance:1")); err != ErrOpen {
		t.Errorf("another key: %v, want ErrOpen", err)
	}
	if _, err := b.Open([]byte("short"), nil); err != ErrOpen {
		t.Errorf("short value: %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v", b, b, b); strings.Contains(s, "7") && !strings.Contains(s, "hidden") {
		t.Errorf("formatting shows the key: %s", s)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	a, err := Load("", dir, true)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	b, err := Load("", dir, true) // the same key next start
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := a.Seal([]byte("x"), nil)
	if _, err := b.Open(sealed, nil); err != nil {
		t.Errorf("a reloaded key does not open what the first sealed: %v", err)
	}
	os.Chmod(filepath.Join(dir, KeyFile), 0o644)
	if _, err := Load("", dir, true); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: %v", err)
	}
	key := bytes.Repeat([]byte{1}, 32)
	e, err := Load(hex.EncodeToString(key), t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := New(key)
	sealed, _ = want.Seal([]byte("y"), nil)
	if _, err := e.Open(sealed, nil); err != nil {
		t.Errorf("hex key from the environment: %v", err)
	}
	if _, err := Load("too-short", t.TempDir(), true); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("bad env key: %v", err)
	}
}

// With stored tokens to open, a missing key file is an error saying how to
// restore it, never a new key.
func TestLoadRefusesANewKeyOverSealedTokens(t *testing.T) {
	dir := t.TempDir()
	_, err := Load("", dir, false)
	if !errors.Is(err, ErrKeyLost) || !strings.Contains(err.Error(), "Restore the file from a backup") {
		t.Fatalf("missing key with sealed tokens: %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, KeyFile)); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("a key file was created anyway: %v", statErr)
	}
}
