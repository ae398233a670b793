// Package config reads the service's environment variables once into a
// struct, with documented defaults and clear errors for bad values. The
// README's configuration table mirrors Load.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"time"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/ocelot/webhooks/activities"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/internal/codec"
	"github.com/ocelot/webhooks/workflows"
)

// Config is every setting of the API, the worker and the dev stack.
type Config struct {
	HTTPAddr          string
	DatabaseURL       string
	TemporalAddress   string // "" = the dev stack starts its own server
	TemporalNamespace string
	DevClientID       string
	DevClientKey      string
	IngestUsername    string
	IngestPassword    string
	RetrySchedule     []time.Duration
	AllowedNetworks   []netip.Prefix
	EncryptionKey     []byte
	DeliveryTimeout   time.Duration
	// DeliveryRetention is how long the delivery log is kept (SPEC 10).
	DeliveryRetention time.Duration
	// MaxWebhooksPerClient caps a client's webhooks (SPEC 3.5).
	MaxWebhooksPerClient int
	DataDir              string // dev stack: Temporal's SQLite file and the local encryption key
	TemporalUIAddr       string // dev stack: where the embedded Temporal Web UI listens
	TemporalPort         int    // dev stack: the embedded server's gRPC port
	WorkerActivities     int
	WorkerPollers        int
	// MetricsAddr is where /metrics is served; "" disables it.
	MetricsAddr string
	// RegisterSearchAttributes makes the worker register the custom search
	// attributes at start (needs operator rights on the cluster).
	RegisterSearchAttributes bool
	// APIRunsWorker makes `webhooks serve` host a worker too, on the API's
	// Temporal client, and start workflows eagerly on it (README,
	// "API_RUNS_WORKER").
	APIRunsWorker bool
	LogLevel      slog.Level

	// Temporal is the connection profile of Temporal's environment
	// configuration (TLS, API key, gRPC headers); its Address and Namespace
	// are the TemporalAddress and TemporalNamespace above.
	Temporal envconfig.ClientConfigProfile
	// PayloadKeys encrypt Temporal payloads; the first encrypts, all decrypt.
	PayloadKeys []codec.Key
	// CodecAuthToken is the operator credential of the codec endpoint; ""
	// leaves the endpoint off, except in the dev stack (CodecOpen).
	CodecAuthToken string
	// CodecCORSOrigins are the Temporal UI origins the codec endpoint
	// answers CORS for.
	CodecCORSOrigins []string
	// CodecOpen serves the codec endpoint without a credential. Never read
	// from the environment: the dev stack sets it for its embedded UI, on
	// loopback.
	CodecOpen bool
}

// Variables lists every environment variable Load reads; the README's
// configuration table and docker-compose.yml are checked against it.
var Variables = []string{
	"HTTP_ADDR", "DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE",
	"DEV_CLIENT_ID", "DEV_CLIENT_KEY", "INGEST_USERNAME", "INGEST_PASSWORD",
	"RETRY_SCHEDULE", "ALLOWED_PRIVATE_NETWORKS", "ENCRYPTION_KEY", "DELIVERY_TIMEOUT", "DELIVERY_RETENTION", "MAX_WEBHOOKS_PER_CLIENT",
	"DEV_DATA_DIR", "TEMPORAL_UI_ADDR", "TEMPORAL_PORT", "WORKER_MAX_CONCURRENT_ACTIVITIES", "WORKER_POLLERS",
	"PAYLOAD_KEYS", "CODEC_AUTH_TOKEN", "CODEC_CORS_ORIGIN",
	"TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE", "TEMPORAL_API_KEY", "TEMPORAL_TLS",
	"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_NAME",
	"TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_TLS_CLIENT_KEY_DATA", "TEMPORAL_TLS_SERVER_CA_CERT_DATA", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
	"REGISTER_SEARCH_ATTRIBUTES", "API_RUNS_WORKER", "LOG_LEVEL", "METRICS_ADDR",
}

