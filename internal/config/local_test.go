package config

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The local secrets are made once and kept, so that receiver passwords and
// the payloads in .data/temporal.db stay readable across restarts; the
// ones the environment gives are left alone.
func TestLocalSecretsAreKept(t *testing.T) {
	dir := t.TempDir()
	first := Config{DataDir: dir}
	env, err := first.LocalSecrets(true)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	if len(first.PayloadKeys) != 1 || first.PayloadKeys[0].ID != "local-1" || len(first.PayloadKeys[0].Secret) != 32 || len(first.EncryptionKey) != 32 || first.CodecAuthToken == "" {
		t.Fatalf("got %+v, want a 32-byte key, one 32-byte payload key local-1 and a codec token", first)
	}
	names := make([]string, len(env))
	for i, kv := range env {
		names[i], _, _ = strings.Cut(kv, "=")
	}
	if !slices.Equal(names, []string{"ENCRYPTION_KEY", "PAYLOAD_KEYS", "CODEC_AUTH_TOKEN"}) {
		t.Errorf("environment for the other processes: got %v", names)
	}
	for _, file := range []string{"encryption.key", "payload.keys", "codec.token"} {
		info, err := os.Stat(filepath.Join(dir, file))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", file, err)
		}
	}
	again := Config{DataDir: dir}
	if _, err := again.LocalSecrets(true); err != nil || !bytes.Equal(again.PayloadKeys[0].Secret, first.PayloadKeys[0].Secret) ||
		!bytes.Equal(again.EncryptionKey, first.EncryptionKey) || again.CodecAuthToken != first.CodecAuthToken {
		t.Errorf("second start: got %v, want the same secrets", err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "payload.keys"))
	if !strings.HasPrefix(string(data), "local-1:") {
		t.Errorf("file %q is not in PAYLOAD_KEYS's format", data)
	}
	given := Config{DataDir: dir, EncryptionKey: bytes.Repeat([]byte{1}, 32), CodecAuthToken: "mine"}
	if env, err := given.LocalSecrets(true); err != nil || len(env) != 1 || given.CodecAuthToken != "mine" || given.EncryptionKey[0] != 1 {
		t.Errorf("given secrets: got env %d entries, %v; want only PAYLOAD_KEYS filled", len(env), err)
	}
	if err := os.WriteFile(filepath.Join(dir, "payload.keys"), []byte("not a key list"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Config{DataDir: dir}).LocalSecrets(false); err == nil || strings.Contains(err.Error(), "not a key list") {
		t.Errorf("damaged file: got %v, want an error that does not print the file", err)
	}
}
