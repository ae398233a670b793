package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/internal/codec"
)

// LocalSecrets gives the dev stack and `make cluster` the secrets the
// environment did not: the encryption key, the payload keys and (with
// codecToken) the codec endpoint's credential, each read from a file under
// DataDir, created on first use, so that receiver passwords and the
// payloads in Temporal stay readable across restarts. It returns those it
// filled as environment variables, for the processes of the same stack.
func (c *Config) LocalSecrets(codecToken bool) (env []string, err error) {
	if c.EncryptionKey == nil {
		path := filepath.Join(c.DataDir, "encryption.key")
		text, err := localSecret(path, func(key string) string { return key })
		if err != nil {
			return nil, err
		}
		if c.EncryptionKey, err = db.ParseKey(text); err != nil {
			return nil, fmt.Errorf("local encryption key %s: %w", path, err)
		}
		env = append(env, "ENCRYPTION_KEY="+text)
	}
	if c.PayloadKeys == nil {
		// The file has PAYLOAD_KEYS's format: add a key in front to try a
		// rotation.
		path := filepath.Join(c.DataDir, "payload.keys")
		text, err := localSecret(path, func(key string) string { return "local-1:" + key })
		if err != nil {
			return nil, err
		}
		if c.PayloadKeys, err = codec.ParseKeys(text); err != nil {
			return nil, fmt.Errorf("local payload keys %s: %w", path, err)
		}
		env = append(env, "PAYLOAD_KEYS="+text)
	}
	if codecToken && c.CodecAuthToken == "" {
		if c.CodecAuthToken, err = localSecret(filepath.Join(c.DataDir, "codec.token"), func(key string) string { return key }); err != nil {
			return nil, err
		}
		env = append(env, "CODEC_AUTH_TOKEN="+c.CodecAuthToken)
	}
	return env, nil
}

// LocalSecretSource names where a secret came from, never its value: the
// variable when the operator set it, else its file under DataDir.
func (c *Config) LocalSecretSource(variable, file string) string {
	if os.Getenv(variable) != "" {
		return variable
	}
	return filepath.Join(c.DataDir, file)
}

// ShownIngestPassword is what a banner prints of the ingest password: the
// dev default, which is no secret, or a reference to the variable the
// operator set, whose value stays off the terminal (and its scrollback).
func (c *Config) ShownIngestPassword() string {
	if c.IngestPassword == DevIngestPassword {
		return c.IngestPassword
	}
	return "$INGEST_PASSWORD"
}

// localSecret returns the content of the secret file at path, first writing
// format(base64 of 32 random bytes) there when the file does not exist.
func localSecret(path string, format func(key string) string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return "", err
		}
		secret := format(base64.StdEncoding.EncodeToString(key))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
		return secret, nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return strings.TrimSpace(string(data)), nil
}
