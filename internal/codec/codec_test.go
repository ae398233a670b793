package codec

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

func testKey(id string, fill byte) Key {
	return Key{ID: id, Secret: bytes.Repeat([]byte{fill}, KeySize)}
}

func mustCodec(t *testing.T, keys ...Key) *Codec {
	t.Helper()
	c, err := New(keys)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func plainPayload(t *testing.T, value any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(value)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	c := mustCodec(t, testKey("k1", 1))
	in := []*commonpb.Payload{plainPayload(t, map[string]string{"to": "+15550001", "message": "hello"}), plainPayload(t, nil)}
	encoded, err := c.Encode(in)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	for i, p := range encoded {
		if got := string(p.Metadata[MetadataEncoding]); got != EncodingEncrypted {
			t.Errorf("payload %d encoding: got %q, want %q", i, got, EncodingEncrypted)
		}
		if got := string(p.Metadata[MetadataKeyID]); got != "k1" {
			t.Errorf("payload %d key id: got %q, want k1", i, got)
		}
		if bytes.Contains(p.Data, []byte("+15550001")) || bytes.Contains(p.Data, []byte("json/plain")) {
			t.Errorf("payload %d shows its plain text: %q", i, p.Data)
		}
	}
	decoded, err := c.Decode(encoded)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	for i := range in {
		if !proto.Equal(decoded[i], in[i]) {
			t.Errorf("payload %d: got %v, want %v", i, decoded[i], in[i])
		}
	}
	// Through the data converter, as the SDK uses it.
	dc := DataConverter(c)
	p, err := dc.ToPayload("+15550002")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := dc.FromPayload(p, &got); err != nil || got != "+15550002" {
		t.Errorf("data converter round trip: got %q, %v, want +15550002", got, err)
	}
}

func TestEachEncodingUsesAFreshNonce(t *testing.T) {
	c := mustCodec(t, testKey("k1", 1))
	p := plainPayload(t, "same")
	a, _ := c.Encode([]*commonpb.Payload{p})
	b, _ := c.Encode([]*commonpb.Payload{p})
	if bytes.Equal(a[0].Data, b[0].Data) {
		t.Error("two encodings of one payload are identical, want distinct nonces")
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey, newKey := testKey("2026-01", 1), testKey("2026-11", 2)
	before := mustCodec(t, oldKey)
	encodedBefore, err := before.Encode([]*commonpb.Payload{plainPayload(t, "written under the old key")})
	if err != nil {
		t.Fatal(err)
	}
	// The new key is added first: it encrypts, the old one still decrypts.
	after := mustCodec(t, newKey, oldKey)
	decoded, err := after.Decode(encodedBefore)
	if err != nil {
		t.Fatalf("Decode of an old-key payload after rotation: %v", err)
	}
	var got string
	if err := converter.GetDefaultDataConverter().FromPayload(decoded[0], &got); err != nil || got != "written under the old key" {
		t.Errorf("got %q, %v, want the old payload", got, err)
	}
	encodedAfter, _ := after.Encode([]*commonpb.Payload{plainPayload(t, "new")})
	if got := string(encodedAfter[0].Metadata[MetadataKeyID]); got != "2026-11" {
		t.Errorf("new payloads under key %q, want 2026-11", got)
	}
}

func TestUnknownKeyID(t *testing.T) {
	encoded, _ := mustCodec(t, testKey("retired", 1)).Encode([]*commonpb.Payload{plainPayload(t, "x")})
	_, err := mustCodec(t, testKey("current", 2)).Decode(encoded)
	if err == nil || !strings.Contains(err.Error(), `unknown key id "retired"`) {
		t.Errorf("got %v, want an error naming the unknown key id", err)
	}
}

func TestPlainPayloadPassesThrough(t *testing.T) {
	// What a workflow started before encryption has in its history.
	plain := plainPayload(t, map[string]any{"ClientID": "acme", "RetrySchedule": []int64{0, 5e9}})
	binary := &commonpb.Payload{Metadata: map[string][]byte{MetadataEncoding: []byte("binary/null")}}
	decoded, err := mustCodec(t, testKey("k1", 1)).Decode([]*commonpb.Payload{plain, binary})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if decoded[0] != plain || decoded[1] != binary {
		t.Errorf("got %v, want the plain payloads unchanged", decoded)
	}
}

func TestTamperedPayloadFails(t *testing.T) {
	c := mustCodec(t, testKey("k1", 1), testKey("k2", 2))
	tamper := map[string]func(p *commonpb.Payload){
		"flipped ciphertext bit": func(p *commonpb.Payload) { p.Data[len(p.Data)-20] ^= 1 },
		"flipped nonce bit":      func(p *commonpb.Payload) { p.Data[0] ^= 1 },
		"truncated":              func(p *commonpb.Payload) { p.Data = p.Data[:5] },
		"relabelled key id":      func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("k2") },
	}
	for name, change := range tamper {
		t.Run(name, func(t *testing.T) {
			encoded, err := c.Encode([]*commonpb.Payload{plainPayload(t, "the message text")})
			if err != nil {
				t.Fatal(err)
			}
			change(encoded[0])
			if got, err := c.Decode(encoded); err == nil {
				t.Errorf("got %v, want an error", got)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	k1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	keys, err := ParseKeys("new:" + k2 + ", old:" + k1)
	if err != nil {
		t.Fatalf("ParseKeys: %v", err)
	}
	if len(keys) != 2 || keys[0].ID != "new" || keys[1].ID != "old" || keys[1].Secret[0] != 1 {
		t.Errorf("got %v, want new then old", keys)
	}
	short := base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!"))
	for _, bad := range []string{"", k1, "a:" + k1 + ",a:" + k2, "a b:" + k1, "a:" + short, "a:not-base64!"} {
		_, err := ParseKeys(bad)
		if err == nil {
			t.Errorf("ParseKeys(%q): got no error, want one", bad)
			continue
		}
		if strings.Contains(err.Error(), k1) || strings.Contains(err.Error(), short) {
			t.Errorf("ParseKeys(%q): error %q shows key material", bad, err)
		}
	}
	if s := (Key{ID: "k", Secret: []byte("0123456789abcdef0123456789abcdef")}).String(); strings.Contains(s, "0123") {
		t.Errorf("Key.String shows the secret: %s", s)
	}
}
