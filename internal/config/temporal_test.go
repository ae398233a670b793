package config

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cleanEnv empties every variable, points the default Temporal profile
// location at an empty directory and sets the one variable production
// requires.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, name := range Variables {
		t.Setenv(name, "")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("ENCRYPTION_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const profiles = `
[profile.default]
address = "from-file:7233"
namespace = "file-ns"
[profile.default.tls]
server_name = "temporal.internal"

[profile.cloud]
address = "acme.a1b2c.tmprl.cloud:7233"
namespace = "acme.a1b2c"
api_key = "cloud-api-key-secret"
`

func TestTemporalProfileAndServiceVariablesAgree(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.toml")
	writeFile(t, file, profiles)
	tests := []struct {
		name          string
		env           map[string]string
		wantAddress   string
		wantNamespace string
		wantAPIKey    string
		wantServer    string
	}{
		{name: "no file, no variables", env: map[string]string{},
			wantAddress: DefaultTemporalAddress, wantNamespace: DefaultNamespace},
		{name: "the file's default profile", env: map[string]string{"TEMPORAL_CONFIG_FILE": file},
			wantAddress: "from-file:7233", wantNamespace: "file-ns", wantServer: "temporal.internal"},
		{name: "the service's variables win over the file",
			env:         map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_ADDRESS": "temporal:7233", "TEMPORAL_NAMESPACE": "prod", "TEMPORAL_TLS_SERVER_NAME": "frontend.internal"},
			wantAddress: "temporal:7233", wantNamespace: "prod", wantServer: "frontend.internal"},
		{name: "a named profile", env: map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud"},
			wantAddress: "acme.a1b2c.tmprl.cloud:7233", wantNamespace: "acme.a1b2c", wantAPIKey: "cloud-api-key-secret"},
		{name: "variables alone", env: map[string]string{"TEMPORAL_ADDRESS": "acme.tmprl.cloud:7233", "TEMPORAL_API_KEY": "env-key"},
			wantAddress: "acme.tmprl.cloud:7233", wantNamespace: DefaultNamespace, wantAPIKey: "env-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load(false)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.TemporalAddress != tt.wantAddress || c.TemporalNamespace != tt.wantNamespace || c.Temporal.APIKey != tt.wantAPIKey {
				t.Errorf("got address %q namespace %q api key %q, want %q %q %q",
					c.TemporalAddress, c.TemporalNamespace, c.Temporal.APIKey, tt.wantAddress, tt.wantNamespace, tt.wantAPIKey)
			}
			server := ""
			if c.Temporal.TLS != nil {
				server = c.Temporal.TLS.ServerName
			}
			if server != tt.wantServer {
				t.Errorf("got TLS server name %q, want %q", server, tt.wantServer)
			}
		})
	}
}

func TestDevStackIgnoresTheProfileInTheHomeDirectory(t *testing.T) {
	cleanEnv(t)
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	writeFile(t, filepath.Join(home, "temporalio", "temporal.toml"), profiles)
	dev, err := Load(true)
	if err != nil {
		t.Fatalf("Load(dev): %v", err)
	}
	if dev.TemporalAddress != "" {
		t.Errorf("dev: got address %q, want none (the embedded server)", dev.TemporalAddress)
	}
	prod, err := Load(false)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if prod.TemporalAddress != "from-file:7233" {
		t.Errorf("production: got address %q, want the default profile's, as every Temporal client reads it", prod.TemporalAddress)
	}
}

func TestTemporalTLSErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	writeFile(t, notPEM, "not a certificate")
	for name, env := range map[string]map[string]string{
		"missing file":     {"TEMPORAL_TLS_CLIENT_CERT_PATH": filepath.Join(dir, "absent.pem"), "TEMPORAL_TLS_CLIENT_KEY_PATH": filepath.Join(dir, "absent.key")},
		"cert without key": {"TEMPORAL_TLS_CLIENT_CERT_PATH": notPEM},
		"CA not PEM":       {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": notPEM},
		"unknown profile":  {"TEMPORAL_PROFILE": "nope"},
	} {
		t.Run(name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			if _, err := Load(false); err == nil || !strings.Contains(err.Error(), "TEMPORAL_") {
				t.Errorf("got %v, want an error naming the Temporal variables", err)
			}
		})
	}
}

func TestCodecVariables(t *testing.T) {
	key1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	key2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	cleanEnv(t)
	t.Setenv("PAYLOAD_KEYS", "2026-11:"+key2+",2026-01:"+key1)
	t.Setenv("CODEC_AUTH_TOKEN", "a-long-operator-token")
	t.Setenv("CODEC_CORS_ORIGIN", "https://temporal-ui.example.com, http://127.0.0.1:8233")
	c, err := Load(false)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(c.PayloadKeys) != 2 || c.PayloadKeys[0].ID != "2026-11" || c.PayloadKeys[1].Secret[0] != 1 {
		t.Errorf("got keys %v, want 2026-11 then 2026-01", c.PayloadKeys)
	}
	if c.CodecAuthToken != "a-long-operator-token" || strings.Join(c.CodecCORSOrigins, " ") != "https://temporal-ui.example.com http://127.0.0.1:8233" {
		t.Errorf("got token %q origins %q", c.CodecAuthToken, c.CodecCORSOrigins)
	}

	bad := map[string]struct{ name, value string }{
		"PAYLOAD_KEYS not id:key":     {"PAYLOAD_KEYS", key1},
		"PAYLOAD_KEYS short key":      {"PAYLOAD_KEYS", "k:" + base64.StdEncoding.EncodeToString([]byte("short"))},
		"CODEC_AUTH_TOKEN short":      {"CODEC_AUTH_TOKEN", "secret"},
		"CODEC_CORS_ORIGIN with path": {"CODEC_CORS_ORIGIN", "https://temporal-ui.example.com/"},
		"CODEC_CORS_ORIGIN no scheme": {"CODEC_CORS_ORIGIN", "temporal-ui.example.com"},
	}
	for name, tt := range bad {
		t.Run(name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv(tt.name, tt.value)
			_, err := Load(false)
			if err == nil || !strings.Contains(err.Error(), tt.name) {
				t.Fatalf("got %v, want an error naming %s", err, tt.name)
			}
			if strings.Contains(err.Error(), key1) || (tt.name != "CODEC_CORS_ORIGIN" && strings.Contains(err.Error(), tt.value)) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func TestLogValueMasksTemporalAndCodecSecrets(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "temporal.toml"), profiles)
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(dir, "temporal.toml"))
	t.Setenv("TEMPORAL_PROFILE", "cloud")
	t.Setenv("PAYLOAD_KEYS", "k1:"+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	t.Setenv("CODEC_AUTH_TOKEN", "codec-token-secret")
	c, err := Load(false)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("config", "config", c)
	for _, secret := range []string{"cloud-api-key-secret", "codec-token-secret", "0123456789abcdef",
		base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("log %s shows %q", out.String(), secret)
		}
	}
	if !strings.Contains(out.String(), `"k1"`) {
		t.Errorf("log %s does not name the payload key id", out.String())
	}
}
