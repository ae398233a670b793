// Package stack runs the whole service in one process: an embedded Temporal
// server (when no address is configured), the worker and the API. The dev
// stack (`make run`), the end-to-end tests and the benchmark all use it, so
// what they exercise is wired exactly alike.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/devserver"
	"github.com/ocelot/webhooks/worker"
	"github.com/ocelot/webhooks/workflows"
)

// Options choose the parts of a stack beyond the configuration.
type Options struct {
	// TemporalFile persists the embedded Temporal server; "" keeps it in
	// memory. Unused when cfg.TemporalAddress is set.
	TemporalFile string
	// UIAddr serves the Temporal Web UI; "" disables it.
	UIAddr string
	// Worker tunes the worker; NoWorker leaves it out (a test starts its own).
	Worker   worker.Options
	NoWorker bool
	Logger   *slog.Logger
}

// Stack is a running service.
type Stack struct {
	// APIURL is the API's base URL, e.g. http://127.0.0.1:8080.
	APIURL string
	// TemporalAddress is the frontend the worker and API use.
	TemporalAddress string
	// UIURL is the Temporal Web UI, "" when disabled or external.
	UIURL  string
	Client client.Client
	Worker sdkworker.Worker

	temporal *devserver.Server
	stopAPI  context.CancelFunc
	apiDone  chan error
}

// Start brings the stack up on store; the caller owns and closes the store.
func Start(ctx context.Context, cfg config.Config, store *db.Store, opts Options) (s *Stack, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s = &Stack{TemporalAddress: cfg.TemporalAddress}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.TemporalAddress == "" {
		frontend := ""
		if cfg.TemporalPort != 0 {
			frontend = fmt.Sprintf("127.0.0.1:%d", cfg.TemporalPort)
		}
		s.temporal, err = devserver.Start(ctx, devserver.Options{
			DatabaseFile:     opts.TemporalFile,
			Namespace:        cfg.TemporalNamespace,
			FrontendAddress:  frontend,
			UIAddress:        opts.UIAddr,
			SearchAttributes: workflows.SearchAttributes,
			Logger:           logger.With("component", "temporal-server"),
		})
		if err != nil {
			return nil, fmt.Errorf("start temporal dev server: %w", err)
		}
		s.TemporalAddress = s.temporal.FrontendAddress()
		if ui := s.temporal.UIAddress(); ui != "" {
			s.UIURL = "http://" + ui
		}
	}
	s.Client, err = client.DialContext(ctx, client.Options{
		HostPort:  s.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    tlog.NewStructuredLogger(logger.With("component", "temporal-client")),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s: %w", s.TemporalAddress, err)
	}
	if !opts.NoWorker {
		s.Worker = worker.New(s.Client, app.Activities(cfg, store), opts.Worker)
		if err := s.Worker.Start(); err != nil {
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	s.APIURL = "http://" + ln.Addr().String()
	apiCtx, stopAPI := context.WithCancel(context.Background())
	s.stopAPI, s.apiDone = stopAPI, make(chan error, 1)
	// Eager start hands the first workflow task to this process's worker
	// directly when both share the client, saving a round trip.
	starter := &workflows.Starter{Client: s.Client, EagerStart: !opts.NoWorker}
	handler := app.APIHandler(cfg, store, starter, logger)
	go func() { s.apiDone <- app.Serve(apiCtx, ln, handler) }()
	return s, nil
}

// Close stops the API (letting requests finish), the worker and the
// embedded Temporal server, in that order.
func (s *Stack) Close() error {
	var errs []error
	if s.stopAPI != nil {
		s.stopAPI()
		if err := <-s.apiDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		s.stopAPI = nil
	}
	if s.Worker != nil {
		s.Worker.Stop()
		s.Worker = nil
	}
	if s.Client != nil {
		s.Client.Close()
		s.Client = nil
	}
	if s.temporal != nil {
		errs = append(errs, s.temporal.Stop())
		s.temporal = nil
	}
	return errors.Join(errs...)
}
