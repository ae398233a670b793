package e2e

import (
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/internal/metrics/metricstest"
	"github.com/ocelot/webhooks/internal/stack"
	"github.com/ocelot/webhooks/workflows"
)

// TestMetricsEndToEnd ingests and delivers events through the dev stack,
// which serves the API's and the worker's metrics at one address, and reads
// them over HTTP as Prometheus does.
func TestMetricsEndToEnd(t *testing.T) {
	// A failed attempt waits an hour: the delivery stays waiting to retry.
	cfg := testConfig(0, time.Hour)
	cfg.MetricsAddr = "127.0.0.1:0"
	e := startWith(t, cfg, dbtest.NewStore(t), stack.Options{})
	s := e.stack
	if s.MetricsURL == "" {
		t.Fatal("the stack serves no metrics although METRICS_ADDR is set")
	}

	clientID, key := e.client("metrics-client")
	rcv := newReceiver(t)
	const hookPassword = "hook-password-never-a-label"
	e.createWebhook(clientID, key, map[string]any{
		"id": "metrics-hook", "url": rcv.URL + "/hook?token=url-token", "matchingEvents": []string{"IncomingSms.received"},
		"auth": map[string]any{"type": "Basic", "username": "hook-user", "password": hookPassword},
	})
	failing := newReceiver(t, http.StatusServiceUnavailable)
	e.createWebhook(clientID, key, hookBody("failing-hook", failing.URL+"/hook", "PhoneNumber.optedOut"))
	before := metricstest.Scrape(t, s.MetricsURL)

	a := e.ingest(clientID, "", map[string]any{
		"name": "IncomingSms.received", "eventId": "metrics-1", "to": "+15550001", "from": "+15550002",
		"triggerType": "Inbound", "message": "hello",
	})
	if r := e.result(a.WorkflowID); len(r.Deliveries) != 1 || r.Deliveries[0].State != workflows.StateDelivered {
		t.Fatalf("got %s, want one delivered", states(r))
	}
	if status, _ := e.do("POST", "/api/v1/events", ingestUser, ingestPass, map[string]any{
		"clientId": clientID, "event": map[string]any{"name": "https://attacker.example/", "phoneNumber": "+15550009"},
	}); status != http.StatusBadRequest {
		t.Fatalf("invalid event: got %d, want 400", status)
	}

	e.ingest(clientID, "", map[string]any{"name": "PhoneNumber.optedOut", "eventId": "metrics-2", "phoneNumber": "+15550003", "triggerType": "Manual"})
	var after map[string]*dto.MetricFamily
	// The attempt is logged (waiting) before it is counted: wait for both.
	failed := map[string]string{"class": "5xx"}
	waitFor(t, "the failed attempt, counted and waiting to retry", func() bool {
		after = metricstest.Scrape(t, s.MetricsURL)
		return metricstest.Value(after, "webhook_deliveries_waiting_retry", nil) >= 1 &&
			metricstest.Value(after, "webhook_delivery_attempts_total", failed) > metricstest.Value(before, "webhook_delivery_attempts_total", failed)
	})

	for _, d := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"webhook_events_ingested_total", map[string]string{"event_name": "IncomingSms.received", "answer": "accepted"}, 1},
		{"webhook_events_ingested_total", map[string]string{"event_name": "PhoneNumber.optedOut", "answer": "accepted"}, 1},
		{"webhook_events_ingested_total", map[string]string{"event_name": "invalid", "answer": "invalid"}, 1},
		{"webhook_delivery_attempts_total", map[string]string{"class": "2xx"}, 1},
		{"webhook_delivery_attempts_total", map[string]string{"class": "5xx"}, 1},
		{"webhook_delivery_attempt_duration_seconds", map[string]string{"class": "2xx"}, 1},
		{"webhook_deliveries_finished_total", map[string]string{"state": "delivered"}, 1},
		{"webhook_deliveries_finished_total", map[string]string{"state": "failed"}, 0},
		{"webhook_deliveries_waiting_retry", nil, 1},
	} {
		if got := metricstest.Value(after, d.name, d.labels) - metricstest.Value(before, d.name, d.labels); got != d.want {
			t.Errorf("%s%v: got a change of %v, want %v", d.name, d.labels, got, d.want)
		}
	}
	// The worker's SDK metrics come through the same address.
	// A first attempt runs as a local activity.
	deliver := map[string]string{"activity_type": "DeliverAttempt"}
	if got := metricstest.Value(after, "temporal_local_activity_execution_latency_seconds", deliver); got < 2 {
		t.Errorf("temporal_local_activity_execution_latency_seconds%v: got %v executions, want 2", deliver, got)
	}
	if _, ok := after["temporal_worker_task_slots_available"]; !ok {
		t.Error("temporal_worker_task_slots_available: absent")
	}
	metricstest.CheckLabels(t, after, rcv.URL, failing.URL, "url-token", "+1555", hookPassword, ingestPass, key)
}
