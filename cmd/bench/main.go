// Command bench is `make bench`, the load command. It brings up the whole
// service (an embedded Temporal dev server, the API and the worker as child
// processes, a fresh PostgreSQL database, local HTTP receivers) or targets
// a running one, and measures ingestion, end-to-end delivery at fan-out 1,
// 10 and 100 in closed and open loop, memory, history size, and two floors
// (a trivial Temporal workflow, plain HTTP POSTs) on the same machine. The
// report goes to stdout as Markdown and to a JSON file; docs/performance.md
// explains every figure.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

// settings are the flags of one run; they are written into the report so
// that two runs can be compared.
type settings struct {
	Smoke        bool          `json:"smoke"`
	Events       int           `json:"events"`
	Concurrency  int           `json:"concurrency"`
	Rate         float64       `json:"rate"`
	ClosedTime   time.Duration `json:"closedTime"`
	OpenDuration time.Duration `json:"openDuration"`
	Activities   int           `json:"workerMaxConcurrentActivities"`
	Out          string        `json:"out"`
	Target       string        `json:"target,omitempty"`
	Temporal     string        `json:"temporal,omitempty"`
	Namespace    string        `json:"namespace"`
	CPUProfile   string        `json:"cpuProfile,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := parseFlags(os.Args[1:])
	if err != nil {
		os.Exit(2)
	}
	if _, err := run(ctx, s, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&s.Smoke, "smoke", false, "a short run (a few hundred events, a few seconds per phase) that checks every event is delivered")
	fs.IntVar(&s.Events, "events", 1000, "events per closed-loop phase at fan-out 1; fan-out 10 and 100 send events/10 and events/100, so every level makes the same number of deliveries")
	fs.DurationVar(&s.ClosedTime, "closed-time", 15*time.Second, "a closed loop stops sending after this long even if -events are not all sent (bounds the run on a slow machine)")
	fs.IntVar(&s.Concurrency, "concurrency", 8, "concurrent producers (closed loop and floors)")
	fs.Float64Var(&s.Rate, "rate", 0, "open-loop arrival rate at fan-out 1, events/s; 0 = half the closed-loop sustained rate just measured")
	fs.DurationVar(&s.OpenDuration, "open-duration", 10*time.Second, "length of each open-loop schedule")
	fs.IntVar(&s.Activities, "activities", 200, "the worker's WORKER_MAX_CONCURRENT_ACTIVITIES (and the Temporal floor worker's)")
	fs.StringVar(&s.Out, "out", "", "JSON report path; default bench-results/bench-<timestamp>.json")
	fs.StringVar(&s.Target, "target", "", "base URL of a running API (e.g. http://127.0.0.1:8080); skips bringing up the stack, the floors and the memory figures")
	fs.StringVar(&s.Temporal, "temporal", "", "with -target: the Temporal frontend host:port the service uses")
	fs.StringVar(&s.Namespace, "namespace", "default", "Temporal namespace")
	fs.StringVar(&s.CPUProfile, "cpuprofile", "", "write a CPU profile of this process (the Temporal server, receivers, producers) to this file")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if s.Smoke {
		s.Events, s.ClosedTime, s.OpenDuration = 200, 5*time.Second, 3*time.Second
	}
	if s.Target != "" && s.Temporal == "" {
		fmt.Fprintln(os.Stderr, "bench: -target needs -temporal")
		return s, flag.ErrHelp
	}
	return s, nil
}

// run performs the whole measurement and writes the report; the smoke test
// calls it in-process.
func run(ctx context.Context, s settings, stdout, progress io.Writer) (*report, error) {
	if s.Out == "" {
		s.Out = fmt.Sprintf("bench-results/bench-%s.json", time.Now().UTC().Format("20060102-150405"))
	}
	if s.Events < 100 {
		s.Events = 100 // fan-out 100 needs at least one event
	}
	if s.CPUProfile != "" {
		f, err := os.Create(s.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	started := time.Now()
	env, err := startEnv(ctx, s, progress)
	if err != nil {
		return nil, err
	}
	defer func() {
		if env != nil {
			env.close(progress)
		}
	}()

	r := newReport(s, started)
	if err := runPhases(ctx, env, s, r, progress); err != nil {
		return r, err
	}
	r.finish(env, time.Since(started))
	if err := r.writeJSON(s.Out); err != nil {
		return r, err
	}
	// Clean up before printing: a reader that stops early (| head) must
	// not leave the database and the children behind.
	env.close(progress)
	env = nil
	fmt.Fprintf(progress, "bench: report written to %s (%s)\n", s.Out, time.Since(started).Round(time.Second))
	_, err = io.WriteString(stdout, r.markdown())
	return r, err
}
