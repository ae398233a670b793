package webhooks

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"
)

// Client is a tenant of the management API (one per chatbot).
type Client struct {
	ID      string
	Name    string
	KeyHash []byte
	Created time.Time
}

// NewAPIKey returns a fresh random API key of 256 bits.
func NewAPIKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return "whk_" + base64.RawURLEncoding.EncodeToString(b)
}

// HashAPIKey is how an API key is stored. A single SHA-256 is enough: keys
// are random and long, so there is nothing for a slow hash to protect.
func HashAPIKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// KeyMatches compares key with the stored hash in constant time.
func (c *Client) KeyMatches(key string) bool {
	return subtle.ConstantTimeCompare(HashAPIKey(key), c.KeyHash) == 1
}

// ValidClientID reports whether id may name a client: non-empty, printable,
// without ":" (the Basic-auth separator), at most 128 bytes.
func ValidClientID(id string) bool {
	return id != "" && len(id) <= 128 && !hasControl(id) && !strings.ContainsAny(id, ": ")
}

// Version is the service version, sent in the User-Agent of deliveries.
const Version = "0.1.0"

// UserAgent is the User-Agent header of every delivery.
const UserAgent = "ocelot-webhooks/" + Version
