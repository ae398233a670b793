package db_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
)

func TestCipherRoundTrip(t *testing.T) {
	c, err := db.NewCipher(dbtest.TestKey())
	if err != nil {
		t.Fatalf("NewCipher: %v", err)
	}
	for _, plain := range []string{"", "p", "correct horse battery staple", strings.Repeat("x", 4096)} {
		sealed := c.Seal([]byte(plain), []byte("client-a"))
		if len(plain) >= 8 && bytes.Contains(sealed, []byte(plain)) { // shorter ones may occur by chance
			t.Errorf("sealed %q contains the plaintext", plain)
		}
		if got, want := len(sealed), 12+len(plain)+16; got != want {
			t.Errorf("len(Seal(%d bytes)) = %d, want %d", len(plain), got, want)
		}
		got, err := c.Open(sealed, []byte("client-a"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if string(got) != plain {
			t.Errorf("Open = %q, want %q", got, plain)
		}
	}
	// A fresh nonce each time: the same plaintext never seals the same way.
	if a, b := c.Seal([]byte("same"), nil), c.Seal([]byte("same"), nil); bytes.Equal(a, b) {
		t.Errorf("two seals of one plaintext are equal: %x", a)
	}
}

func TestCipherOpenFails(t *testing.T) {
	c, _ := db.NewCipher(dbtest.TestKey())
	other, _ := db.NewCipher(dbtest.TestKey())
	sealed := c.Seal([]byte("hunter2"), []byte("client-a"))
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name       string
		c          *db.Cipher
		ciphertext []byte
		ad         string
	}{
		{"other client", c, sealed, "client-b"},
		{"other key", other, sealed, "client-a"},
		{"tampered", c, tampered, "client-a"},
		{"too short", c, sealed[:10], "client-a"},
		{"empty", c, nil, "client-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.Open(tt.ciphertext, []byte(tt.ad))
			if err == nil {
				t.Fatalf("Open = %q, nil; want an error", got)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q reveals the plaintext", err)
			}
		})
	}
}

func TestNewCipherKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			key := bytes.Repeat([]byte{'s'}, n)
			c, err := db.NewCipher(key)
			if err == nil {
				t.Fatalf("NewCipher(%d bytes) = %v, nil; want an error", n, c)
			}
			if n > 0 && strings.Contains(err.Error(), string(key)) {
				t.Errorf("error %q reveals the key", err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb, 0xff, 0x3e}, 11)[:32] // has + and / in std base64
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"std padded", base64.StdEncoding.EncodeToString(key), false},
		{"std raw", base64.RawStdEncoding.EncodeToString(key), false},
		{"url padded", base64.URLEncoding.EncodeToString(key), false},
		{"url raw", base64.RawURLEncoding.EncodeToString(key), false},
		{"surrounding space", " " + base64.StdEncoding.EncodeToString(key) + "\n", false},
		{"empty", "", true},
		{"16 bytes", base64.StdEncoding.EncodeToString(key[:16]), true},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 1)), true},
		{"not base64", "this is not base64 at all, not even close!!", true},
		{"hex", strings.Repeat("ab", 32), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.ParseKey(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseKey(%q) = %x, nil; want an error", tt.in, got)
				}
				if tt.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
					t.Errorf("error %q repeats the key", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tt.in, err)
			}
			if !bytes.Equal(got, key) {
				t.Errorf("got %x, want %x", got, key)
			}
		})
	}
}
