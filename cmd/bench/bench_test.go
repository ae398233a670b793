package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the bench's Temporal server
// process, as the bench binary does (startTemporal starts itself again).
func TestMain(m *testing.M) {
	if os.Getenv(temporalChildEnv) != "" {
		os.Exit(serveTemporal())
	}
	os.Exit(m.Run())
}

// TestSmoke runs the load command's smoke mode in-process against the real
// stack (PostgreSQL, embedded Temporal, the API and worker binaries). It
// asserts only that every event was delivered and that the report was
// written: the figures themselves are the load command's business, never a
// test's (a timed assertion would fail on a busy machine).
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "report.json")
	s, err := parseFlags([]string{"-smoke", "-out", out})
	if err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	r, err := run(ctx, s, io.Discard, testWriter{t})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	// The report records the pause between the rounds' phases.
	if r.Settings.Settle != time.Second {
		t.Errorf("the report's pause is %s, want the smoke run's 1s", r.Settings.Settle)
	}
	for _, p := range r.Phases {
		if p.Failed > 0 || p.Events == 0 {
			t.Errorf("%s: %d events accepted, %d failed (%s), want all accepted", p.Name, p.Events, p.Failed, p.LastError)
		}
		if p.Deliveries != p.Events*p.Fanout {
			t.Errorf("%s: got %d deliveries, want %d (%d events × fan-out %d)", p.Name, p.Deliveries, p.Events*p.Fanout, p.Events, p.Fanout)
		}
	}
	// The fixed-rate list stops at the first rate that does not keep up,
	// so at least its first rate runs.
	want := []string{"closed f1", "temporal floor", "eager floor", "http floor", "open f1", "closed f10", "open f10",
		"closed f100", "open f100", "open f1 at 20/s", "noisy baseline", "noisy"}
	for _, name := range want {
		if r.phase(name) == nil {
			t.Errorf("no phase %q in the report", name)
		}
	}
	// Smoke runs two rounds of closed f1 and the floors.
	if len(r.Headline) != 3*s.Rounds+2 {
		t.Errorf("got %d headline rows, want %d (closed f1 and 2 Temporal floors per round, closed f10 and f100)", len(r.Headline), 3*s.Rounds+2)
	}
	for _, kind := range []string{"closed", "temporal floor", "eager floor"} {
		if r.roundOf(kind, s.Rounds) == nil || r.roundOf(kind, s.Rounds).Round != s.Rounds {
			t.Errorf("no %s phase of round %d in the report", kind, s.Rounds)
		}
	}
	// Each round's closed loop is compared with its own round's floor.
	last := r.roundOf("closed", s.Rounds)
	if floor := r.roundOf("temporal floor", s.Rounds); last.VsTemporalFloor != last.EventsPerSec/floor.EventsPerSec {
		t.Errorf("%s: %.3f × the Temporal floor, want %.1f ÷ %.1f (its own round's floor)", last.Name, last.VsTemporalFloor, last.EventsPerSec, floor.EventsPerSec)
	}
	if len(r.Goals) == 0 || r.Goals[0].Met == nil {
		t.Errorf("goals %+v, want the ratio to the floor judged first", r.Goals)
	}
	for _, h := range r.Headline {
		if h.CPU.Temporal <= 0 || h.CPU.Total < h.CPU.Temporal {
			t.Errorf("%s: CPU per event %+v, want the Temporal server's measured and within the total", h.Phase, h.CPU)
		}
		if h.Phase == "closed f1" && (h.CPU.Postgres <= 0 || h.CPU.TotalWithPostgres != h.CPU.Total+h.CPU.Postgres) {
			// The test's PostgreSQL runs on this machine: its CPU is found.
			t.Errorf("%s: CPU per event %+v, want PostgreSQL's measured and added to the total with it", h.Phase, h.CPU)
		}
	}
	if r.Noisy == nil || r.Noisy.BlackholeAttempts == 0 {
		t.Errorf("noisy neighbour: %+v, want attempts at the black hole", r.Noisy)
	}

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("report file: %v", err)
	}
	var parsed report
	if err := json.Unmarshal(data, &parsed); err != nil {
		t.Fatalf("report file does not parse: %v", err)
	}
	if len(parsed.Phases) != len(r.Phases) {
		t.Errorf("report file: got %d phases, want %d", len(parsed.Phases), len(r.Phases))
	}
}

