package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/internal/config"
)

// report is everything one run measured, with what is needed to compare two
// runs: the machine, the versions and the settings.
type report struct {
	Started   time.Time `json:"started"`
	DurationS float64   `json:"durationSeconds"`
	Machine   machine   `json:"machine"`
	Versions  versions  `json:"versions"`
	Settings  settings  `json:"settings"`
	// Headline is the closed loops' and the Temporal floors' cost per
	// event: CPU of each process and history length.
	Headline []headline `json:"headline"`
	// Processes are the PIDs whose CPU and memory were measured, by name
	// (none for a process of -target not given in -pids).
	Processes     map[string][]int `json:"processes"`
	Concurrency   concurrency      `json:"workerConcurrency"`
	Noisy         *noisyResult     `json:"noisyNeighbour,omitempty"`
	Phases        []*phaseResult   `json:"phases"`
	Memory        memoryReport     `json:"memory"`
	StrayArrivals int64            `json:"strayArrivals"`
	// ReceiverConns is how many connections the receivers accepted in the
	// whole run (deliveries and the HTTP floor).
	ReceiverConns int64  `json:"receiverConnections"`
	Goals         []goal `json:"goals"`
}

type machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpuModel"`
	MemTotal int64  `json:"memTotalBytes"`
	OS       string `json:"os"`
	Kernel   string `json:"kernel"`
	// LoadAvg is /proc/loadavg at the start and the end: a run on a busy
	// machine is not comparable with one on an idle machine.
	LoadAvg []string `json:"loadAvg"`
}

type versions struct {
	Go             string `json:"go"`
	Service        string `json:"service"`
	TemporalServer string `json:"temporalServer"`
	TemporalSDK    string `json:"temporalSdk"`
}

// memoryReport holds peak resident sets (VmHWM) over the whole run.
type memoryReport struct {
	TemporalPeak int64 `json:"temporalPeakRssBytes,omitempty"`
	APIPeak      int64 `json:"apiPeakRssBytes,omitempty"`
	WorkerPeak   int64 `json:"workerPeakRssBytes,omitempty"`
	// BenchPeak is this process: the receivers, the producers and the
	// floors' workers.
	BenchPeak int64 `json:"benchPeakRssBytes"`
}

// headline is one row of the first table.
type headline struct {
	Phase                 string  `json:"phase"`
	Fanout                int     `json:"fanout"`
	EventsPerSec          float64 `json:"eventsPerSecond"`
	CPU                   cpuUse  `json:"cpuMsPerEvent"`
	HistoryEventsPerEvent float64 `json:"historyEventsPerEvent"`
	VsTemporalFloor       float64 `json:"vsTemporalFloor,omitempty"`
	VsEagerFloor          float64 `json:"vsEagerFloor,omitempty"`
}

// sdkDefaultSlots is the Go SDK's default of MaxConcurrentLocalActivity-
// ExecutionSize and MaxConcurrentWorkflowTaskExecutionSize
// (go.temporal.io/sdk/internal/internal_worker.go), which the service's
// worker leaves as they are (app.WorkerOptions sets neither).
const sdkDefaultSlots = 1000

// concurrency is what bounds the worker's attempts in flight.
type concurrency struct {
	// Source says where the figures come from: the bench's settings of its
	// own worker, or (-target) the flags, which must match the target's.
	Source string `json:"source"`
	// Activities is WORKER_MAX_CONCURRENT_ACTIVITIES: retries (attempts
	// after the first) in flight.
	Activities int `json:"maxConcurrentActivities"`
	// LocalActivities and WorkflowTasks are the SDK's defaults: a first
	// attempt holds one of each while it runs.
	LocalActivities int           `json:"maxConcurrentLocalActivities"`
	WorkflowTasks   int           `json:"maxConcurrentWorkflowTasks"`
	Pollers         int           `json:"pollers"`
	DeliveryTimeout time.Duration `json:"deliveryTimeout"`
	RetrySchedule   string        `json:"retrySchedule,omitempty"`
}

