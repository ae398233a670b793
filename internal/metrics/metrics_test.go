package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ocelot/webhooks/activities"
	"github.com/ocelot/webhooks/api"
	"github.com/ocelot/webhooks/internal/metrics"
	"github.com/ocelot/webhooks/internal/metrics/metricstest"
)

var (
	_ activities.Metrics = (*metrics.Metrics)(nil)
	_ api.IngestMetrics  = (*metrics.Metrics)(nil)
)

type fixedCount struct {
	n     atomic.Int64
	err   error
	calls atomic.Int32
}

func (c *fixedCount) CountWaitingDeliveries(ctx context.Context) (int64, error) {
	c.calls.Add(1)
	if _, ok := ctx.Deadline(); !ok {
		return 0, errors.New("no deadline: a hanging database would hang the scrape")
	}
	return c.n.Load(), c.err
}

func TestMetricsChangeAsDeliveriesHappen(t *testing.T) {
	m := metrics.New()
	waiting := &fixedCount{}
	waiting.n.Store(3)
	m.ReportWaiting(waiting, nil)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	before := metricstest.Scrape(t, srv.URL)
	// Every series of the fixed label sets exists from the start.
	for _, tt := range []struct {
		name   string
		labels map[string]string
	}{
		{"webhook_events_ingested_total", map[string]string{"event_name": "PhoneNumber.optedOut", "answer": "unavailable"}},
		{"webhook_delivery_attempts_total", map[string]string{"class": "refused"}},
		{"webhook_deliveries_finished_total", map[string]string{"state": "cancelled"}},
	} {
		if !hasSeries(before, tt.name, tt.labels) {
			t.Errorf("%s%v: absent before any activity, want 0", tt.name, tt.labels)
		}
	}
	if got := metricstest.Value(before, "webhook_deliveries_waiting_retry", nil); got != 3 {
		t.Errorf("waiting: got %v, want 3", got)
	}

	m.EventIngested("IncomingSms.received", metrics.AnswerAccepted)
	m.EventIngested("IncomingSms.received", metrics.AnswerAccepted)
	m.EventIngested("OutboundSms.delivered", metrics.AnswerUnavailable)
	// Values from outside the fixed sets must not become label values.
	m.EventIngested("+15550001", metrics.AnswerInvalid)
	m.EventIngested("https://hooks.example.com/sms?token=s3cret", "https://hooks.example.com/")
	m.AttemptFinished(activities.Class2xx, 30*time.Millisecond)
	m.AttemptFinished(activities.Class5xx, 2*time.Second)
	m.AttemptFinished(activities.Class5xx, 3*time.Second)
	m.AttemptFinished("https://hooks.example.com/sms", time.Second)
	m.DeliveryFinished("delivered")
	m.DeliveryFinished("whsec_c2VjcmV0")
	waiting.n.Store(1)

	after := metricstest.Scrape(t, srv.URL)
	deltas := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"webhook_events_ingested_total", map[string]string{"event_name": "IncomingSms.received", "answer": "accepted"}, 2},
		{"webhook_events_ingested_total", map[string]string{"event_name": "OutboundSms.delivered", "answer": "unavailable"}, 1},
		{"webhook_events_ingested_total", map[string]string{"event_name": "invalid", "answer": "invalid"}, 1},
		{"webhook_events_ingested_total", map[string]string{"event_name": "invalid", "answer": "error"}, 1},
		{"webhook_delivery_attempts_total", map[string]string{"class": "2xx"}, 1},
		{"webhook_delivery_attempts_total", map[string]string{"class": "5xx"}, 2},
		{"webhook_delivery_attempts_total", map[string]string{"class": "other"}, 1},
		{"webhook_delivery_attempt_duration_seconds", map[string]string{"class": "5xx"}, 2},
		{"webhook_deliveries_finished_total", map[string]string{"state": "delivered"}, 1},
		{"webhook_deliveries_finished_total", map[string]string{"state": "other"}, 1},
		{"webhook_deliveries_waiting_retry", nil, -2},
	}
	for _, d := range deltas {
		if got := metricstest.Value(after, d.name, d.labels) - metricstest.Value(before, d.name, d.labels); got != d.want {
			t.Errorf("%s%v: got a change of %v, want %v", d.name, d.labels, got, d.want)
		}
	}
	h := after["webhook_delivery_attempt_duration_seconds"]
	for _, s := range h.GetMetric() {
		if s.GetLabel()[0].GetValue() == "5xx" {
			if sum := s.GetHistogram().GetSampleSum(); sum != 5 {
				t.Errorf("5xx latency sum: got %vs, want 5s", sum)
			}
		}
	}
	metricstest.CheckLabels(t, after, "s3cret", "whsec_")
}

func hasSeries(families map[string]*dto.MetricFamily, name string, want map[string]string) bool {
	for _, m := range families[name].GetMetric() {
		matched := 0
		for _, l := range m.GetLabel() {
			if want[l.GetName()] == l.GetValue() {
				matched++
			}
		}
		if matched == len(want) {
			return true
		}
	}
	return false
}

