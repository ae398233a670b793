package stack

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/internal/config"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestStartFailureAfterTemporalIsUp: a start that fails once the embedded
// Temporal server, its UI, the metrics and the API's listener are up returns
// the error (it used to panic on a nil *Stack in the clean-up) and leaves
// nothing behind: every port is free again.
func TestStartFailureAfterTemporalIsUp(t *testing.T) {
	httpAddr, temporalAddr, uiAddr, metricsAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	_, temporalPort, _ := net.SplitHostPort(temporalAddr)
	port, _ := strconv.Atoi(temporalPort)
	cfg := config.Config{
		HTTPAddr:          httpAddr,
		TemporalNamespace: "default",
		TemporalPort:      port,
		MetricsAddr:       metricsAddr,
		RetrySchedule:     []time.Duration{0},
		// No PAYLOAD_KEYS: the Temporal client cannot be made, which is
		// found only after the embedded server is running.
		PayloadKeys: nil,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg, dbtest.NewStore(t), Options{UIAddr: uiAddr, NoWorker: true})
	if err == nil {
		s.Close()
		t.Fatal("Start: got no error, want one (no payload keys)")
	}
	if s != nil {
		t.Errorf("Start: got a stack with the error %v, want nil", err)
	}
	if !strings.Contains(err.Error(), "PAYLOAD_KEYS") {
		t.Errorf("Start: got %v, want the cause named", err)
	}
	for _, addr := range []string{httpAddr, temporalAddr, uiAddr, metricsAddr} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("port %s still taken after the failed start: %v", addr, err)
			continue
		}
		ln.Close()
	}
}

func TestStartFailsFastOnATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, takenPort, _ := net.SplitHostPort(taken.Addr().String())
	port, _ := strconv.Atoi(takenPort)
	tests := []struct {
		name string
		cfg  func(*config.Config, *Options)
		want string
	}{
		{"HTTP_ADDR", func(c *config.Config, _ *Options) { c.HTTPAddr = taken.Addr().String() }, "HTTP_ADDR " + taken.Addr().String() + ": address already in use"},
		{"HTTP_ADDR malformed", func(c *config.Config, _ *Options) { c.HTTPAddr = "nonsense" }, "HTTP_ADDR nonsense"},
		{"TEMPORAL_PORT", func(c *config.Config, _ *Options) { c.TemporalPort = port }, "TEMPORAL_PORT " + takenPort + ": address already in use"},
		{"TEMPORAL_UI_ADDR", func(_ *config.Config, o *Options) { o.UIAddr = taken.Addr().String() }, "TEMPORAL_UI_ADDR " + taken.Addr().String() + ": address already in use"},
	}
	store := dbtest.NewStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Config{HTTPAddr: "127.0.0.1:0", TemporalNamespace: "default", RetrySchedule: []time.Duration{0}}
			var opts Options
			tt.cfg(&cfg, &opts)
			s, err := Start(context.Background(), cfg, store, opts)
			if err == nil {
				s.Close()
				t.Fatalf("got no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
