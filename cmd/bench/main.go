// Command bench is `make bench`, the load command. It brings up the whole
// service (the embedded Temporal dev server, the API and the worker as child
// processes, a fresh PostgreSQL database, local HTTP receivers) or targets
// a running one, and measures ingestion, end-to-end delivery at fan-out 1,
// 10 and 100 in closed and open loop, an open loop at fixed rates, a
// noisy neighbour (half the events to a receiver that never answers), CPU
// per event of every process, memory, history size, and three floors (a
// trivial Temporal workflow, an empty eagerly started one, plain HTTP POSTs)
// on the same machine. The report goes to stdout as Markdown and to a JSON
// file; docs/performance.md explains every figure.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocelot/webhooks/internal/config"
)

// settings are the flags of one run; they are written into the report so
// that two runs can be compared.
type settings struct {
	Smoke       bool `json:"smoke"`
	Events      int  `json:"events"`
	Concurrency int  `json:"concurrency"`
	// Rounds is how many times closed f1 and the two Temporal floors run,
	// interleaved; the ratio goal is judged on the median round.
	Rounds int `json:"rounds"`
	// Settle is the pause before each closed f1 and floor of the rounds
	// (and after the last): see settle in load.go.
	Settle       time.Duration `json:"settle"`
	Rate         float64       `json:"rate"`
	ClosedTime   time.Duration `json:"closedTime"`
	OpenDuration time.Duration `json:"openDuration"`
	// Rates are the open loop's fixed rates at fan-out 1, each run for
	// RateDuration; MaxDrain bounds "kept up" (see open).
	Rates        []float64     `json:"rates"`
	RateDuration time.Duration `json:"rateDuration"`
	MaxDrain     time.Duration `json:"maxDrain"`
	// NoisyRate is the noisy-neighbour phase's total rate, half of it to
	// the black-holed webhook, for NoisyDuration.
	NoisyRate       float64       `json:"noisyRate"`
	NoisyDuration   time.Duration `json:"noisyDuration"`
	DeliveryTimeout time.Duration `json:"deliveryTimeout"`
	Activities      int           `json:"workerMaxConcurrentActivities"`
	Out             string        `json:"out"`
	Target          string        `json:"target,omitempty"`
	Temporal        string        `json:"temporal,omitempty"`
	PIDs            string        `json:"pids,omitempty"`
	Receivers       string        `json:"receivers"`
	ReceiversURL    string        `json:"receiversUrl,omitempty"`
	Namespace       string        `json:"namespace"`
	CPUProfile      string        `json:"cpuProfile,omitempty"`
}

