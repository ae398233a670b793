package app

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/ocelot/webhooks/internal/metrics"
	"github.com/ocelot/webhooks/internal/metrics/metricstest"
)

func TestServeMetrics(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	m := metrics.New()
	addr, stop, err := ServeMetrics("127.0.0.1:0", m, logger)
	if err != nil {
		t.Fatalf("ServeMetrics: %v", err)
	}
	if families := metricstest.Scrape(t, "http://"+addr+"/metrics"); families["webhook_events_ingested_total"] == nil {
		t.Errorf("GET /metrics: got %d families, want the webhook metrics", len(families))
	}
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodPost, "/metrics", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tt.method, "http://"+addr+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: got %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	// Stopped means the port is free again.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port %s still taken after stop: %v", addr, err)
	}

	// A taken port is a start-up error naming the variable.
	defer ln.Close()
	if _, _, err := ServeMetrics(addr, m, logger); err == nil || !strings.Contains(err.Error(), "METRICS_ADDR") || !strings.Contains(err.Error(), addr) {
		t.Errorf("taken port: got %v, want an error naming METRICS_ADDR and %s", err, addr)
	}

	// An empty address serves nothing.
	addr, stop, err = ServeMetrics("", m, logger)
	if err != nil || addr != "" || stop() != nil {
		t.Errorf("disabled: got %q, %v; want nothing served", addr, err)
	}
}
