package metrics

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WaitingCounter counts the deliveries waiting to retry: pending, with their
// next attempt scheduled. The store satisfies it.
type WaitingCounter interface {
	CountWaitingDeliveries(ctx context.Context) (int64, error)
}

// waitingTimeout bounds the count at scrape time, well inside Prometheus'
// default scrape timeout (10 s), so that a slow database costs one missing
// sample rather than a failed scrape.
const waitingTimeout = 2 * time.Second

// ReportWaiting adds the gauge webhook_deliveries_waiting_retry, counted by
// c at each scrape. It counts the whole database, so only the processes
// that deliver report it (the worker, the dev stack); with several workers,
// take their max. Call it at most once per Metrics.
func (m *Metrics) ReportWaiting(c WaitingCounter, logger *slog.Logger) {
	if m == nil {
		return
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m.registry.MustRegister(&waitingCollector{
		counter: c,
		log:     logger,
		gauge: prometheus.NewDesc("webhook_deliveries_waiting_retry",
			"Deliveries waiting to retry: pending, with a next attempt scheduled. Absent when the count failed.", nil, nil),
		errors: prometheus.NewDesc("webhook_deliveries_waiting_retry_errors_total",
			"Scrapes at which counting the deliveries waiting to retry failed.", nil, nil),
	})
}

// waitingCollector counts at scrape time rather than on a timer: the number
// is as fresh as the scrape, and nothing runs when nobody scrapes.
type waitingCollector struct {
	counter       WaitingCounter
	log           *slog.Logger
	gauge, errors *prometheus.Desc
	failures      atomic.Uint64
}

func (c *waitingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.gauge
	ch <- c.errors
}

func (c *waitingCollector) Collect(ch chan<- prometheus.Metric) {
	// Collect gets no context from the scrape; the timeout stands in for it.
	ctx, cancel := context.WithTimeout(context.Background(), waitingTimeout)
	defer cancel()
	n, err := c.counter.CountWaitingDeliveries(ctx)
	if err != nil {
		// No gauge rather than a wrong 0: an alert on the gauge must not
		// clear because the database is down.
		c.failures.Add(1)
		c.log.Warn("count deliveries waiting to retry", "err", err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.gauge, prometheus.GaugeValue, float64(n))
	}
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(c.failures.Load()))
}
