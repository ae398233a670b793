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
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/devserver"
	"github.com/ocelot/webhooks/internal/metrics"
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
	UIURL string
	// MetricsURL serves the worker's and the API's metrics together
	// (cfg.MetricsAddr), e.g. http://127.0.0.1:9090/metrics; "" when disabled.
	MetricsURL string
	// Metrics is the one set of metrics of the worker, the API and the
	// Temporal client.
	Metrics *metrics.Metrics
	Client  client.Client
	Worker  sdkworker.Worker

	temporal    *devserver.Server
	stopAPI     context.CancelFunc
	apiDone     chan error
	stopMetrics func() error
}

// Start brings the stack up on store; the caller owns and closes the store.
// When it fails, what it had started is stopped and the ports it had bound
// are free again before it returns.
func Start(ctx context.Context, cfg config.Config, store *db.Store, opts Options) (_ *Stack, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// s is not the named result, which `return nil, err` sets to nil before
	// the clean-up below runs.
	s := &Stack{TemporalAddress: cfg.TemporalAddress, Metrics: metrics.New()}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	metricsAddr, stopMetrics, err := app.ServeMetrics(cfg.MetricsAddr, s.Metrics, logger)
	if err != nil {
		return nil, err
	}
	s.stopMetrics = stopMetrics
	if metricsAddr != "" {
		s.MetricsURL = "http://" + metricsAddr + "/metrics"
	}
	s.Metrics.ReportWaiting(store, logger)
	// The API's address is known before the embedded UI starts: the UI is
	// told where the codec endpoint is.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, listenError(err))
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	s.APIURL = "http://" + ln.Addr().String()
	if s.TemporalAddress == "" {
		// The server and the UI give no clear error for a port in use (the
		// server logs it and fails later), so check both before starting.
		if err := checkDevPorts(cfg.TemporalPort, opts.UIAddr); err != nil {
			return nil, err
		}
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
			CodecEndpoint:    s.APIURL + app.CodecPath,
		})
		if err != nil {
			return nil, fmt.Errorf("start temporal dev server: %w", err)
		}
		s.TemporalAddress = s.temporal.FrontendAddress()
		// The embedded server speaks plaintext on loopback, whatever
		// Temporal TLS or API key the environment names.
		cfg.Temporal = envconfig.ClientConfigProfile{}
		if ui := s.temporal.UIAddress(); ui != "" {
			s.UIURL = "http://" + ui
			// The embedded UI decodes payloads through the API's codec
			// endpoint: open (unless CODEC_AUTH_TOKEN is set), and only to
			// this UI's origin.
			cfg.CodecOpen = true
			cfg.CodecCORSOrigins = append(cfg.CodecCORSOrigins, uiOrigins(ui)...)
		}
	}
	cfg.TemporalAddress = s.TemporalAddress
	clientOpts, err := app.ClientOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	clientOpts.MetricsHandler = s.Metrics.TemporalHandler()
	s.Client, err = client.DialContext(ctx, clientOpts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s: %w", s.TemporalAddress, err)
	}
	if !opts.NoWorker {
		if s.Worker, err = app.StartWorker(ctx, s.Client, app.Activities(cfg, store, s.Metrics), opts.Worker, logger); err != nil {
			return nil, err
		}
	}
	apiCtx, stopAPI := context.WithCancel(context.Background())
	s.stopAPI, s.apiDone = stopAPI, make(chan error, 1)
	// Eager start hands the first workflow task to this process's worker
	// directly when both share the client, saving a round trip.
	starter := &workflows.Starter{Client: s.Client, EagerStart: !opts.NoWorker}
	handler := app.APIHandler(cfg, store, starter, s.Metrics, logger)
	go func() { s.apiDone <- app.Serve(apiCtx, ln, handler) }()
	return s, nil
}

// Close stops the API (letting requests finish), the worker, the embedded
// Temporal server and the metrics, in that order.
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
	if s.stopMetrics != nil {
		errs = append(errs, s.stopMetrics())
		s.stopMetrics = nil
	}
	return errors.Join(errs...)
}

// uiOrigins are the origins a browser sends from the UI at hostPort: a
// loopback UI is as often opened as localhost.
func uiOrigins(hostPort string) []string {
	origins := []string{"http://" + hostPort}
	if host, port, err := net.SplitHostPort(hostPort); err == nil && (host == "127.0.0.1" || host == "::1") {
		origins = append(origins, "http://localhost:"+port)
	}
	return origins
}

// checkDevPorts reports a port the embedded server or its UI would need but
// cannot bind, naming the variable that chooses it. Port 0 is any free port.
func checkDevPorts(temporalPort int, uiAddr string) error {
	if temporalPort != 0 {
		addr := fmt.Sprintf("127.0.0.1:%d", temporalPort)
		if err := checkListen(addr); err != nil {
			return fmt.Errorf("TEMPORAL_PORT %d: %w (set TEMPORAL_ADDRESS=%s to use the Temporal server already there, or another TEMPORAL_PORT)", temporalPort, err, addr)
		}
	}
	if uiAddr != "" {
		if err := checkListen(uiAddr); err != nil {
			return fmt.Errorf("TEMPORAL_UI_ADDR %s: %w", uiAddr, err)
		}
	}
	return nil
}

func checkListen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return listenError(err)
	}
	return ln.Close()
}

// listenError keeps the cause of a failed listen ("address already in use",
// "missing port in address") without the "listen tcp …:" prefix that
// repeats the address the caller names anyway.
func listenError(err error) error {
	if opErr, ok := errors.AsType[*net.OpError](err); ok && opErr.Err != nil {
		if sysErr, ok := errors.AsType[*os.SyscallError](opErr.Err); ok {
			return sysErr.Err
		}
		return opErr.Err
	}
	return err
}
