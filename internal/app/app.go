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
	tlog "go.temporal.io/sdk/log"

	"github.com/ocelot/webhooks/activities"
	"github.com/ocelot/webhooks/api"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/worker"
	"github.com/ocelot/webhooks/workflows"
)

// OpenStore connects to PostgreSQL, applies the migrations and returns the
// store. The caller closes the returned *sqlx.DB.
func OpenStore(ctx context.Context, cfg config.Config) (*db.Store, *sqlx.DB, error) {
	cipher, err := db.NewCipher(cfg.EncryptionKey)
	if err != nil {
		return nil, nil, fmt.Errorf("encryption key: %w", err)
	}
	conn, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.Migrate(ctx, conn.DB); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return db.NewStore(conn, cipher), conn, nil
}

// TemporalClient returns a client that connects on first use, so that the
// API starts (and answers 503 to ingestion) while Temporal is still down.
func TemporalClient(cfg config.Config, logger *slog.Logger) (client.Client, error) {
	c, err := client.NewLazyClient(client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    tlog.NewStructuredLogger(logger.With("component", "temporal")),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", cfg.TemporalAddress, err)
	}
	return c, nil
}

// Activities returns the delivery activities on store, with the egress
// guard and timeout of cfg.
func Activities(cfg config.Config, store *db.Store) *activities.Activities {
	return &activities.Activities{
		Store: store,
		HTTP: activities.NewHTTPClient(activities.HTTPOptions{
			Timeout:         cfg.DeliveryTimeout,
			AllowedNetworks: cfg.AllowedNetworks,
		}),
	}
}

// APIHandler returns the HTTP API on store, starting workflows through c.
func APIHandler(cfg config.Config, store *db.Store, starter *workflows.Starter, logger *slog.Logger) http.Handler {
	return api.NewServer(api.Config{
		Store:          store,
		Events:         starter,
		IngestUsername: cfg.IngestUsername,
		IngestPassword: cfg.IngestPassword,
		RetrySchedule:  cfg.RetrySchedule,
		Logger:         logger,
	})
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

// WorkerOptions tunes a worker from cfg.
func WorkerOptions(cfg config.Config) worker.Options {
	return worker.Options{
		MaxConcurrentActivities: cfg.WorkerActivities,
		ActivityPollers:         cfg.WorkerPollers,
		WorkflowPollers:         cfg.WorkerPollers,
	}
}
