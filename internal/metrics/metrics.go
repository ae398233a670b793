// Package metrics holds the service's Prometheus metrics (SPEC 12) in a
// registry of its own: events ingested, delivery attempts and their latency,
// deliveries finished and waiting, and the Temporal SDK's worker metrics.
//
// Every label value comes from a small fixed set (event names, answers,
// outcome classes, states) or from the SDK's own tags (namespace, task
// queue, workflow and activity type): never a URL, a phone number or a
// secret. A value outside its set is counted under "invalid" or "other".
package metrics

import (
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/activities"
)

// Answers to an ingestion request, the answer label of
// webhook_events_ingested_total.
const (
	AnswerAccepted      = "accepted"       // 202
	AnswerInvalid       = "invalid"        // 400, 413, 415
	AnswerUnknownClient = "unknown_client" // 404
	AnswerUnavailable   = "unavailable"    // 503: Temporal or PostgreSQL unreachable
	AnswerError         = "error"          // 500
)

var (
	answers = []string{AnswerAccepted, AnswerInvalid, AnswerUnknownClient, AnswerUnavailable, AnswerError}
	classes = []activities.AttemptClass{
		activities.Class2xx, activities.Class3xx, activities.Class4xx, activities.Class5xx,
		activities.ClassTimeout, activities.ClassNetwork, activities.ClassRefused,
	}
	finalStates = []string{"delivered", "failed", "cancelled"}
)

// other is the label value of an attempt class or final state outside its
// set: a bug in the caller, visible without an unbounded label.
const other = "other"

// AttemptBuckets are the attempt latency histogram's buckets, in seconds:
// from a receiver on the same network (1 ms) to the longest attempt timeout
// (DELIVERY_TIMEOUT is at most 50 s).
var AttemptBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60}

// Metrics records the service's metrics and serves them. It satisfies
// activities.Metrics and api.IngestMetrics. A nil *Metrics records nothing.
type Metrics struct {
	registry *prometheus.Registry
	ingested *prometheus.CounterVec
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	finished *prometheus.CounterVec
	temporal *temporalCollector
}

var _ activities.Metrics = (*Metrics)(nil)

// New returns the metrics of one process, with every series of the fixed
// label sets present at zero, so that rates and dashboards work from the
// first scrape.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhook_events_ingested_total",
			Help: "Ingestion requests (POST /api/v1/events) by event name and answer.",
		}, []string{"event_name", "answer"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhook_delivery_attempts_total",
			Help: "Delivery attempts made, by outcome class.",
		}, []string{"class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "webhook_delivery_attempt_duration_seconds",
			Help:    "Duration of delivery attempts, by outcome class.",
			Buckets: AttemptBuckets,
		}, []string{"class"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhook_deliveries_finished_total",
			Help: "Deliveries that reached a final state, by state.",
		}, []string{"state"}),
		temporal: newTemporalCollector(),
	}
	m.registry.MustRegister(m.ingested, m.attempts, m.latency, m.finished, m.temporal,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, name := range append(eventNames(), "invalid") {
		for _, answer := range answers {
			m.ingested.WithLabelValues(name, answer)
		}
	}
	for _, class := range classes {
		m.attempts.WithLabelValues(string(class))
		m.latency.WithLabelValues(string(class))
	}
	for _, state := range finalStates {
		m.finished.WithLabelValues(state)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format. A collector
// that fails leaves out its own metrics, not the whole answer.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Gatherer returns the registry, for tests and for embedding the metrics
// into another exposition.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.registry }

// EventIngested counts one answer to an ingestion request. eventName is
// counted as "invalid" unless it is one of the five event names, and answer
// as "error" unless it is one of the Answer constants.
func (m *Metrics) EventIngested(eventName, answer string) {
	if m == nil {
		return
	}
	if !webhooks.EventName(eventName).Valid() {
		eventName = "invalid"
	}
	if !slices.Contains(answers, answer) {
		answer = AnswerError
	}
	m.ingested.WithLabelValues(eventName, answer).Inc()
}

// AttemptFinished counts one delivery attempt and records its duration.
func (m *Metrics) AttemptFinished(class activities.AttemptClass, d time.Duration) {
	if m == nil {
		return
	}
	label := string(class)
	if !slices.Contains(classes, class) {
		label = other
	}
	m.attempts.WithLabelValues(label).Inc()
	m.latency.WithLabelValues(label).Observe(d.Seconds())
}

// DeliveryFinished counts one delivery that reached a final state
// ("delivered", "failed", "cancelled").
func (m *Metrics) DeliveryFinished(state string) {
	if m == nil {
		return
	}
	if !slices.Contains(finalStates, state) {
		state = other
	}
	m.finished.WithLabelValues(state).Inc()
}

func eventNames() []string {
	names := make([]string, len(webhooks.EventNames))
	for i, n := range webhooks.EventNames {
		names[i] = string(n)
	}
	return names
}