// Defaults. The dev-only ones are applied by the dev stack, never by the
// production commands.
const (
	DefaultHTTPAddr         = "127.0.0.1:8080"
	DefaultDatabaseURL      = "postgres://postgres@127.0.0.1:5432/webhooks?sslmode=disable"
	DefaultTemporalAddress  = "127.0.0.1:7233"
	DefaultNamespace        = "default"
	DefaultIngestUsername   = "ingest"
	DefaultRetrySchedule    = "0s,5s,5m,30m,2h,5h,10h,10h"
	DefaultDeliveryTimeout  = 10 * time.Second
	DefaultRetention        = 720 * time.Hour
	DefaultMaxWebhooks      = 100
	DefaultDataDir          = ".data"
	DefaultTemporalUIAddr   = "127.0.0.1:8233"
	DefaultTemporalPort     = 7233
	DefaultWorkerActivities = 200
	DefaultWorkerPollers    = 16
	DefaultMetricsAddr      = "127.0.0.1:9090"
	DefaultAPIRunsWorker    = false
	DevClientID             = "demo"
	DevClientKey            = "demo-key-for-local-use-only"
	DevIngestPassword       = "ingest-key-for-local-use-only"
	DevAllowedNetworks      = "127.0.0.0/8,::1/128"
)

// maxDeliveryTimeout keeps an attempt inside the activity's start-to-close
// timeout (workflows.attemptStartToClose).
const maxDeliveryTimeout = 50 * time.Second

