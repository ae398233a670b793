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
	if len(r.Phases) != 8 {
		t.Errorf("got %d phases, want 8 (closed and open at 3 fan-outs, 2 floors)", len(r.Phases))
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