// testWriter sends the progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{1.4}, 1.4},
		{[]float64{1.7, 1.2, 1.5}, 1.5},
		{[]float64{2, 1, 4, 3}, 2.5},
	} {
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

// The goals judge the median round's ratio, and the p99 of every fan-out-1
// open loop that kept up, ignoring those that did not and the other kinds.
func TestGoals(t *testing.T) {
	open := func(name, kind string, fanout int, keptUp bool, p99 float64) *phaseResult {
		return &phaseResult{Name: name, Kind: kind, Fanout: fanout, Latency: percentiles{P99: p99},
			Open: &openLoop{TargetRate: 100, AchievedRate: 100, KeptUp: keptUp}}
	}
	closed := func(name string, round int, ratio, cpu float64) *phaseResult {
		return &phaseResult{Name: name, Kind: "closed", Fanout: 1, Round: round, VsTemporalFloor: ratio,
			CPU: cpuUse{Temporal: cpu / 2, Total: cpu}, HistoryEventsPerEvent: 8}
	}
	run := func(rate100KeptUp bool, rate100P99 float64, ratios ...float64) *report {
		r := &report{Memory: memoryReport{WorkerPeak: 30 << 20}}
		for i, ratio := range ratios {
			r.add(closed(roundName("closed f1", i+1), i+1, ratio, 7))
		}
		r.add(&phaseResult{Name: "temporal floor", Kind: "temporal floor", Round: 1})
		r.add(open("open f1", "open", 1, true, 40))
		r.add(open("open f10", "open", 10, true, 900))          // another fan-out: not this goal's
		r.add(open("open f100", "open", 100, true, 90))         // its all-N p99 is the fan-out-100 goal's
		r.add(open("noisy", "noisy", 1, true, 900))             // the noisy-neighbour goal's
		r.add(open("open f1 at 200/s", "rate", 1, false, 5000)) // not kept up: not judged
		r.add(open("open f1 at 100/s", "rate", 1, rate100KeptUp, rate100P99))
		return r
	}
	met := func(r *report, prefix string) bool {
		t.Helper()
		for _, g := range r.goals() {
			if strings.HasPrefix(g.Goal, prefix) {
				if g.Met == nil {
					t.Fatalf("%q: not measured", g.Goal)
				}
				return *g.Met
			}
		}
		t.Fatalf("no goal %q", prefix)
		return false
	}
	const ratioGoal, latencyGoal = "fan-out 1: sustained", "fan-out 1: ingest-to-receiver"
	if !met(run(true, 45, 1.4, 1.6, 1.7), ratioGoal) {
		t.Error("median round 1.6: ratio goal not met, want met")
	}
	if met(run(true, 45, 1.7, 1.4, 1.45), ratioGoal) {
		t.Error("median round 1.45 (best round 1.7): ratio goal met, want not met")
	}
	if !met(run(true, 45, 1.6), latencyGoal) {
		t.Error("every fan-out-1 loop kept up under 50 ms: latency goal not met")
	}
	if met(run(true, 60, 1.6), latencyGoal) {
		t.Error("100/s kept up at 60 ms: latency goal met, want not met")
	}
	if !met(run(false, 60, 1.6), latencyGoal) {
		t.Error("100/s not kept up: it was judged")
	}
	none := run(false, 60, 1.6)
	none.phase("open f1").Open.KeptUp = false
	if met(none, latencyGoal) {
		t.Error("no open loop kept up: latency goal met, want not met")
	}
}
