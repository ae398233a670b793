// Package metricstest reads the service's /metrics in tests: the unit tests
// of package metrics and the end-to-end tests check the same things.
package metricstest

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Scrape GETs url and parses the answer as the Prometheus text format.
func Scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
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

// Value sums the series of name whose labels include want; a histogram
// counts its observations. An absent family is 0.
func Value(families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	sum := 0.0
series:
	for _, m := range families[name].GetMetric() {
		for k, v := range want {
			if labelValue(m, k) != v {
				continue series
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return sum
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Label values must never carry a URL, a phone number or a secret (SPEC 12).
// A value may hold an id with digits (the SDK's worker-command task queue
// ends in a UUID), so a phone number is a value that is one.
var (
	urlLike   = regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://|www\.`)
	phoneLike = regexp.MustCompile(`^\+?\d[\d ()-]{5,}\d$`)
)

// CheckLabels fails for any label value that looks like a URL or a phone
// number, or contains one of secrets.
func CheckLabels(t *testing.T, families map[string]*dto.MetricFamily, secrets ...string) {
	t.Helper()
	for name, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				v := l.GetValue()
				if urlLike.MatchString(v) || phoneLike.MatchString(v) {
					t.Errorf("%s{%s=%q}: a label value looks like a URL or a phone number", name, l.GetName(), v)
				}
				for _, s := range secrets {
					if s != "" && strings.Contains(v, s) {
						t.Errorf("%s{%s=%q}: a label value holds %q", name, l.GetName(), v, s)
					}
				}
			}
		}
	}
}
