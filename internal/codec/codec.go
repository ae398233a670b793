// Package codec encrypts every Temporal payload the service writes (workflow
// and activity inputs and results, query results, memos, summaries,
// failures) with AES-256-GCM, so that Temporal's database and a Temporal UI
// without the key see no phone number, message text or receiver answer.
// It is a converter.PayloadCodec of the Temporal SDK; Handler serves it over
// Temporal's remote codec protocol for an operator's UI or CLI.
// docs/codec.md gives the choices.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload. The values follow the Temporal samples'
// encryption codec, so tools that know that convention recognise ours.
const (
	// MetadataEncoding holds EncodingEncrypted on an encrypted payload.
	MetadataEncoding = converter.MetadataEncoding
	// EncodingEncrypted marks a payload whose data is the nonce and the
	// AES-256-GCM ciphertext of the whole original payload (its metadata
	// included, so the original encoding is hidden and restored too).
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key that encrypted the payload.
	MetadataKeyID = "encryption-key-id"
)

// KeySize is the size of an AES-256 key in bytes.
const KeySize = 32

// Key is one named AES-256 key.
type Key struct {
	ID     string
	Secret []byte
}

// String shows the id only, so that printing a configuration never shows
// a key.
func (k Key) String() string { return k.ID + ":****" }

var keyID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ParseKeys parses PAYLOAD_KEYS: a comma-separated list of id:base64key,
// each key 32 bytes. The first key encrypts; every key decrypts. Errors
// name the key id, never the key.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	for i, entry := range strings.Split(s, ",") {
		id, encoded, ok := strings.Cut(strings.TrimSpace(entry), ":")
		if !ok || !keyID.MatchString(id) {
			return nil, fmt.Errorf("entry %d: want id:base64key, the id of 1-64 letters, digits, '.', '_' or '-'", i+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("key id %q appears twice", id)
		}
		seen[id] = true
		secret, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil || len(secret) != KeySize {
			return nil, fmt.Errorf("key %q: want base64 of %d random bytes (openssl rand -base64 %d)", id, KeySize, KeySize)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return keys, nil
}

// Codec encrypts payloads with its first key and decrypts them with the key
// their metadata names.
type Codec struct {
	encryptID string
	aeads     map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec over keys; keys[0] encrypts.
func New(keys []Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("codec: no key")
	}
	c := &Codec{encryptID: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("codec: key %q: want %d bytes", k.ID, KeySize)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", k.ID, err)
		}
		c.aeads[k.ID] = aead
	}
	return c, nil
}

// DataConverter is the SDK's default data converter with payloads passed
// through c.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Encode encrypts each payload, whole, under the first key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.encryptID]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		// A random 96-bit nonce per payload: a key would need about 2^32
		// payloads before a repeat becomes a concern; rotate long before.
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:    []byte(c.encryptID),
			},
			// The key id is additional data: a ciphertext relabelled with
			// another id does not open.
			Data: aead.Seal(nonce, nonce, plain, []byte(c.encryptID)),
		}
	}
	return out, nil
}

// Decode decrypts each encrypted payload. A payload without the encrypted
// encoding is returned as it is: histories written before payloads were
// encrypted must still replay and complete.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("codec: payload encrypted with unknown key id %q: add that key to PAYLOAD_KEYS", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, fmt.Errorf("codec: payload under key %q is too short", id)
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("codec: payload under key %q does not decrypt: altered, or another key under that id", id)
		}
		var original commonpb.Payload
		if err := proto.Unmarshal(plain, &original); err != nil {
			return nil, fmt.Errorf("codec: unmarshal decrypted payload: %w", err)
		}
		out[i] = &original
	}
	return out, nil
}
