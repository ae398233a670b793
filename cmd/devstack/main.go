// Command devstack is `make run`: the whole service on one machine. It makes
// sure the database exists, starts an embedded Temporal dev server persisted
// under DEV_DATA_DIR with its Web UI (unless TEMPORAL_ADDRESS names one),
// migrates, creates or updates the demo client, runs the worker and the API,
// prints where everything is, and shuts down gracefully on Ctrl-C.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/devserver"
	"github.com/ocelot/webhooks/internal/stack"
)

func main() {
	// The dev server is most of this process's heap.
	app.SetGCPercent(devserver.GCPercent)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		// One line, naming the cause: several joined errors (a bad
		// configuration, a failed clean-up) are separated by "; ".
		fmt.Fprintln(os.Stderr, "devstack:", strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Load(true)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if _, err := cfg.LocalSecrets(false); err != nil {
		return err
	}
	logger.Info("starting dev stack", "config", cfg)
	store, conn, err := app.OpenDevStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	s, err := stack.Start(ctx, cfg, store, stack.Options{
		TemporalFile: filepath.Join(cfg.DataDir, "temporal.db"),
		UIAddr:       cfg.TemporalUIAddr,
		Worker:       app.WorkerOptions(cfg),
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	fmt.Print(banner(cfg, s))
	<-ctx.Done()
	logger.Info("shutting down")
	return s.Close()
}

func banner(cfg config.Config, s *stack.Stack) string {
	ui := s.UIURL
	if ui == "" {
		ui = "(external Temporal at " + s.TemporalAddress + ")"
	}
	return fmt.Sprintf(`
Webhook delivery dev stack is up.

  API           %[1]s/api/v1   (OpenAPI: %[1]s/api/v1/openapi.yaml)
  Temporal UI   %[2]s
  Temporal      %[3]s, namespace %[4]q
  payloads      encrypted with %[9]s; the UI decodes them through %[1]s/codec
  demo client   %[5]s : %[6]s
  ingest        %[7]s : %[8]s

Try:
  curl -u %[5]s:%[6]s -H 'Content-Type: application/json' \
    -d '{"id":"my-hook","matchingEvents":["IncomingSms.received"],"url":"http://127.0.0.1:9999/hook"}' \
    %[1]s/api/v1/webhooks
  curl -u %[7]s:%[8]s -H 'Content-Type: application/json' \
    -d '{"clientId":"%[5]s","event":{"name":"IncomingSms.received","to":"+15550001","from":"+15550002","triggerType":"Inbound","message":"hello"}}' \
    %[1]s/api/v1/events

Ctrl-C stops everything; deliveries in flight resume on the next start.
`, s.APIURL, ui, s.TemporalAddress, cfg.TemporalNamespace, cfg.DevClientID, cfg.DevClientKey, cfg.IngestUsername, cfg.ShownIngestPassword(), cfg.LocalSecretSource("PAYLOAD_KEYS", "payload.keys"))
}
