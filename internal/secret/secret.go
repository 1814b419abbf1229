// Package secret seals secrets at rest — the bearer tokens of Flashpoint
// instances — with XChaCha20-Poly1305. Each sealed value is bound to the row
// it belongs to (its id is the additional data), so a sealed token copied to
// another instance's row does not open. The key comes from FLINT_SECRET_KEY or
// from a key file created with mode 0600 on first start; it never leaves this
// package.
package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeyEnv is the environment variable that may hold the key: 32 bytes as
// base64 or hex.
const KeyEnv = "FLINT_SECRET_KEY"

// KeyFile is the name of the key file in the data directory.
const KeyFile = "secret.key"

// Box seals and opens secrets with one key.
type Box struct {
	key [chacha20poly1305.KeySize]byte
}

// ErrOpen means a sealed value could not be opened: the key differs from the
// one that sealed it, the value was altered, or it belongs to another row.
var ErrOpen = errors.New("secret: cannot open sealed value (wrong key, altered value, or another row's)")

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("secret: key is %d bytes; want %d", len(key), chacha20poly1305.KeySize)
	}
	b := &Box{}
	copy(b.key[:], key)
	return b, nil
}

// ErrKeyLost means the key file is missing while tokens sealed with a key
// are stored: a new key would not open them.
var ErrKeyLost = errors.New("secret: the key file is missing")

// Load returns the Box for this installation: the key from env (the value of
// FLINT_SECRET_KEY, when not empty), else from dataDir/secret.key, which is
// created with a random key and mode 0600 when missing and create is true.
// When create is false (tokens sealed with a key are stored), a missing key
// file is ErrKeyLost, with how to restore it. A key file readable by others
// is refused.
func Load(env string, dataDir string, create bool) (*Box, error) {
	if env = strings.TrimSpace(env); env != "" {
		key, err := decodeKey(env)
		if err != nil {
			return nil, fmt.Errorf("secret: %s: %w", KeyEnv, err)
		}
		return New(key)
	}
	path := filepath.Join(dataDir, KeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !create {
		return nil, fmt.Errorf("%w: %s is missing, and the store holds Flashpoint tokens sealed with the key it held, which a new key "+
			"would not open. Restore the file from a backup (or give the key in %s) and start again; Flint will not create a new key "+
			"over them. If the key is lost for good, remove the instances (flint instance remove NAME --yes) and add them again with their tokens",
			ErrKeyLost, path, KeyEnv)
	}
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, chacha20poly1305.KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("secret: create data directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("secret: create key file: %w", err)
		}
		if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("secret: write key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("secret: write key file: %w", err)
		}
		return New(key)
	}
	if err != nil {
		return nil, fmt.Errorf("secret: read key file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret: key file %s has mode %v; it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	key, err := decodeKey(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("secret: key file %s: %w", path, err)
	}
	return New(key)
}

func decodeKey(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == chacha20poly1305.KeySize {
		return b, nil
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == chacha20poly1305.KeySize {
		return b, nil
	}
	return nil, errors.New("want 32 bytes as base64 (44 characters) or hex (64 characters)")
}

// Seal encrypts plaintext for the row named by ad: a random 24-byte nonce
// followed by the ciphertext and its tag.
func (b *Box) Seal(plaintext, ad []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(b.key[:])
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plaintext, ad), nil
}

// Open decrypts what Seal returned for the same row.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(b.key[:])
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	out, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// String hides the key from fmt and loggers.
func (b *Box) String() string { return "secret.Box{key: hidden}" }

// GoString hides the key from %#v.
func (b *Box) GoString() string { return b.String() }

// InstanceAD is the additional data that binds a sealed token to its
// instance row.
func InstanceAD(instanceID int64) []byte {
	return []byte("flint/instance/" + strconv.FormatInt(instanceID, 10))
}

// RuleAD is the additional data that binds a notification rule's sealed
// webhook URL or signing secret (what: "url" or "secret") to its rule row.
func RuleAD(ruleID int64, what string) []byte {
	return []byte("flint/notify-rule/" + strconv.FormatInt(ruleID, 10) + "/" + what)
}

// Derive returns a 32-byte key for one purpose (HMAC-SHA256 of the purpose
// under the box's key): another use of the same secret, such as signing
// TAXII's next tokens, without reusing the key itself. The same key file
// gives the same derived key, across restarts and replicas.
func (b *Box) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, b.key[:])
	m.Write([]byte("flint/derive/" + purpose))
	return m.Sum(nil)
}
