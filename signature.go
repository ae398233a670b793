package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SigningSecretPrefix starts every signing secret (Standard Webhooks).
const SigningSecretPrefix = "whsec_"

// SecretRotationOverlap is how long, after a rotation, deliveries carry the
// previous secret's signature beside the new one (SPEC 11).
const SecretRotationOverlap = 24 * time.Hour

// NewSigningSecret returns "whsec_" and the base64 of 32 random bytes.
func NewSigningSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return SigningSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Sign returns the Standard Webhooks signature "v1,<base64 HMAC-SHA256>" of
// body sent as message msgID at timestamp, under secret ("whsec_…").
func Sign(secret, msgID string, timestamp time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SigningSecretPrefix))
	if err != nil || len(key) == 0 {
		return "", errors.New("signing secret is not whsec_ followed by base64")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + "." + strconv.FormatInt(timestamp.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SigningSecrets are a webhook's secrets: the current one, and the previous
// one until PreviousExpires after a rotation.
type SigningSecrets struct {
	Current         string
	Previous        string
	PreviousExpires time.Time
}

// Active lists the secrets that sign a delivery made at now, newest first.
func (s SigningSecrets) Active(now time.Time) []string {
	list := []string{s.Current}
	if s.Previous != "" && now.Before(s.PreviousExpires) {
		list = append(list, s.Previous)
	}
	return list
}