// noisyResult compares the healthy receivers' latency with and without a
// black-holed half at the same healthy rate.
type noisyResult struct {
	HealthyRate    float64 `json:"healthyEventsPerSecond"`
	BlackholedRate float64 `json:"blackholedEventsPerSecond"`
	// BlackholedEvents were accepted for the black-holed webhook;
	// BlackholeAttempts arrived at its receiver during the phase.
	BlackholedEvents  int     `json:"blackholedEvents"`
	BlackholeAttempts int64   `json:"blackholeAttempts"`
	BaselineP99       float64 `json:"baselineP99Ms"`
	NoisyP99          float64 `json:"noisyP99Ms"`
	Ratio             float64 `json:"ratio"`
	// FirstAttemptSlots is the local-activity (and workflow-task) slots the
	// black-holed first attempts hold in steady state: rate × timeout.
	FirstAttemptSlots float64 `json:"firstAttemptSlots"`
}

// phaseResult holds the figures of one phase; docs/performance.md defines
// each.
type phaseResult struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // closed, open, rate, noisy, temporal floor, eager floor, http floor
	// Round numbers the repeats of closed f1 and the Temporal floors
	// (-rounds), from 1; 0 for a phase that runs once.
	Round      int    `json:"round,omitempty"`
	Fanout     int    `json:"fanout"`
	Events     int    `json:"events"`
	Failed     int    `json:"failedIngests"`
	LastError  string `json:"lastError,omitempty"`
	Deliveries int    `json:"deliveries"`
	Duplicates int    `json:"duplicateDeliveries"`
	// DurationS runs from the first send to the last arrival or, when the
	// events have workflows, to the last workflow's close if that is later.
	DurationS        float64     `json:"durationSeconds"`
	IngestPerSec     float64     `json:"ingestPerSecond"`
	Ingest           percentiles `json:"ingestLatencyMs"`
	EventsPerSec     float64     `json:"eventsPerSecond"`
	DeliveriesPerSec float64     `json:"deliveriesPerSecond"`
	Latency          percentiles `json:"deliveryLatencyMs"`
	Completion       percentiles `json:"eventCompletionMs"`
	Open             *openLoop   `json:"openLoop,omitempty"`
	VsTemporalFloor  float64     `json:"vsTemporalFloor,omitempty"`
	VsEagerFloor     float64     `json:"vsEagerFloor,omitempty"`
	VsHTTPFloor      float64     `json:"vsHttpFloor,omitempty"`
	CPU              cpuUse      `json:"cpuMsPerEvent"`
	TemporalPeakRSS  int64       `json:"temporalPeakRssBytes,omitempty"`
	APIPeakRSS       int64       `json:"apiPeakRssBytes,omitempty"`
	WorkerPeakRSS    int64       `json:"workerPeakRssBytes,omitempty"`

	HistoryEventsPerEvent    float64 `json:"historyEventsPerEvent,omitempty"`
	HistoryEventsPerDelivery float64 `json:"historyEventsPerDelivery,omitempty"`

	eventIDs []string
}

// openLoop is how an open-loop phase kept to its schedule.
type openLoop struct {
	TargetRate   float64 `json:"targetEventsPerSecond"`
	AchievedRate float64 `json:"achievedEventsPerSecond"`
	// BacklogAtEnd is accepted minus fully delivered events when the last
	// scheduled request was answered; DrainMs is how long they then took.
	BacklogAtEnd int     `json:"backlogAtEnd"`
	DrainMs      float64 `json:"drainMs"`
	KeptUp       bool    `json:"keptUp"`
}

// cpuUse is the CPU time each process spent per event of a phase, in
// milliseconds: a cost that, unlike throughput, hardly depends on what else
// the machine runs. PostgreSQL's is not counted.
type cpuUse struct {
	Temporal float64 `json:"temporal"`
	API      float64 `json:"api"`
	Worker   float64 `json:"worker"`
	// Bench is this process: the receivers, the producers (and the floors'
	// workers).
	Bench float64 `json:"bench"`
	Total float64 `json:"total"`
	// Postgres is the whole PostgreSQL server the service uses (0 when it
	// is not on this machine), which Total leaves out: it is shared, and
	// the goals were set without it.
	Postgres          float64 `json:"postgres"`
	TotalWithPostgres float64 `json:"totalWithPostgres"`
}

type percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

type goal struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	// Met is nil when the run could not measure it (-target).
	Met *bool `json:"met"`
}

func newReport(s settings, started time.Time) *report {
	return &report{Started: started.UTC(), Settings: s, Machine: readMachine(), Versions: readVersions()}
}

func (r *report) add(p *phaseResult) { r.Phases = append(r.Phases, p) }

func (r *report) phase(name string) *phaseResult {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// result computes a phase's figures from its tracker.
func (t *tracker) result(kind string) *phaseResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &phaseResult{
		Name: t.name, Kind: kind, Fanout: t.fanout,
		Events: t.accepted, Failed: t.failed, LastError: t.lastError,
		Deliveries: t.deliveries, Duplicates: t.duplicates,
		Ingest: percentilesOf(t.ingest), Latency: percentilesOf(t.latency), Completion: percentilesOf(t.completion),
		eventIDs: t.ids,
	}
	if d := t.lastAnswer.Sub(t.firstSent).Seconds(); d > 0 {
		p.IngestPerSec = float64(t.accepted) / d
	}
	p.setEnd(t, t.lastArrival)
	return p
}

// endAt makes the phase's rates run from its first send to end, or to its
// last arrival if that is later.
func (p *phaseResult) endAt(t *tracker, end time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p.setEnd(t, end)
}

// setEnd is endAt with t.mu held.
func (p *phaseResult) setEnd(t *tracker, end time.Time) {
	if t.lastArrival.After(end) {
		end = t.lastArrival
	}
	if d := end.Sub(t.firstSent).Seconds(); d > 0 {
		p.DurationS = d
		p.EventsPerSec = float64(t.complete) / d
		p.DeliveriesPerSec = float64(t.deliveries) / d
	}
}