func TestWaitingCountFails(t *testing.T) {
	m := metrics.New()
	waiting := &fixedCount{err: errors.New("database down")}
	m.ReportWaiting(waiting, nil)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	for i := 1; i <= 2; i++ {
		families := metricstest.Scrape(t, srv.URL)
		// No gauge rather than a wrong 0; the scrape itself succeeds.
		if _, ok := families["webhook_deliveries_waiting_retry"]; ok {
			t.Errorf("scrape %d: the gauge is exported although the count failed", i)
		}
		if got := metricstest.Value(families, "webhook_deliveries_waiting_retry_errors_total", nil); got != float64(i) {
			t.Errorf("scrape %d: errors got %v, want %d", i, got, i)
		}
		if _, ok := families["webhook_events_ingested_total"]; !ok {
			t.Errorf("scrape %d: the other metrics are missing", i)
		}
	}
	if got := waiting.calls.Load(); got != 2 {
		t.Errorf("counted %d times, want once per scrape (2)", got)
	}
}

func TestWithoutWaitingCounter(t *testing.T) {
	// The API does not report the gauge.
	m := metrics.New()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	families := metricstest.Scrape(t, srv.URL)
	if _, ok := families["webhook_deliveries_waiting_retry"]; ok {
		t.Error("gauge exported without a counter")
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *metrics.Metrics
	m.EventIngested("IncomingSms.received", metrics.AnswerAccepted)
	m.AttemptFinished(activities.Class2xx, time.Millisecond)
	m.DeliveryFinished("delivered")
	m.ReportWaiting(&fixedCount{}, nil)
	if h := m.TemporalHandler(); h != nil {
		t.Errorf("TemporalHandler of nil: got %v, want nil (the SDK's no-op)", h)
	}
}

func TestTemporalHandler(t *testing.T) {
	m := metrics.New()
	root := m.TemporalHandler()
	worker := root.WithTags(map[string]string{"namespace": "default", "task_queue": "webhooks", "worker_type": "ActivityWorker"})
	client := root.WithTags(map[string]string{"namespace": "default"})

	// One name with two tag sets (a client's requests have no task queue).
	worker.Counter("temporal_request").Inc(2)
	client.Counter("temporal_request").Inc(1)
	client.Counter("temporal_request").Inc(-5) // a counter never goes down
	worker.WithTags(map[string]string{"worker_type": "WorkflowWorker"}).Counter("temporal_request").Inc(4)
	worker.Gauge("temporal_worker_task_slots_available").Update(199)
	worker.Gauge("temporal_worker_task_slots_available").Update(198)
	worker.Timer("temporal_activity_execution_latency").Record(40 * time.Millisecond)
	worker.Timer("temporal_activity_execution_latency").Record(2 * time.Hour)
	// A name used as two kinds keeps its first.
	worker.Gauge("temporal_request_total").Update(7)
	// Invalid characters in names and values are made valid.
	root.WithTags(map[string]string{"bad-key": "caf\xe9"}).Counter("temporal.odd-name").Inc(1)

	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"temporal_request_total", nil, 7},
		{"temporal_request_total", map[string]string{"task_queue": ""}, 1},
		{"temporal_request_total", map[string]string{"worker_type": "ActivityWorker"}, 2},
		{"temporal_request_total", map[string]string{"worker_type": "WorkflowWorker", "task_queue": "webhooks"}, 4},
		{"temporal_worker_task_slots_available", map[string]string{"worker_type": "ActivityWorker"}, 198},
		{"temporal_activity_execution_latency_seconds", nil, 2},
		{"temporal_odd_name_total", map[string]string{"bad_key": "caf\uFFFD"}, 1},
	}
	for _, tt := range tests {
		if got := metricstest.Value(byName, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v: got %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if got := byName["temporal_request_total"].GetType(); got != dto.MetricType_COUNTER {
		t.Errorf("temporal_request_total: got type %v, want COUNTER", got)
	}
	latency := byName["temporal_activity_execution_latency_seconds"].GetMetric()[0].GetHistogram()
	if got := latency.GetSampleSum(); got < 7200 || got > 7201 {
		t.Errorf("latency sum: got %vs, want 7200.04s", got)
	}

	// The text exposition, as Prometheus reads it, parses.
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	metricstest.Scrape(t, srv.URL)
}

func TestTemporalName(t *testing.T) {
	tests := []struct {
		sdk  string
		kind metrics.TemporalKind
		want string
	}{
		{"temporal_request", metrics.TemporalCounter, "temporal_request_total"},
		{"temporal_worker_task_slots_used", metrics.TemporalGauge, "temporal_worker_task_slots_used"},
		{"temporal_request_latency", metrics.TemporalTimer, "temporal_request_latency_seconds"},
	}
	for _, tt := range tests {
		if got := metrics.TemporalName(tt.sdk, tt.kind); got != tt.want {
			t.Errorf("TemporalName(%q): got %q, want %q", tt.sdk, got, tt.want)
		}
	}
}
