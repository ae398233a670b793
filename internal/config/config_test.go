package config

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	for _, name := range Variables {
		t.Setenv(name, "")
	}
	t.Setenv("ENCRYPTION_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	c, err := Load(false)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.HTTPAddr != DefaultHTTPAddr || c.TemporalAddress != DefaultTemporalAddress || len(c.RetrySchedule) != 8 ||
		c.DeliveryTimeout != 10*time.Second || len(c.AllowedNetworks) != 0 || c.DeliveryRetention != 720*time.Hour {
		t.Errorf("got %+v, want the documented defaults", c)
	}
	dev, err := Load(true)
	if err != nil {
		t.Fatalf("Load(dev): %v", err)
	}
	if dev.TemporalAddress != "" || dev.IngestPassword != DevIngestPassword || len(dev.AllowedNetworks) != 2 {
		t.Errorf("dev: got temporal %q ingest %q networks %v, want the dev defaults", dev.TemporalAddress, dev.IngestPassword, dev.AllowedNetworks)
	}
}

func TestLoadReportsEveryBadValue(t *testing.T) {
	for _, name := range Variables {
		t.Setenv(name, "")
	}
	t.Setenv("RETRY_SCHEDULE", "5s,soon")
	t.Setenv("ALLOWED_PRIVATE_NETWORKS", "10.0.0.0/33")
	t.Setenv("DELIVERY_TIMEOUT", "2m")
	t.Setenv("LOG_LEVEL", "loud")
	t.Setenv("ENCRYPTION_KEY", "too-short")
	t.Setenv("DELIVERY_RETENTION", "10m")
	_, err := Load(false)
	if err == nil {
		t.Fatal("got no error, want one")
	}
	for _, want := range []string{"RETRY_SCHEDULE", "ALLOWED_PRIVATE_NETWORKS", "DELIVERY_TIMEOUT", "LOG_LEVEL", "ENCRYPTION_KEY", "DELIVERY_RETENTION"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	c := Config{DatabaseURL: "postgres://app:hunter2@db/webhooks", IngestPassword: "ingest-secret", EncryptionKey: []byte("0123456789abcdef0123456789abcdef")}
	got := c.LogValue().String()
	for _, secret := range []string{"hunter2", "ingest-secret", "0123456789abcdef"} {
		if strings.Contains(got, secret) {
			t.Errorf("log value %s shows %q", got, secret)
		}
	}
}

func TestMetricsAddr(t *testing.T) {
	tests := []struct {
		name    string
		set     bool
		value   string
		want    string
		wantErr bool
	}{
		{name: "unset is the default", want: DefaultMetricsAddr},
		{name: "empty disables", set: true, value: "", want: ""},
		{name: "all interfaces", set: true, value: "0.0.0.0:9100", want: "0.0.0.0:9100"},
		{name: "port only", set: true, value: "9100", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range Variables {
				t.Setenv(name, "")
			}
			t.Setenv("ENCRYPTION_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
			os.Unsetenv("METRICS_ADDR") // t.Setenv above restores it afterwards
			if tt.set {
				t.Setenv("METRICS_ADDR", tt.value)
			}
			c, err := Load(false)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "METRICS_ADDR") {
					t.Fatalf("got %v, want an error naming METRICS_ADDR", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.MetricsAddr != tt.want {
				t.Errorf("got %q, want %q", c.MetricsAddr, tt.want)
			}
		})
	}
}

// The commands that touch no sealed column (migrate, client) load the
// configuration without ENCRYPTION_KEY; serve and worker require it
// themselves.
func TestLoadWithoutEncryptionKey(t *testing.T) {
	for _, name := range Variables {
		t.Setenv(name, "")
	}
	c, err := Load(false)
	if err != nil {
		t.Fatalf("Load without ENCRYPTION_KEY: got %v, want no error", err)
	}
	if c.EncryptionKey != nil {
		t.Errorf("got key %x, want none", c.EncryptionKey)
	}
}

func TestAPIRunsWorker(t *testing.T) {
	tests := []struct {
		value   string
		want    bool
		wantErr bool
	}{
		{value: "", want: false}, // the documented default
		{value: "true", want: true},
		{value: "1", want: true},
		{value: "false", want: false},
		{value: "0", want: false},
		{value: "yes", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			for _, name := range Variables {
				t.Setenv(name, "")
			}
			t.Setenv("API_RUNS_WORKER", tt.value)
			c, err := Load(false)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "API_RUNS_WORKER") {
					t.Fatalf("got %v, want an error naming API_RUNS_WORKER", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.APIRunsWorker != tt.want {
				t.Errorf("got %v, want %v", c.APIRunsWorker, tt.want)
			}
			if got := c.LogValue().String(); !strings.Contains(got, "api_runs_worker="+strconv.FormatBool(tt.want)) {
				t.Errorf("log value %s does not show api_runs_worker=%v", got, tt.want)
			}
		})
	}
}
