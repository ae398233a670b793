// Package app wires the parts together for the commands: the store, the
// Temporal client, the activities, the API server. The commands stay thin
// and the dev stack, the tests and the benchmark wire exactly what
// production does.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/activities"
	"github.com/ocelot/webhooks/api"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/metrics"
	"github.com/ocelot/webhooks/worker"
	"github.com/ocelot/webhooks/workflows"
)

// OpenStore connects to PostgreSQL, applies the migrations, re-seals legacy
// receiver passwords and returns the store. The caller closes the returned *sqlx.DB.
func OpenStore(ctx context.Context, cfg config.Config) (*db.Store, *sqlx.DB, error) {
	cipher, err := db.NewCipher(cfg.EncryptionKey)
	if err != nil {
		return nil, nil, fmt.Errorf("encryption key: %w", err)
	}
	conn, err := OpenDatabase(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	store := db.NewStore(conn, cipher)
	store.LimitWebhooks(cfg.MaxWebhooksPerClient)
	// Receiver passwords written before they were bound to their row are
	// re-sealed once, by whichever process starts first after the upgrade;
	// later starts find none (docs/design.md, "Storage").
	if _, err := store.ResealLegacyPasswords(ctx); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("re-seal receiver passwords: %w", err)
	}
	return store, conn, nil
}

// OpenDatabase connects to PostgreSQL and applies the migrations, needing no
// encryption key: for the commands that touch no sealed column (`migrate`,
// `client`). The caller closes it.
func OpenDatabase(ctx context.Context, cfg config.Config) (*sqlx.DB, error) {
	conn, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, conn.DB); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// TemporalClient returns a client that connects on first use, so that the
// API starts (and answers 503 to ingestion) while Temporal is still down.
func TemporalClient(cfg config.Config, logger *slog.Logger, metricsHandler client.MetricsHandler) (client.Client, error) {
	opts, err := ClientOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	// The SDK's worker metrics (slots, polls, latencies) go to /metrics.
	opts.MetricsHandler = metricsHandler
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", cfg.TemporalAddress, err)
	}
	return c, nil
}

// Activities returns the delivery activities on store, with the egress
// guard and timeout of cfg, counting attempts and deliveries in m (nil: no
// metrics).
func Activities(cfg config.Config, store *db.Store, m *metrics.Metrics) *activities.Activities {
	a := &activities.Activities{
		Store:     store,
		Log:       store,
		Retention: cfg.DeliveryRetention,
		HTTP: activities.NewHTTPClient(activities.HTTPOptions{
			Timeout:         cfg.DeliveryTimeout,
			AllowedNetworks: cfg.AllowedNetworks,
		}),
	}
	if m != nil { // a nil *Metrics in the interface would not read as nil
		a.Metrics = m
	}
	return a
}

// APIHandler returns the HTTP API on store, starting workflows through
// starter and counting ingestion in m (nil: no metrics).
func APIHandler(cfg config.Config, store *db.Store, starter *workflows.Starter, m *metrics.Metrics, logger *slog.Logger) http.Handler {
	c := api.Config{
		Store:                store,
		Events:               starter,
		IngestUsername:       cfg.IngestUsername,
		IngestPassword:       cfg.IngestPassword,
		MaxWebhooksPerClient: cfg.MaxWebhooksPerClient,
		RetrySchedule:        cfg.RetrySchedule,
		Log:                  store,
		Resends:              starter,
		Logger:               logger,
	}
	if m != nil { // a nil *Metrics in the interface would not read as nil
		c.Metrics = m
	}
	return withCodecEndpoint(cfg, api.NewServer(c), logger)
}

// ServeMetrics serves m's GET /metrics at addr until stop is called. The
// listener is open when it returns, so that a taken port is a start-up
// error; an empty addr (METRICS_ADDR="") serves nothing. It returns the
// address listened on.
func ServeMetrics(addr string, m *metrics.Metrics, logger *slog.Logger) (listening string, stop func() error, err error) {
	if addr == "" {
		return "", func() error { return nil }, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics: listen on %s (METRICS_ADDR; empty disables metrics): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, mux) }()
	logger.Info("metrics listening", "addr", ln.Addr().String())
	return ln.Addr().String(), func() error {
		cancel()
		if err := <-done; err != nil {
			return fmt.Errorf("metrics server: %w", err)
		}
		return nil
	}, nil
}

// Serve serves handler on ln until ctx is done, then shuts down gracefully,
// letting requests in progress finish for up to 10 seconds.
func Serve(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Logger returns the JSON logger of the commands at level.
func Logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// StartWorker starts a delivery worker on c (worker.New with acts and
// opts), then makes sure the Schedule that prunes the delivery log exists.
// `webhooks worker` and `webhooks serve` with API_RUNS_WORKER both start
// theirs here. Pruning is housekeeping: a worker that cannot create the
// Schedule (no rights on the namespace) still delivers, so that failure is
// logged, not returned. The caller stops the worker.
func StartWorker(ctx context.Context, c client.Client, acts *activities.Activities, opts worker.Options, logger *slog.Logger) (sdkworker.Worker, error) {
	w := worker.New(c, acts, opts)
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	if err := workflows.EnsurePruneSchedule(ctx, c); err != nil {
		logger.Error("delivery log pruning is not scheduled", "err", err)
	}
	return w, nil
}

// WorkerOptions tunes a worker from cfg.
func WorkerOptions(cfg config.Config) worker.Options {
	return worker.Options{
		MaxConcurrentActivities: cfg.WorkerActivities,
		ActivityPollers:         cfg.WorkerPollers,
		WorkflowPollers:         cfg.WorkerPollers,
	}
}

// OpenDevStore is OpenStore for `make run` and `make cluster`: it first
// creates the database when absent, and then creates or updates the demo
// client (DEV_CLIENT_ID, DEV_CLIENT_KEY). The caller closes the *sqlx.DB.
func OpenDevStore(ctx context.Context, cfg config.Config) (*db.Store, *sqlx.DB, error) {
	if err := db.CreateDatabase(ctx, cfg.DatabaseURL); err != nil {
		return nil, nil, err
	}
	store, conn, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	demo := webhooks.Client{ID: cfg.DevClientID, Name: "demo", KeyHash: webhooks.HashAPIKey(cfg.DevClientKey)}
	if err := store.UpsertClient(ctx, demo); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("demo client: %w", err)
	}
	return store, conn, nil
}
