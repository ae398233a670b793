package db

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of an encryption key: AES-256.
const KeySize = 32

// Cipher encrypts receiver passwords at rest with AES-256-GCM.
type Cipher struct {
	aead cipher.AEAD
}

// NewCipher returns a Cipher using key, which must be KeySize bytes.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("encryption key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	// A random 96-bit nonce per message, prefixed to the ciphertext: keys
	// never rotate per message, so there is no counter to keep.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	return &Cipher{aead: aead}, nil
}

// Seal encrypts plaintext bound to additionalData (the client id, so that a
// ciphertext copied to another tenant's row does not open). The result is
// nonce (12 bytes) || ciphertext || tag.
func (c *Cipher) Seal(plaintext, additionalData []byte) []byte {
	return c.aead.Seal(nil, nil, plaintext, additionalData)
}

// errOpen says nothing of the key or the data on purpose.
var errOpen = errors.New("decrypt: wrong key, altered data or wrong additional data")

// Open decrypts what Seal returned for the same additionalData.
func (c *Cipher) Open(ciphertext, additionalData []byte) ([]byte, error) {
	if len(ciphertext) < c.aead.Overhead() {
		return nil, errors.New("decrypt: ciphertext too short")
	}
	plaintext, err := c.aead.Open(nil, nil, ciphertext, additionalData)
	if err != nil {
		return nil, errOpen
	}
	return plaintext, nil
}

// ParseKey decodes a base64 encryption key (standard or URL alphabet, with or
// without padding) of KeySize bytes, such as `openssl rand -base64 32` prints.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("encryption key is empty; want base64 of 32 random bytes (openssl rand -base64 32)")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("encryption key decodes to %d bytes, want %d", len(key), KeySize)
		}
		return key, nil
	}
	return nil, errors.New("encryption key is not base64; want base64 of 32 random bytes (openssl rand -base64 32)")
}
