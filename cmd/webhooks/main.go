// Command webhooks runs the production processes of the webhook delivery
// service and its operator tasks:
//
//	webhooks serve                     the HTTP API (and a worker, with API_RUNS_WORKER=true)
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
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/metrics"
	"github.com/ocelot/webhooks/workflows"
)

const usage = `usage:
  webhooks serve                     run the HTTP API (and a worker, with API_RUNS_WORKER=true)
  webhooks worker                    run the delivery worker
  webhooks migrate                   apply database migrations
  webhooks client create NAME [ID]   create a client (prints its API key once)
  webhooks client list               list clients`

// defaultGCPercent is the garbage collector's target unless GOGC is set:
// the processes keep a small live heap and allocate fast (each event's
// JSON, protobuf and HTTP buffers), so at Go's default of 100 the collector
// ran about every 20 MB and took a tenth of the API's CPU. 200 measured 9 %
// less CPU per event in the API for about a third more peak memory
// (docs/performance.md).
const defaultGCPercent = 200

func main() {
	app.SetGCPercent(defaultGCPercent)
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
		if err := requireEncryptionKey(cfg); err != nil {
			return err
		}
		logger.Info("starting api", "config", cfg)
		m := metrics.New()
		return withDependencies(ctx, cfg, m, logger, func(store *db.Store, tc client.Client) error {
			ln, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			// API_RUNS_WORKER: a worker on the API's own client, as in the
			// dev stack, so that eager start hands each event's first
			// workflow task straight to it. Separate workers, if any, take
			// the rest (retries, tasks this one has no slot for).
			var w sdkworker.Worker
			if cfg.APIRunsWorker {
				if w, err = startWorker(ctx, cfg, store, tc, m, logger); err != nil {
					ln.Close()
					return err
				}
				logger.Info("api runs a worker", "task_queue", workflows.TaskQueue)
			}
			starter := &workflows.Starter{Client: tc, EagerStart: cfg.APIRunsWorker}
			logger.Info("api listening", "addr", ln.Addr().String())
			err = app.Serve(ctx, ln, app.APIHandler(cfg, store, starter, m, logger))
			// HTTP first (requests in progress finish, and may still start
			// workflows on the worker), then the worker.
			if w != nil {
				w.Stop()
			}
			return err
		})
	case args[0] == "worker":
		if err := requireEncryptionKey(cfg); err != nil {
			return err
		}
		logger.Info("starting worker", "config", cfg)
		m := metrics.New()
		return withDependencies(ctx, cfg, m, logger, func(store *db.Store, tc client.Client) error {
			if cfg.RegisterSearchAttributes {
				err := retryRegistration(ctx, registrationRetry, logger, func(ctx context.Context) error {
					return workflows.RegisterSearchAttributes(ctx, tc, cfg.TemporalNamespace)
				})
				if err != nil {
					return err
				}
			}
			w, err := startWorker(ctx, cfg, store, tc, m, logger)
			if err != nil {
				return err
			}
			<-ctx.Done()
			w.Stop()
			return nil
		})
	case args[0] == "migrate":
		conn, err := app.OpenDatabase(ctx, cfg)
		if err != nil {
			return err
		}
		return conn.Close()
	case args[0] == "client" && len(args) >= 2:
		return clientCommand(ctx, cfg, args[1:], stdout)
	}
	return errors.New(usage)
}

// startWorker starts the delivery worker of `webhooks worker`, and of
// `webhooks serve` with API_RUNS_WORKER, on tc: the same activities,
// options and prune Schedule in both. A process that delivers also reports
// the deliveries waiting to retry.
func startWorker(ctx context.Context, cfg config.Config, store *db.Store, tc client.Client, m *metrics.Metrics, logger *slog.Logger) (sdkworker.Worker, error) {
	m.ReportWaiting(store, logger)
	return app.StartWorker(ctx, tc, app.Activities(cfg, store, m), app.WorkerOptions(cfg), logger)
}

// withDependencies serves the metrics m, opens the store and the Temporal
// client, runs fn, and closes all three.
func withDependencies(ctx context.Context, cfg config.Config, m *metrics.Metrics, logger *slog.Logger, fn func(*db.Store, client.Client) error) (err error) {
	_, stopMetrics, err := app.ServeMetrics(cfg.MetricsAddr, m, logger)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopMetrics()) }()
	store, conn, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	tc, err := app.TemporalClient(cfg, logger, m.TemporalHandler())
	if err != nil {
		return err
	}
	defer tc.Close()
	return fn(store, tc)
}

func clientCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	conn, err := app.OpenDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Clients carry a key hash, nothing sealed: no cipher, so no
	// ENCRYPTION_KEY, is needed to manage them.
	store := db.NewStore(conn, nil)
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

// requireEncryptionKey is the check of the processes that read or write
// sealed columns (receiver passwords, signing secrets, logged payloads);
// `migrate` and `client` run without the key.
func requireEncryptionKey(cfg config.Config) error {
	if cfg.EncryptionKey == nil {
		return errors.New("configuration: ENCRYPTION_KEY: required by serve and worker (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)")
	}
	return nil
}

// retrySchedule bounds retryRegistration: waits from First, doubling up to
// Max, for at most Limit in all.
type retrySchedule struct {
	First, Max, Limit time.Duration
}

// registrationRetry covers a Temporal cluster that starts beside the worker
// (docker compose: auto-setup creates the schema and the namespace before
// the frontend answers, which takes a minute or two).
var registrationRetry = retrySchedule{First: time.Second, Max: 15 * time.Second, Limit: 3 * time.Minute}

// retryRegistration calls register until it succeeds, fails with an error
// that waiting cannot mend (an attribute registered with another type, no
// permission), or sched.Limit has passed.
func retryRegistration(ctx context.Context, sched retrySchedule, logger *slog.Logger, register func(context.Context) error) error {
	deadline := time.Now().Add(sched.Limit)
	wait := sched.First
	for attempt := 1; ; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := register(callCtx)
		cancel()
		if err == nil {
			return nil
		}
		if !transient(err) || ctx.Err() != nil {
			return fmt.Errorf("register search attributes: %w", err)
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("register search attributes: Temporal not ready after %s: %w", sched.Limit, err)
		}
		logger.Warn("Temporal not ready to register search attributes; retrying", "attempt", attempt, "wait", wait, "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("register search attributes: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, sched.Max)
	}
}

// transient reports whether err says Temporal is not (yet) able to answer,
// rather than refusing the registration itself.
func transient(err error) bool {
	var code codes.Code
	if svcErr, ok := errors.AsType[serviceerror.ServiceError](err); ok {
		code = svcErr.Status().Code()
	} else if st, ok := status.FromError(err); ok {
		code = st.Code()
	} else {
		return errors.Is(err, context.DeadlineExceeded)
	}
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.NotFound, codes.Internal, codes.Unknown, codes.ResourceExhausted, codes.Aborted:
		// NotFound: the namespace is not registered yet.
		return true
	}
	return false
}
