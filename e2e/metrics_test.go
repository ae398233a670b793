package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ocelot/webhooks/db/dbtest"
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
	before := scrapeMetrics(t, s.MetricsURL)

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
		after = scrapeMetrics(t, s.MetricsURL)
		return metricValue(after, "webhook_deliveries_waiting_retry", nil) >= 1 &&
			metricValue(after, "webhook_delivery_attempts_total", failed) > metricValue(before, "webhook_delivery_attempts_total", failed)
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
		if got := metricValue(after, d.name, d.labels) - metricValue(before, d.name, d.labels); got != d.want {
			t.Errorf("%s%v: got a change of %v, want %v", d.name, d.labels, got, d.want)
		}
	}
	// The worker's SDK metrics come through the same address.
	// A first attempt runs as a local activity.
	deliver := map[string]string{"activity_type": "DeliverAttempt"}
	if got := metricValue(after, "temporal_local_activity_execution_latency_seconds", deliver); got < 2 {
		t.Errorf("temporal_local_activity_execution_latency_seconds%v: got %v executions, want 2", deliver, got)
	}
	if _, ok := after["temporal_worker_task_slots_available"]; !ok {
		t.Error("temporal_worker_task_slots_available: absent")
	}
	checkLabelValues(t, after, rcv.URL, failing.URL, "url-token", "+1555", hookPassword, ingestPass, key)
}

func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: got status %d, want 200", url, resp.StatusCode)
	}
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return families
}

// metricValue sums the series of name whose labels include want; a
// histogram counts its observations.
func metricValue(families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	sum := 0.0
series:
	for _, m := range families[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue series
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return sum
}

// A label value may hold an id with digits (the SDK's worker-command task
// queue ends in a UUID), so a phone number is a value that is one.
var (
	urlLike   = regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://`)
	phoneLike = regexp.MustCompile(`^\+?\d[\d ()-]{5,}\d$`)
)

// checkLabelValues fails for a label value that looks like a URL or a phone
// number, or holds one of secrets (SPEC 12).
func checkLabelValues(t *testing.T, families map[string]*dto.MetricFamily, secrets ...string) {
	t.Helper()
	for name, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if urlLike.MatchString(l.GetValue()) || phoneLike.MatchString(l.GetValue()) {
					t.Errorf("%s{%s=%q}: looks like a URL or a phone number", name, l.GetName(), l.GetValue())
				}
				for _, s := range secrets {
					if strings.Contains(l.GetValue(), s) {
						t.Errorf("%s{%s=%q}: holds %q", name, l.GetName(), l.GetValue(), s)
					}
				}
			}
		}
	}
}
