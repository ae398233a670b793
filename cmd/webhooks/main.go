// Command webhooks runs the production processes of the webhook delivery
// service and its operator tasks:
//
//	webhooks serve                     the HTTP API
//	webhooks worker                    the Temporal worker that delivers events
//	webhooks migrate                   apply the database migrations and exit
//	webhooks client create NAME [ID]   create a client; prints its id and API key once
//	webhooks client list               list the clients
//
// Configuration comes from the environment (see the README).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/worker"
	"github.com/ocelot/webhooks/workflows"
)

const usage = `usage:
  webhooks serve                     run the HTTP API
  webhooks worker                    run the delivery worker
  webhooks migrate                   apply database migrations
  webhooks client create NAME [ID]   create a client (prints its API key once)
  webhooks client list               list clients`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webhooks:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cfg, err := config.Load(false)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	logger := app.Logger(cfg.LogLevel)
	switch {
	case args[0] == "serve":
		if cfg.IngestPassword == "" {
			return errors.New("configuration: INGEST_PASSWORD: required by the API")
		}
		logger.Info("starting api", "config", cfg)
		return withDependencies(ctx, cfg, logger, func(store *db.Store, tc client.Client) error {
			ln, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			logger.Info("api listening", "addr", ln.Addr().String())
			return app.Serve(ctx, ln, app.APIHandler(cfg, store, &workflows.Starter{Client: tc}, logger))
		})
	case args[0] == "worker":
		logger.Info("starting worker", "config", cfg)
		return withDependencies(ctx, cfg, logger, func(store *db.Store, tc client.Client) error {
			if cfg.RegisterSearchAttributes {
				if err := workflows.RegisterSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
					return err
				}
			}
			w := worker.New(tc, app.Activities(cfg, store), app.WorkerOptions(cfg))
			if err := w.Start(); err != nil {
				return fmt.Errorf("start worker: %w", err)
			}
			<-ctx.Done()
			w.Stop()
			return nil
		})
	case args[0] == "migrate":
		_, conn, err := app.OpenStore(ctx, cfg)
		if err != nil {
			return err
		}
		return conn.Close()
	case args[0] == "client" && len(args) >= 2:
		return clientCommand(ctx, cfg, args[1:], stdout)
	}
	return errors.New(usage)
}

// withDependencies opens the store and the Temporal client, runs fn, and
// closes both.
func withDependencies(ctx context.Context, cfg config.Config, logger *slog.Logger, fn func(*db.Store, client.Client) error) error {
	store, conn, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	tc, err := app.TemporalClient(cfg, logger)
	if err != nil {
		return err
	}
	defer tc.Close()
	return fn(store, tc)
}

func clientCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	store, conn, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	switch {
	case args[0] == "create" && (len(args) == 2 || len(args) == 3):
		id := uuid.NewString()
		if len(args) == 3 {
			id = args[2]
		}
		if !webhooks.ValidClientID(id) {
			return fmt.Errorf("client id %q: must be 1-128 printable characters without ':' or spaces", id)
		}
		key := webhooks.NewAPIKey()
		if err := store.CreateClient(ctx, webhooks.Client{ID: id, Name: args[1], KeyHash: webhooks.HashAPIKey(key)}); err != nil {
			if errors.Is(err, webhooks.ErrConflict) {
				return fmt.Errorf("client %q exists already", id)
			}
			return err
		}
		fmt.Fprintf(stdout, "client id:  %s\napi key:    %s\n(the key is shown only now; it is stored as a hash)\n", id, key)
		return nil
	case args[0] == "list" && len(args) == 1:
		clients, err := store.ListClients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED")
		for _, c := range clients {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.ID, c.Name, c.Created.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return errors.New(usage)
}
