package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
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
