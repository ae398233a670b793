package metrics

import (
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.temporal.io/sdk/client"
)

// The Temporal SDK's metrics reach the registry through a small adapter
// rather than go.temporal.io/sdk/contrib/tally with tally's Prometheus
// reporter: that module cannot be fetched here, and tally's reporter panics
// (by default) when the SDK emits one name with two tag sets, which it does
// (a client's requests carry no task queue, a worker's do).
//
// Names follow Prometheus' conventions: an SDK counter temporal_x is
// exported as temporal_x_total, a timer as the histogram temporal_x_seconds,
// a gauge as temporal_x. Tags become labels; a family's label names are the
// union of its series' tags, an absent tag being the empty value (which
// Prometheus treats as no label).

// TemporalBuckets are the buckets of the SDK's timers, in seconds: from a
// gRPC call (milliseconds) to a workflow's end-to-end latency, which the
// default retry schedule stretches to about 28 hours.
var TemporalBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 30 * 3600}

// TemporalHandler returns the SDK metrics handler to set as
// client.Options.MetricsHandler; nil (the SDK's no-op) for a nil Metrics.
func (m *Metrics) TemporalHandler() client.MetricsHandler {
	if m == nil {
		return nil
	}
	return &temporalHandler{c: m.temporal, tags: map[string]string{}}
}

// TemporalKind is the kind of an SDK metric, which decides its Prometheus
// name and type.
type TemporalKind int

// Kinds of SDK metrics.
const (
	TemporalCounter TemporalKind = iota
	TemporalGauge
	TemporalTimer
)

// TemporalName is the Prometheus name under which the SDK metric sdkName
// (e.g. temporal_request_latency, a timer) is exported.
func TemporalName(sdkName string, k TemporalKind) string {
	name := sanitize(sdkName)
	switch k {
	case TemporalCounter:
		if !strings.HasSuffix(name, "_total") {
			name += "_total"
		}
	case TemporalTimer:
		name += "_seconds"
	}
	return name
}

type temporalHandler struct {
	c    *temporalCollector
	tags map[string]string // sanitized label names
	key  string            // tags in canonical form, the series key
}

func (h *temporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	for k, v := range tags {
		merged[sanitize(k)] = strings.ToValidUTF8(v, "\uFFFD")
	}
	return &temporalHandler{c: h.c, tags: merged, key: seriesKey(merged)}
}

func (h *temporalHandler) Counter(name string) client.MetricsCounter {
	return h.c.series(TemporalName(name, TemporalCounter), TemporalCounter, h)
}

func (h *temporalHandler) Gauge(name string) client.MetricsGauge {
	return h.c.series(TemporalName(name, TemporalGauge), TemporalGauge, h)
}

func (h *temporalHandler) Timer(name string) client.MetricsTimer {
	return h.c.series(TemporalName(name, TemporalTimer), TemporalTimer, h)
}

// temporalCollector holds every series the SDK has emitted. It describes
// nothing up front (an unchecked collector): families appear as the SDK
// emits them.
type temporalCollector struct {
	mu       sync.RWMutex
	families map[string]*family
}

type family struct {
	kind       TemporalKind
	labelNames []string // sorted union of the series' label names
	series     map[string]*series
}

// series is one counter, gauge or timer; it implements all three so that
// the handler can hand it out as any.
type series struct {
	labels    map[string]string
	count     atomic.Int64
	gaugeBits atomic.Uint64
	histogram prometheus.Histogram // timers only
}

func (s *series) Inc(d int64) {
	if d > 0 { // a counter only goes up
		s.count.Add(d)
	}
}

func (s *series) Update(v float64) { s.gaugeBits.Store(math.Float64bits(v)) }

func (s *series) Record(d time.Duration) {
	if s.histogram != nil {
		s.histogram.Observe(d.Seconds())
	}
}

func newTemporalCollector() *temporalCollector {
	return &temporalCollector{families: map[string]*family{}}
}

// series returns the series of name and h's tags, creating it on first use.
// The SDK asks for it at every emission, so the common path is a read lock.
func (c *temporalCollector) series(name string, k TemporalKind, h *temporalHandler) *series {
	c.mu.RLock()
	f := c.families[name]
	var s *series
	if f != nil {
		s = f.series[h.key]
	}
	c.mu.RUnlock()
	if s != nil && f.kind == k {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f = c.families[name]; f == nil {
		f = &family{kind: k, series: map[string]*series{}}
		c.families[name] = f
	}
	if f.kind != k {
		// One name as two kinds cannot be exported; drop the second.
		return &series{}
	}
	if s = f.series[h.key]; s != nil {
		return s
	}
	s = &series{labels: h.tags}
	if k == TemporalTimer {
		s.histogram = prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: name, Buckets: TemporalBuckets})
	}
	f.series[h.key] = s
	for label := range s.labels {
		if !slices.Contains(f.labelNames, label) {
			f.labelNames = append(f.labelNames, label)
			slices.Sort(f.labelNames)
		}
	}
	return s
}

func (c *temporalCollector) Describe(chan<- *prometheus.Desc) {}

func (c *temporalCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for name, f := range c.families {
		desc := prometheus.NewDesc(name, "Temporal SDK metric.", f.labelNames, nil)
		for _, s := range f.series {
			values := make([]string, len(f.labelNames))
			for i, label := range f.labelNames {
				values[i] = s.labels[label]
			}
			var m prometheus.Metric
			var err error
			switch f.kind {
			case TemporalCounter:
				m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, float64(s.count.Load()), values...)
			case TemporalGauge:
				m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, math.Float64frombits(s.gaugeBits.Load()), values...)
			case TemporalTimer:
				var written dto.Metric
				if err = s.histogram.Write(&written); err == nil {
					h := written.GetHistogram()
					buckets := make(map[float64]uint64, len(h.GetBucket()))
					for _, b := range h.GetBucket() {
						buckets[b.GetUpperBound()] = b.GetCumulativeCount()
					}
					m, err = prometheus.NewConstHistogram(desc, h.GetSampleCount(), h.GetSampleSum(), buckets, values...)
				}
			}
			if err == nil { // an invalid name leaves out its series, not the scrape
				ch <- m
			}
		}
	}
}

// seriesKey is a canonical form of a label set.
func seriesKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// sanitize makes s a valid Prometheus metric or label name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' && i > 0) {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}