func percentilesOf(ds []time.Duration) percentiles {
	if len(ds) == 0 {
		return percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 { return ms(s[min(len(s)-1, int(q*float64(len(s))))]) }
	return percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// finish adds the ratios to the floors, the memory peaks and the goals.
func (r *report) finish(e *env, d time.Duration) {
	r.DurationS = d.Seconds()
	r.Machine.LoadAvg = append(r.Machine.LoadAvg, loadAvg())
	r.StrayArrivals = e.recv.stray.Load()
	r.ReceiverConns = e.recv.conns.Load()
	r.Memory.BenchPeak = readMemory(os.Getpid()).peak
	r.Memory.TemporalPeak, r.Memory.APIPeak, r.Memory.WorkerPeak = e.peakMemory("temporal"), e.peakMemory("api"), e.peakMemory("worker")
	r.Processes = e.pids
	r.Concurrency = concurrency{
		Source:          "set by the bench for its worker",
		Activities:      r.Settings.Activities,
		LocalActivities: sdkDefaultSlots,
		WorkflowTasks:   sdkDefaultSlots,
		Pollers:         workerPollers(),
		DeliveryTimeout: r.Settings.DeliveryTimeout,
		RetrySchedule:   benchRetrySchedule,
	}
	if r.Settings.Target != "" {
		r.Concurrency.Source = "-target: the bench's flags and defaults, which must match the target's settings"
		r.Concurrency.RetrySchedule = ""
	}
	if r.Noisy != nil {
		r.Noisy.FirstAttemptSlots = r.Noisy.BlackholedRate * r.Settings.DeliveryTimeout.Seconds()
	}
	// Each closed loop is compared with the floors of its own round; the
	// fan-out 10 and 100 loops, which run once, with the first round's.
	httpFloor := r.phase("http floor")
	for _, p := range r.Phases {
		if p.Kind != "closed" {
			continue
		}
		if f := r.roundOf("temporal floor", p.Round); f != nil && f.EventsPerSec > 0 {
			p.VsTemporalFloor = p.EventsPerSec / f.EventsPerSec
		}
		if f := r.roundOf("eager floor", p.Round); f != nil && f.EventsPerSec > 0 {
			p.VsEagerFloor = p.EventsPerSec / f.EventsPerSec
		}
		if httpFloor != nil && httpFloor.DeliveriesPerSec > 0 {
			p.VsHTTPFloor = p.DeliveriesPerSec / httpFloor.DeliveriesPerSec
		}
	}
	for _, kind := range []string{"closed", "temporal floor", "eager floor"} {
		for _, p := range r.phasesOf(kind) {
			r.Headline = append(r.Headline, headline{
				Phase: p.Name, Fanout: p.Fanout, EventsPerSec: p.EventsPerSec, CPU: p.CPU,
				HistoryEventsPerEvent: p.HistoryEventsPerEvent, VsTemporalFloor: p.VsTemporalFloor, VsEagerFloor: p.VsEagerFloor,
			})
		}
	}
	r.Goals = r.goals()
}

// The goals of issue 10 (docs/performance.md, "The goals"); they replaced
// the looser ones the bench first reported (0.8 × the floor, p99 250 ms at
// half the sustained rate, all 100 receivers within 1 s).
const (
	goalVsTemporalFloor = 1.5
	goalCPUMs           = 11
	goalHistoryEvents   = 8
	goalOpenP99Ms       = 50
	goalFanout100P99Ms  = 500
	goalWorkerPeakRSS   = 150 << 20
	goalNoisyRatio      = 1.5
)

func (r *report) goals() []goal {
	var ratios, cpu []float64
	for _, p := range r.phasesOf("closed") {
		if p.Fanout == 1 {
			ratios = append(ratios, p.VsTemporalFloor)
			cpu = append(cpu, p.CPU.Total)
		}
	}
	closed1, open100 := r.phase("closed f1"), r.phase("open f100")
	goals := []goal{
		r.goal(fmt.Sprintf("fan-out 1: sustained end-to-end ≥ %.1f × Temporal floor (closed loop ÷ the floor of its round, median of %d rounds)", goalVsTemporalFloor, len(ratios)),
			r.phase("temporal floor") != nil, median(ratios) >= goalVsTemporalFloor,
			fmt.Sprintf("%.2f × (rounds: %s)", median(ratios), joinFloats(ratios, "%.2f"))),
		r.goal(fmt.Sprintf("fan-out 1: CPU per event ≤ %d ms, the Temporal server and the service's and bench's processes (median of the rounds)", goalCPUMs),
			closed1.CPU.Temporal > 0, median(cpu) <= goalCPUMs,
			fmt.Sprintf("%.1f ms (rounds: %s); %.1f ms with PostgreSQL in round 1", median(cpu), joinFloats(cpu, "%.1f"), closed1.CPU.TotalWithPostgres)),
		r.goal(fmt.Sprintf("fan-out 1: history events per first-try event ≤ %d", goalHistoryEvents),
			closed1.HistoryEventsPerEvent > 0, closed1.HistoryEventsPerEvent <= goalHistoryEvents,
			fmt.Sprintf("%.1f", closed1.HistoryEventsPerEvent)),
		r.openLoopGoal(),
		r.goal(fmt.Sprintf("fan-out 100: all 100 receivers within %d ms, p99, at half the sustained rate", goalFanout100P99Ms),
			true, open100.Completion.P99 < goalFanout100P99Ms,
			fmt.Sprintf("%s ms at %.1f events/s", fmtMs(open100.Completion.P99), open100.Open.AchievedRate)),
		r.goal("worker peak resident memory < "+mib(goalWorkerPeakRSS),
			r.Memory.WorkerPeak > 0, r.Memory.WorkerPeak < goalWorkerPeakRSS,
			mib(r.Memory.WorkerPeak)),
	}
	if n := r.Noisy; n != nil {
		goals = append(goals, r.goal(fmt.Sprintf("noisy neighbour: healthy p99 with half the events black-holed ≤ %.1f × without", goalNoisyRatio),
			true, n.Ratio <= goalNoisyRatio,
			fmt.Sprintf("%.2f × (%s vs %s ms at %.0f healthy events/s)", n.Ratio, fmtMs(n.NoisyP99), fmtMs(n.BaselineP99), n.HealthyRate)))
	}
	return goals
}

// openLoopGoal judges every fan-out-1 open loop (half the sustained rate and
// the fixed rates): each one kept up must have its p99 under the goal. A run
// that kept up with none fails it.
func (r *report) openLoopGoal() goal {
	var parts []string
	keptUp, met := 0, true
	for _, p := range r.Phases {
		if p.Fanout != 1 || (p.Kind != "open" && p.Kind != "rate") || p.Open == nil {
			continue
		}
		if !p.Open.KeptUp {
			parts = append(parts, fmt.Sprintf("%.0f/s not kept up", p.Open.TargetRate))
			continue
		}
		keptUp++
		met = met && p.Latency.P99 < goalOpenP99Ms
		parts = append(parts, fmt.Sprintf("%.0f/s %s ms", p.Open.AchievedRate, fmtMs(p.Latency.P99)))
	}
	return r.goal(fmt.Sprintf("fan-out 1: ingest-to-receiver p99 < %d ms at every open-loop rate kept up", goalOpenP99Ms),
		true, keptUp > 0 && met, strings.Join(parts, "; "))
}

// roundOf is the phase of kind from round n (the first for a phase that runs
// once).
func (r *report) roundOf(kind string, n int) *phaseResult {
	n = max(n, 1)
	for _, p := range r.phasesOf(kind) {
		if max(p.Round, 1) == n {
			return p
		}
	}
	return nil
}

// median is the middle of xs (the mean of the two middle ones for an even
// count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func joinFloats(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}

// workerPollers is the WORKER_POLLERS the bench's worker gets: the caller's
// environment or the default.
func workerPollers() int {
	if n, err := strconv.Atoi(os.Getenv("WORKER_POLLERS")); err == nil {
		return n
	}
	return config.DefaultWorkerPollers
}

func (r *report) goal(name string, measured, met bool, value string) goal {
	if !measured {
		return goal{Goal: name, Measured: "not measured (-target without -pids)"}
	}
	return goal{Goal: name, Measured: value, Met: &met}
}

// writeJSON writes the report to path.
func (r *report) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func (r *report) markdown() string {
	var b strings.Builder
	m, v, s := r.Machine, r.Versions, r.Settings
	fmt.Fprintf(&b, "\n## Load test, %s\n\n", r.Started.Format(time.RFC3339))
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %s memory, %s, Linux %s, load average %s. Versions: %s, service %s, Temporal server %s, SDK %s.\n",
		m.CPUs, m.CPUModel, mib(m.MemTotal), m.OS, m.Kernel, strings.Join(m.LoadAvg, " → "), v.Go, v.Service, v.TemporalServer, v.TemporalSDK)
	fmt.Fprintf(&b, "Settings: %d events per closed loop at fan-out 1 (÷10, ÷100 at fan-out 10, 100), %d rounds with a %s pause before each of their phases, %d producers, open loop %s, fixed rates %v events/s for %s each, noisy neighbour %g events/s for %s%s. Run took %.0f s.\n",
		s.Events, s.Rounds, s.Settle, s.Concurrency, s.OpenDuration, s.Rates, s.RateDuration, s.NoisyRate, s.NoisyDuration, map[bool]string{true: ", smoke", false: ""}[s.Smoke], r.DurationS)
	c := r.Concurrency
	fmt.Fprintf(&b, "Worker concurrency (%s): max concurrent activities %d (WORKER_MAX_CONCURRENT_ACTIVITIES), local activities %d and workflow tasks %d (SDK defaults, no setting), pollers %d (WORKER_POLLERS), DELIVERY_TIMEOUT %s%s.\n\n",
		c.Source, c.Activities, c.LocalActivities, c.WorkflowTasks, c.Pollers, c.DeliveryTimeout, map[bool]string{true: ", RETRY_SCHEDULE " + c.RetrySchedule, false: ""}[c.RetrySchedule != ""])

	b.WriteString("### Headline\n\nCPU time per event of each process (user + system, /proc/<pid>/stat) and history events per event. " +
		"\"total\" is the Temporal server, the API, the worker and the bench; PostgreSQL (the whole server, every backend, so any other work on it too) is given apart and in the last total.\n\n")
	b.WriteString("| phase | fan-out | events/s | vs Temporal / eager floor | CPU ms/event Temporal | API | worker | bench | total | PostgreSQL | total with PostgreSQL | history events/event |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, h := range r.Headline {
		withPostgres := "—"
		if len(r.Processes["postgres"]) > 0 {
			withPostgres = strconv.FormatFloat(h.CPU.TotalWithPostgres, 'f', 1, 64)
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %s / %s | %s | %s | %s | %.1f | %.1f | %s | %s | %.1f |\n",
			h.Phase, h.Fanout, h.EventsPerSec, ratio(h.VsTemporalFloor), ratio(h.VsEagerFloor),
			r.cpu("temporal", h.CPU.Temporal), r.cpu("api", h.CPU.API), r.cpu("worker", h.CPU.Worker), h.CPU.Bench, h.CPU.Total,
			r.cpu("postgres", h.CPU.Postgres), withPostgres, h.HistoryEventsPerEvent)
	}

	b.WriteString("\n### Phases\n\n| phase | fan-out | events | deliveries | ingest req/s | ingest p50 / p99 ms | events/s | deliveries/s | latency p50 / p95 / p99 ms | all-N p99 ms | vs Temporal floor | vs eager floor | vs HTTP floor | CPU ms/event Temporal / API / worker / bench | Temporal / API / worker RSS MiB |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f | %s / %s | %.1f | %.0f | %s / %s / %s | %s | %s | %s | %s | %.1f / %.1f / %.1f / %.1f | %s |\n",
			p.Name, p.Fanout, p.Events, p.Deliveries, p.IngestPerSec, fmtMs(p.Ingest.P50), fmtMs(p.Ingest.P99),
			p.EventsPerSec, p.DeliveriesPerSec, fmtMs(p.Latency.P50), fmtMs(p.Latency.P95), fmtMs(p.Latency.P99),
			fmtMs(p.Completion.P99), ratio(p.VsTemporalFloor), ratio(p.VsEagerFloor), ratio(p.VsHTTPFloor),
			p.CPU.Temporal, p.CPU.API, p.CPU.Worker, p.CPU.Bench, rssTriple(p))
	}

	fmt.Fprintf(&b, "\nOpen loops. Kept up: achieved ≥ 95 %% of the target rate, and every event delivered within %s (-max-drain) of the last request's answer.", s.MaxDrain)
	if n := len(s.Rates) - len(r.phasesOf("rate")); n > 0 {
		fmt.Fprintf(&b, " The %d highest fixed rates were not run: a lower one did not keep up.", n)
	}
	b.WriteString("\n\n| open loop | target events/s | achieved events/s | latency p50 / p95 / p99 ms | backlog at end | drain ms | kept up |\n|---|--:|--:|--:|--:|--:|---|\n")
	for _, p := range r.Phases {
		if o := p.Open; o != nil {
			fmt.Fprintf(&b, "| %s | %.1f | %.1f | %s / %s / %s | %d | %s | %s |\n", p.Name, o.TargetRate, o.AchievedRate,
				fmtMs(p.Latency.P50), fmtMs(p.Latency.P95), fmtMs(p.Latency.P99), o.BacklogAtEnd, fmtMs(o.DrainMs), yesNo(o.KeptUp))
		}
	}

	if n := r.Noisy; n != nil {
		fmt.Fprintf(&b, "\nNoisy neighbour: %.1f healthy events/s alone, then with %.1f events/s more (%d events) to a webhook whose receiver never answers (%d attempts reached it during the phase, each costing DELIVERY_TIMEOUT %s; in steady state its first attempts hold about %.0f local-activity and workflow-task slots). Healthy p99: **%s ms without, %s ms with, ratio %.2f** (goal ≤ 1.5).\n",
			n.HealthyRate, n.BlackholedRate, n.BlackholedEvents, n.BlackholeAttempts, s.DeliveryTimeout, n.FirstAttemptSlots,
			fmtMs(n.BaselineP99), fmtMs(n.NoisyP99), n.Ratio)
	}

	b.WriteString("\n| figure | value |\n|---|---|\n")
	if r.Memory.TemporalPeak > 0 {
		fmt.Fprintf(&b, "| Temporal server peak RSS (VmHWM) | %s |\n", mib(r.Memory.TemporalPeak))
	}
	if r.Memory.WorkerPeak > 0 {
		fmt.Fprintf(&b, "| API peak RSS (VmHWM) | %s |\n| worker peak RSS (VmHWM) | %s |\n", mib(r.Memory.APIPeak), mib(r.Memory.WorkerPeak))
	}
	fmt.Fprintf(&b, "| bench process peak RSS (receivers, producers, floor workers) | %s |\n", mib(r.Memory.BenchPeak))
	for _, p := range r.Phases {
		if p.HistoryEventsPerEvent > 0 {
			fmt.Fprintf(&b, "| history events per event, %s | %.1f (%.2f per delivery) |\n", p.Name, p.HistoryEventsPerEvent, p.HistoryEventsPerDelivery)
		}
	}
	fmt.Fprintf(&b, "| connections opened to the receivers, for %d requests | %d |\n", sum(r.Phases, func(p *phaseResult) int { return p.Deliveries }), r.ReceiverConns)
	fmt.Fprintf(&b, "| duplicate deliveries / failed ingests / stray arrivals | %d / %d / %d |\n", sum(r.Phases, func(p *phaseResult) int { return p.Duplicates }), sum(r.Phases, func(p *phaseResult) int { return p.Failed }), r.StrayArrivals)

	b.WriteString("\n| goal | measured | met |\n|---|---|---|\n")
	for _, g := range r.Goals {
		met := "not measured"
		if g.Met != nil {
			met = yesNo(*g.Met)
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", g.Goal, g.Measured, met)
	}
	return b.String()
}

// cpu formats a process's CPU per event, or "—" when the process was not
// measured (-target without -pids).
func (r *report) cpu(name string, v float64) string {
	if len(r.Processes[name]) == 0 {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func (r *report) phasesOf(kind string) []*phaseResult {
	var ps []*phaseResult
	for _, p := range r.Phases {
		if p.Kind == kind {
			ps = append(ps, p)
		}
	}
	return ps
}

func sum(ps []*phaseResult, f func(*phaseResult) int) int {
	n := 0
	for _, p := range ps {
		n += f(p)
	}
	return n
}

func fmtMs(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func ratio(v float64) string {
	switch {
	case v == 0:
		return ""
	case v < 0.1:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func rssTriple(p *phaseResult) string {
	if p.WorkerPeakRSS == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f / %.0f / %.0f", float64(p.TemporalPeakRSS)/(1<<20), float64(p.APIPeakRSS)/(1<<20), float64(p.WorkerPeakRSS)/(1<<20))
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func readMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	m.LoadAvg = []string{loadAvg()}
	kb, _ := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64)
	m.MemTotal = kb << 10
	return m
}

// procField returns the value of the first "key: value" line of a /proc
// file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

func readVersions() versions {
	v := versions{Go: runtime.Version(), Service: webhooks.Version, TemporalServer: "unknown", TemporalSDK: "unknown"}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			switch dep.Path {
			case "go.temporal.io/server":
				v.TemporalServer = dep.Version
			case "go.temporal.io/sdk":
				v.TemporalSDK = dep.Version
			}
		}
	}
	return v
}