// Load reads the environment. dev selects the dev stack's defaults for the
// settings production must give explicitly (ingest password, loopback
// deliveries, the encryption key, which the dev stack keeps in DataDir).
func Load(dev bool) (Config, error) {
	var errs []error
	c := Config{
		HTTPAddr:       env("HTTP_ADDR", DefaultHTTPAddr),
		DatabaseURL:    env("DATABASE_URL", DefaultDatabaseURL),
		DevClientID:    env("DEV_CLIENT_ID", DevClientID),
		DevClientKey:   env("DEV_CLIENT_KEY", DevClientKey),
		IngestUsername: env("INGEST_USERNAME", DefaultIngestUsername),
		IngestPassword: os.Getenv("INGEST_PASSWORD"),
		DataDir:        env("DEV_DATA_DIR", DefaultDataDir),
		TemporalUIAddr: env("TEMPORAL_UI_ADDR", DefaultTemporalUIAddr),
	}
	errs = append(errs, c.loadTemporal(dev), c.loadCodec())
	if c.IngestPassword == "" && dev {
		c.IngestPassword = DevIngestPassword
	}
	var err error
	if c.RetrySchedule, err = workflows.ParseRetrySchedule(env("RETRY_SCHEDULE", DefaultRetrySchedule)); err != nil {
		errs = append(errs, fmt.Errorf("RETRY_SCHEDULE: %w", err))
	}
	networks := os.Getenv("ALLOWED_PRIVATE_NETWORKS")
	if networks == "" && dev {
		networks = DevAllowedNetworks
	}
	if c.AllowedNetworks, err = activities.ParseNetworks(networks); err != nil {
		errs = append(errs, fmt.Errorf("ALLOWED_PRIVATE_NETWORKS: %w", err))
	}
	// ENCRYPTION_KEY is not required here but by serve and worker, so that
	// the commands that touch no sealed column (migrate, client) run without.
	if key := os.Getenv("ENCRYPTION_KEY"); key != "" {
		if c.EncryptionKey, err = db.ParseKey(key); err != nil {
			errs = append(errs, fmt.Errorf("ENCRYPTION_KEY: %w", err))
		}
	}
	if c.DeliveryTimeout, err = duration("DELIVERY_TIMEOUT", DefaultDeliveryTimeout); err == nil && (c.DeliveryTimeout <= 0 || c.DeliveryTimeout > maxDeliveryTimeout) {
		err = fmt.Errorf("DELIVERY_TIMEOUT: must be between 1ms and %s", maxDeliveryTimeout)
	}
	errs = append(errs, err)
	if c.DeliveryRetention, err = duration("DELIVERY_RETENTION", DefaultRetention); err == nil && c.DeliveryRetention < time.Hour {
		// Shorter than a delivery's retries would prune deliveries in flight.
		err = errors.New("DELIVERY_RETENTION: must be at least 1h")
	}
	errs = append(errs, err)
	if c.MaxWebhooksPerClient, err = integer("MAX_WEBHOOKS_PER_CLIENT", DefaultMaxWebhooks); err == nil && c.MaxWebhooksPerClient < 1 {
		err = errors.New("MAX_WEBHOOKS_PER_CLIENT: must be at least 1")
	}
	errs = append(errs, err)
	if c.TemporalPort, err = integer("TEMPORAL_PORT", DefaultTemporalPort); err == nil && (c.TemporalPort < 0 || c.TemporalPort > 65535) {
		err = errors.New("TEMPORAL_PORT: must be a port number")
	}
	errs = append(errs, err)
	if c.WorkerActivities, err = integer("WORKER_MAX_CONCURRENT_ACTIVITIES", DefaultWorkerActivities); err == nil && c.WorkerActivities < 1 {
		err = errors.New("WORKER_MAX_CONCURRENT_ACTIVITIES: must be at least 1")
	}
	errs = append(errs, err)
	c.RegisterSearchAttributes, err = boolean("REGISTER_SEARCH_ATTRIBUTES", false)
	errs = append(errs, err)
	c.APIRunsWorker, err = boolean("API_RUNS_WORKER", DefaultAPIRunsWorker)
	errs = append(errs, err)
	if c.WorkerPollers, err = integer("WORKER_POLLERS", DefaultWorkerPollers); err == nil && c.WorkerPollers < 2 {
		err = errors.New("WORKER_POLLERS: must be at least 2")
	}
	errs = append(errs, err)
	// Set but empty disables metrics, so unset and empty differ here.
	c.MetricsAddr = DefaultMetricsAddr
	if v, ok := os.LookupEnv("METRICS_ADDR"); ok {
		c.MetricsAddr = v
	}
	if _, _, err := net.SplitHostPort(c.MetricsAddr); c.MetricsAddr != "" && err != nil {
		errs = append(errs, fmt.Errorf("METRICS_ADDR: %q is not host:port, e.g. 127.0.0.1:9090 (empty disables metrics)", c.MetricsAddr))
	}
	if err := c.LogLevel.UnmarshalText([]byte(env("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	return c, errors.Join(errs...)
}

// LogValue prints the configuration at start with every secret masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("http_addr", c.HTTPAddr),
		slog.String("database_url", maskURL(c.DatabaseURL)),
		slog.String("temporal_address", c.TemporalAddress),
		slog.String("temporal_namespace", c.TemporalNamespace),
		slog.String("temporal_api_key", mask(c.Temporal.APIKey)),
		slog.Any("temporal_tls", temporalTLS(c.Temporal.TLS)),
		slog.Any("payload_key_ids", keyIDs(c.PayloadKeys)),
		slog.String("codec_auth_token", mask(c.CodecAuthToken)),
		slog.Any("codec_cors_origin", c.CodecCORSOrigins),
		slog.String("ingest_username", c.IngestUsername),
		slog.String("ingest_password", mask(c.IngestPassword)),
		slog.Any("retry_schedule", c.RetrySchedule),
		slog.Any("allowed_private_networks", c.AllowedNetworks),
		slog.String("encryption_key", mask(string(c.EncryptionKey))),
		slog.Duration("delivery_timeout", c.DeliveryTimeout),
		slog.Duration("delivery_retention", c.DeliveryRetention),
		slog.Int("worker_max_concurrent_activities", c.WorkerActivities),
		slog.Int("worker_pollers", c.WorkerPollers),
		slog.Bool("api_runs_worker", c.APIRunsWorker),
		slog.String("metrics_addr", c.MetricsAddr),
	)
}

func mask(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	return "****"
}

// maskURL hides the password of a connection string; a key=value string
// (which may hold a password anywhere) is not printed at all.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(set, not shown)"
	}
	return u.Redacted()
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func duration(name string, fallback time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration such as 10s", name, v)
	}
	return d, nil
}

// boolean reads true/1 or false/0; unset or empty is fallback.
func boolean(name string, fallback bool) (bool, error) {
	switch v := os.Getenv(name); v {
	case "":
		return fallback, nil
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	default:
		return fallback, fmt.Errorf("%s: %q is not true or false", name, v)
	}
}

func integer(name string, fallback int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a whole number", name, v)
	}
	return n, nil
}
