package metrics_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ocelot/webhooks/activities"
	"github.com/ocelot/webhooks/internal/devserver"
	"github.com/ocelot/webhooks/internal/metrics"
)

const dashboardFile = "../../deploy/grafana/webhooks-dashboard.json"

type dashboard struct {
	Panels []panel `json:"panels"`
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

var (
	promqlString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlNumber   = regexp.MustCompile(`\b\d[\w.]*`) // 0.99, 1e3, 5m
	promqlIdent    = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?`)
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
)

// metricNames returns the metric names a PromQL expression reads: the
// identifiers left once strings, label matchers, ranges and grouping
// clauses are gone, other than function calls and keywords.
func metricNames(expr string) []string {
	for _, re := range []*regexp.Regexp{promqlString, promqlMatchers, promqlRange, promqlGrouping, promqlNumber} {
		expr = re.ReplaceAllString(expr, " ")
	}
	var names []string
	for _, m := range promqlIdent.FindAllStringSubmatch(expr, -1) {
		if m[2] == "" && !slices.Contains(promqlKeywords, m[1]) {
			names = append(names, m[1])
		}
	}
	return names
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`histogram_quantile(0.99, sum by (le, activity_type) (rate(a_seconds_bucket{x="y",z=~"w(1)"}[$__rate_interval]))) / on (job) group_left b_total offset 5m`)
	if want := []string{"a_seconds_bucket", "b_total"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// exposed lists the series names a registry exposes: a histogram's
// name_bucket, name_sum and name_count, the name of anything else.
func exposed(families []*dto.MetricFamily) map[string]bool {
	names := map[string]bool{}
	for _, f := range families {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+suffix] = true
			}
		case dto.MetricType_SUMMARY:
			names[f.GetName()+"_sum"], names[f.GetName()+"_count"] = true, true
			names[f.GetName()] = true
		default:
			names[f.GetName()] = true
		}
	}
	return names
}

// TestDashboardMetricsExist checks that every metric the Grafana dashboard
// queries is exported, after a real worker on the embedded Temporal server
// has run a workflow and an activity, so that the SDK's metrics appear
// under the names the adapter gives them.
func TestDashboardMetricsExist(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	queried := map[string][]string{} // metric name -> panel titles
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			names := metricNames(target.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric in %q", p.Title, target.Expr)
			}
			for _, name := range names {
				queried[name] = append(queried[name], p.Title)
			}
		}
	}
	for _, title := range []string{"Ingestion rate", "Delivery attempts by outcome class", "Attempt latency", "Deliveries waiting to retry", "Worker task slots"} {
		if !slices.ContainsFunc(d.Panels, func(p panel) bool { return p.Title == title }) {
			t.Errorf("dashboard: no panel %q", title)
		}
	}

	m := metrics.New()
	waiting := &fixedCount{}
	m.ReportWaiting(waiting, nil)
	runWorker(t, m)
	m.EventIngested("IncomingSms.received", metrics.AnswerAccepted)
	m.AttemptFinished(activities.Class2xx, 20*time.Millisecond)
	m.DeliveryFinished("delivered")

	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	have := exposed(families)
	for name, panels := range queried {
		if !have[name] {
			t.Errorf("panels %q query %s, which the service does not export (it exports %v)", panels, name, slices.Sorted(maps.Keys(have)))
		}
	}
}

const testQueue = "metrics-test"

// greet runs an activity and a local activity, as DeliverEvent does.
func greet(ctx workflow.Context, name string) (string, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	if err := workflow.ExecuteLocalActivity(lctx, hello, name).Get(lctx, nil); err != nil {
		return "", err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, hello, name).Get(ctx, &out)
	return out, err
}

func hello(_ context.Context, name string) (string, error) { return "hello " + name, nil }

// runWorker runs one workflow through a worker whose client reports to m.
func runWorker(t *testing.T, m *metrics.Metrics) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{})
	if err != nil {
		t.Fatalf("start temporal dev server: %v", err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop temporal dev server: %v", err)
		}
	}()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:       srv.FrontendAddress(),
		Namespace:      srv.Namespace(),
		MetricsHandler: m.TemporalHandler(),
	})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	defer c.Close()
	w := worker.New(c, testQueue, worker.Options{})
	w.RegisterWorkflow(greet)
	w.RegisterActivity(hello)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	defer w.Stop()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: testQueue}, greet, "metrics")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil || out != "hello metrics" {
		t.Fatalf("workflow: got %q, %v, want hello metrics", out, err)
	}
}
