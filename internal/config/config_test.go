package config

import (
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
		c.DeliveryTimeout != 10*time.Second || len(c.AllowedNetworks) != 0 {
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
	_, err := Load(false)
	if err == nil {
		t.Fatal("got no error, want one")
	}
	for _, want := range []string{"RETRY_SCHEDULE", "ALLOWED_PRIVATE_NETWORKS", "DELIVERY_TIMEOUT", "LOG_LEVEL", "ENCRYPTION_KEY"} {
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
