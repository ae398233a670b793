package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The dev stack's payload keys are made once and kept, so that the
// payloads in .data/temporal.db stay readable across restarts.
func TestLocalPayloadKeysAreKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payload.keys")
	first, err := localPayloadKeys(path)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	if len(first) != 1 || first[0].ID != "local-1" || len(first[0].Secret) != 32 {
		t.Fatalf("got %v, want one 32-byte key local-1", first)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v, want 0600", err, info.Mode().Perm())
	}
	again, err := localPayloadKeys(path)
	if err != nil || len(again) != 1 || !bytes.Equal(again[0].Secret, first[0].Secret) {
		t.Errorf("second start: got %v, %v, want the same key", again, err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "local-1:") {
		t.Errorf("file %q is not in PAYLOAD_KEYS's format", data)
	}
	if err := os.WriteFile(path, []byte("not a key list"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := localPayloadKeys(path); err == nil || strings.Contains(err.Error(), "not a key list") {
		t.Errorf("damaged file: got %v, want an error that does not print the file", err)
	}
}