func main() {
	// The bench starts itself again as the Temporal server's process.
	if os.Getenv(temporalChildEnv) != "" {
		os.Exit(serveTemporal())
	}
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
	var rates string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&s.Smoke, "smoke", false, "a short run (a few hundred events, a few seconds per phase) that checks every event is delivered")
	fs.IntVar(&s.Events, "events", 1000, "events per closed-loop phase at fan-out 1; fan-out 10 and 100 send events/10 and events/100, so every level makes the same number of deliveries")
	fs.DurationVar(&s.ClosedTime, "closed-time", 15*time.Second, "a closed loop stops sending after this long even if -events are not all sent (bounds the run on a slow machine)")
	fs.IntVar(&s.Concurrency, "concurrency", 8, "concurrent producers (closed loop and floors)")
	fs.IntVar(&s.Rounds, "rounds", 3, "rounds of closed f1 and the two Temporal floors, interleaved; the ratio to the floor is judged on the median round (one run of a 2-core virtual machine varies by a tenth or more)")
	fs.DurationVar(&s.Settle, "settle", 11*time.Second, "pause before each closed f1 and Temporal floor of the rounds, and after the last, so that the workflow-task timeout timers of one phase (they fire 10 s after each task started) run between phases, not inside the next one")
	fs.Float64Var(&s.Rate, "rate", 0, "open-loop arrival rate at fan-out 1, events/s; 0 = half the closed-loop sustained rate just measured")
	fs.DurationVar(&s.OpenDuration, "open-duration", 10*time.Second, "length of each open-loop schedule")
	fs.StringVar(&rates, "rates", "20,50,100,200", "fixed open-loop rates at fan-out 1, events/s, comma-separated; the list stops at the first rate that does not keep up; empty skips")
	fs.DurationVar(&s.RateDuration, "rate-duration", 20*time.Second, "length of each fixed-rate schedule")
	fs.DurationVar(&s.MaxDrain, "max-drain", 2*time.Second, "an open loop kept up when every event was delivered within this long after its last request was answered (and it sent ≥ 95% of its target rate)")
	fs.Float64Var(&s.NoisyRate, "noisy-rate", 20, "noisy-neighbour phase: total events/s, half to a webhook whose receiver never answers, half to a healthy one; the baseline runs the healthy half alone; 0 skips")
	fs.DurationVar(&s.NoisyDuration, "noisy-duration", 20*time.Second, "length of each noisy-neighbour schedule (baseline and noisy)")
	fs.DurationVar(&s.DeliveryTimeout, "delivery-timeout", config.DefaultDeliveryTimeout, "the worker's DELIVERY_TIMEOUT: what every attempt to the black-holed receiver costs (with -target: give the target's value, for the report)")
	fs.IntVar(&s.Activities, "activities", config.DefaultWorkerActivities, "the worker's WORKER_MAX_CONCURRENT_ACTIVITIES (and the floor workers'; with -target: give the target's value, for the report)")
	fs.StringVar(&s.Out, "out", "", "JSON report path; default bench-results/bench-<timestamp>.json")
	fs.StringVar(&s.Target, "target", "", "base URL of a running API (e.g. http://127.0.0.1:8080), such as the production-shaped docker-compose cluster: every phase runs against it instead of bringing up the stack (the floors' workers run in the bench process against -temporal); needs -temporal, INGEST_PASSWORD and DATABASE_URL")
	fs.StringVar(&s.Temporal, "temporal", "", "with -target: the Temporal frontend host:port the target uses")
	fs.StringVar(&s.PIDs, "pids", "", "with -target on the same machine: processes to measure CPU and memory of, e.g. temporal=123,api=456,worker=789 (a name may repeat; its processes are summed)")
	fs.StringVar(&s.Receivers, "receivers", "127.0.0.1:0", "host:port the receivers listen on (with -target in containers, e.g. 0.0.0.0:9999)")
	fs.StringVar(&s.ReceiversURL, "receivers-url", "", "base URL the webhooks point at, as the target's worker reaches the receivers (e.g. http://host.docker.internal:9999); default http://<-receivers address>")
	fs.StringVar(&s.Namespace, "namespace", "default", "Temporal namespace")
	fs.StringVar(&s.CPUProfile, "cpuprofile", "", "write a CPU profile of the Temporal server's process to this file (with -target: of the bench process)")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	var err error
	if s.Rates, err = parseRates(rates); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -rates:", err)
		return s, flag.ErrHelp
	}
	if s.Smoke {
		s.Events, s.ClosedTime, s.OpenDuration = 200, 5*time.Second, 3*time.Second
		s.RateDuration, s.NoisyDuration = 2*time.Second, 3*time.Second
		s.Rounds = 2 // exercises the pairing of rounds at little cost
		s.Settle = time.Second
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rates"] {
			s.Rates = []float64{20, 50}
		}
	}
	if s.Rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench: -rounds must be at least 1")
		return s, flag.ErrHelp
	}
	if s.Target != "" && s.Temporal == "" {
		fmt.Fprintln(os.Stderr, "bench: -target needs -temporal")
		return s, flag.ErrHelp
	}
	if _, err := parsePIDs(s.PIDs); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -pids:", err)
		return s, flag.ErrHelp
	}
	return s, nil
}

func parseRates(list string) ([]float64, error) {
	var rates []float64
	for f := range strings.SplitSeq(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("%q is not a positive rate", f)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

// parsePIDs reads -pids: name=pid pairs, names among procNames.
func parsePIDs(list string) (map[string][]int, error) {
	pids := map[string][]int{}
	for f := range strings.SplitSeq(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		name, value, _ := strings.Cut(f, "=")
		pid, err := strconv.Atoi(value)
		if err != nil || pid <= 0 || !slices.Contains(procNames, name) {
			return nil, fmt.Errorf("%q is not name=pid with a name among %v", f, procNames)
		}
		pids[name] = append(pids[name], pid)
	}
	return pids, nil
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
	if s.CPUProfile != "" && s.Target != "" {
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
