package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/workflows"
)

const (
	// warmupEvents open the connections and load the worker's code paths
	// before anything is measured.
	warmupEvents = 20
	// maxInFlight bounds the open loop's outstanding ingest requests; an
	// API slower than the schedule then makes sends late, which shows as an
	// achieved rate below the target.
	maxInFlight = 256
	// stall fails a phase when no delivery arrives for that long.
	stall = time.Minute
	// historySample is how many workflows per level have their history read.
	historySample = 10
	// closeWaitSample is how many of a phase's last events have their
	// workflows waited for before its CPU is read.
	closeWaitSample = 8
	// closeReaders is how many workflows' close times are read at once.
	closeReaders = 8
)

// settle pauses for s.Settle. Each workflow task has a start-to-close
// timeout timer that fires 10 s after the task started, long after our
// workflows closed, and the server reads the workflow's state to drop it
// (from SQLite once the state has left its cache). Phases of about 8 s
// back to back made each one pay for the timers of the one before: the
// floors' timers took 14 % of the server's CPU during closed f1 of the
// third round, none in the first, and closed f1's CPU per event rose from
// round to round (docs/performance.md, seventh pass).
func settle(ctx context.Context, s settings) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(s.Settle):
		return nil
	}
}

// sendFunc sends one event (ingests it, starts a workflow, posts it).
type sendFunc func(ctx context.Context, id string) error

// runPhases runs every measurement in order; see docs/performance.md.
func runPhases(ctx context.Context, e *env, s settings, r *report, out io.Writer) error {
	ingest := newProducer(e, s.Concurrency)
	if _, err := e.closed(ctx, out, "warm-up", 1, warmupEvents, s, ingest.to(e.clients[1]), serviceWorkflows(e.clients[1])); err != nil {
		return err
	}
	// The floors run right after the closed loop they are compared with,
	// on the same Temporal server, count and concurrency; the rounds
	// interleave, so that a drift of the machine's speed during the run
	// reaches the loop and its floors alike.
	var f1Rates []float64
	for round := 1; round <= s.Rounds; round++ {
		if err := settle(ctx, s); err != nil {
			return err
		}
		f1, err := e.closed(ctx, out, roundName("closed f1", round), 1, s.Events, s, ingest.to(e.clients[1]), serviceWorkflows(e.clients[1]))
		if err != nil {
			return err
		}
		f1.Round = round
		r.add(f1)
		f1Rates = append(f1Rates, f1.EventsPerSec)
		if err := settle(ctx, s); err != nil {
			return err
		}
		floor, err := e.temporalFloor(ctx, s, out, roundName("temporal floor", round), f1.Events)
		if err != nil {
			return err
		}
		floor.Round = round
		r.add(floor)
		if err := settle(ctx, s); err != nil {
			return err
		}
		if floor, err = e.eagerFloor(ctx, s, out, roundName("eager floor", round), f1.Events); err != nil {
			return err
		}
		floor.Round = round
		r.add(floor)
	}
	if err := settle(ctx, s); err != nil {
		return err
	}
	floor, err := e.httpFloor(ctx, s, out, r.phase("closed f1").Events)
	if err != nil {
		return err
	}
	r.add(floor)
	rate := s.Rate
	if rate <= 0 {
		rate = median(f1Rates) / 2
	}
	open, err := e.open(ctx, out, "open f1", 1, rate, s.OpenDuration, ingest.to(e.clients[1]), serviceWorkflows(e.clients[1]))
	if err != nil {
		return err
	}
	r.add(open)
	for _, n := range fanouts[1:] {
		closed, err := e.closed(ctx, out, fmt.Sprintf("closed f%d", n), n, s.Events/n, s, ingest.to(e.clients[n]), serviceWorkflows(e.clients[n]))
		if err != nil {
			return err
		}
		r.add(closed)
		open, err := e.open(ctx, out, fmt.Sprintf("open f%d", n), n, closed.EventsPerSec/2, s.OpenDuration, ingest.to(e.clients[n]), serviceWorkflows(e.clients[n]))
		if err != nil {
			return err
		}
		r.add(open)
	}
	// Fixed rates at fan-out 1, lowest first: past the first rate that
	// does not keep up, higher ones only queue longer.
	for _, rate := range s.Rates {
		p, err := e.open(ctx, out, fmt.Sprintf("open f1 at %g/s", rate), 1, rate, s.RateDuration, ingest.to(e.clients[1]), serviceWorkflows(e.clients[1]))
		if err != nil {
			return err
		}
		p.Kind = "rate"
		r.add(p)
		if !p.Open.KeptUp {
			fmt.Fprintf(out, "bench: %s did not keep up; higher rates skipped\n", p.Name)
			break
		}
	}
	// Last: the black-holed attempts still hold the worker's slots until
	// their timeout after the phase.
	if s.NoisyRate > 0 {
		if err := e.noisy(ctx, out, s, r, ingest); err != nil {
			return err
		}
	}
	for _, p := range r.Phases {
		var ids []string
		switch p.Kind {
		case "closed":
			ids = workflowIDs(e.clients[p.Fanout], p.eventIDs)
		case "temporal floor", "eager floor":
			ids = workflowIDs("", p.eventIDs) // the event id is the workflow id
		default:
			continue
		}
		if p.HistoryEventsPerEvent, err = e.historySize(ctx, ids); err != nil {
			return err
		}
		p.HistoryEventsPerDelivery = p.HistoryEventsPerEvent / float64(p.Fanout)
	}
	return nil
}

// roundName names round n of a repeated phase: the first keeps the plain
// name, which the other phases and the goals refer to.
func roundName(name string, n int) string {
	if n == 1 {
		return name
	}
	return fmt.Sprintf("%s, round %d", name, n)
}

// closed runs n events through send from s.Concurrency producers, each
// sending its next event as soon as the last one is answered, for at most
// s.ClosedTime, then waits until all are delivered.
func (e *env) closed(ctx context.Context, out io.Writer, name string, fanout, n int, s settings, send sendFunc, workflowOf func(string) string) (*phaseResult, error) {
	t := newTracker(name, fanout)
	prefix := e.runID + "-" + sanitize(name)
	return e.phase(ctx, out, t, "closed", n, workflowOf, func() {
		var next atomic.Int64
		var wg sync.WaitGroup
		stop := time.Now().Add(s.ClosedTime)
		for range s.Concurrency {
			wg.Go(func() {
				for ctx.Err() == nil && time.Now().Before(stop) {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					id := fmt.Sprintf("%s-%06d", prefix, i)
					_ = t.send(ctx, id, func(ctx context.Context) error { return send(ctx, id) })
				}
			})
		}
		wg.Wait()
	})
}

// open sends events on a fixed schedule of rate per second for d, whatever
// the answers, then waits until all are delivered.
func (e *env) open(ctx context.Context, out io.Writer, name string, fanout int, rate float64, d time.Duration, send sendFunc, workflowOf func(string) string) (*phaseResult, error) {
	t := newTracker(name, fanout)
	prefix := e.runID + "-" + sanitize(name)
	rate = max(rate, 0.1) // a floor for a rate derived from a tiny closed loop
	p, err := e.phase(ctx, out, t, "open", scheduled(rate, d), workflowOf, func() {
		schedule(ctx, rate, d, func(i int) {
			id := fmt.Sprintf("%s-%06d", prefix, i)
			_ = t.send(ctx, id, func(ctx context.Context) error { return send(ctx, id) })
		})
	})
	if p != nil {
		// Kept up: the API took the schedule (95 % allows for timer
		// slack), and every event was delivered within -max-drain of the
		// last answer: no backlog built up.
		p.Open.TargetRate = rate
		p.Open.KeptUp = p.Open.AchievedRate >= 0.95*rate && p.Open.DrainMs <= ms(e.maxDrain)
	}
	return p, err
}

// scheduled is how many events a schedule of rate per second for d sends.
func scheduled(rate float64, d time.Duration) int {
	return max(2, int(rate*d.Seconds()+0.5))
}

// schedule calls send(i) for each event of a schedule of rate per second
// for d, each in its own goroutine, at most maxInFlight at a time, and
// returns when all returned.
func schedule(ctx context.Context, rate float64, d time.Duration, send func(i int)) {
	interval := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range scheduled(rate, d) {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			send(i)
		})
	}
	wg.Wait()
}

// noisy is the noisy-neighbour measure (issue 8): the healthy half of
// -noisy-rate alone ("noisy baseline"), then the same healthy schedule with
// as many events again to the black-holed webhook ("noisy"), whose every
// attempt costs the worker DELIVERY_TIMEOUT. Only the healthy events are
// tracked; the black-holed workflows are terminated after the phase.
func (e *env) noisy(ctx context.Context, out io.Writer, s settings, r *report, ingest *producer) error {
	healthy := s.NoisyRate / 2
	base, err := e.open(ctx, out, "noisy baseline", 1, healthy, s.NoisyDuration, ingest.to(e.clients[1]), serviceWorkflows(e.clients[1]))
	if err != nil {
		return err
	}
	base.Kind = "noisy"
	r.add(base)

	blackhole := ingest.to(e.blackholeClient)
	prefix := e.runID + "-noisy-blackhole"
	attempts := e.recv.blackholed.Load()
	var accepted []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Go(func() {
		schedule(ctx, healthy, s.NoisyDuration, func(i int) {
			id := fmt.Sprintf("%s-%06d", prefix, i)
			if blackhole(ctx, id) == nil {
				mu.Lock()
				accepted = append(accepted, id)
				mu.Unlock()
			}
		})
	})
	p, err := e.open(ctx, out, "noisy", 1, healthy, s.NoisyDuration, ingest.to(e.clients[1]), serviceWorkflows(e.clients[1]))
	wg.Wait()
	attempts = e.recv.blackholed.Load() - attempts
	// Stop the black-holed workflows' retries (with -target they would go
	// on for the target's whole retry schedule).
	for _, id := range accepted {
		_ = e.temporal.TerminateWorkflow(ctx, workflows.WorkflowID(e.blackholeClient, id), "", "bench: noisy neighbour done")
	}
	if err != nil {
		return err
	}
	p.Kind = "noisy"
	r.add(p)
	r.Noisy = &noisyResult{
		HealthyRate:       healthy,
		BlackholedRate:    healthy,
		BlackholedEvents:  len(accepted),
		BlackholeAttempts: attempts,
		BaselineP99:       base.Latency.P99,
		NoisyP99:          p.Latency.P99,
	}
	if base.Latency.P99 > 0 {
		r.Noisy.Ratio = p.Latency.P99 / base.Latency.P99
	}
	return nil
}

// phase makes t the receivers' current phase, drives the load, waits for
// every delivery and, when its events have workflows (workflowOf not nil),
// for those to close, and computes the figures. A phase ends when both
// happened: a workflow's work after its deliveries (the task that records
// them, the visibility record) is part of what the phase costs and of the
// rate it sustains. For fan-out 1 that adds milliseconds; at fan-out 100,
// recording 100 attempts is most of the server's work, and a phase that
// ended at the last delivery measured a burst the next phase could not
// sustain.
func (e *env) phase(ctx context.Context, out io.Writer, t *tracker, kind string, n int, workflowOf func(eventID string) string, drive func()) (*phaseResult, error) {
	e.recv.current.Store(t)
	defer e.recv.current.Store(nil)
	mem := e.startSampler()
	cpuBefore := e.cpuTimes()
	stopProgress := showProgress(out, t, n)
	drive()
	scheduleEnd, atEnd := time.Now(), t.progress()
	err := t.waitDelivered(ctx, stall)
	if err == nil && workflowOf != nil {
		// The last events sent close last, near enough: waiting for them
		// keeps the CPU window free of the bench's reads of every workflow,
		// made below.
		_, err = e.lastClose(ctx, t.lastIDs(closeWaitSample), workflowOf)
	}
	stopProgress()
	rss := mem.stop()
	cpuAfter := e.cpuTimes()
	if err != nil {
		return nil, err
	}
	p := t.result(kind)
	if workflowOf != nil {
		closedAt, err := e.lastClose(ctx, p.eventIDs, workflowOf)
		if err != nil {
			return nil, err
		}
		p.endAt(t, closedAt)
	}
	perEvent := func(i int) float64 { return ms(cpuAfter[i]-cpuBefore[i]) / float64(max(1, p.Events)) }
	p.CPU = cpuUse{Bench: perEvent(0), Temporal: perEvent(1), API: perEvent(2), Worker: perEvent(3), Postgres: perEvent(4)}
	p.CPU.Total = p.CPU.Bench + p.CPU.Temporal + p.CPU.API + p.CPU.Worker
	p.CPU.TotalWithPostgres = p.CPU.Total + p.CPU.Postgres
	p.TemporalPeakRSS, p.APIPeakRSS, p.WorkerPeakRSS = rss[0], rss[1], rss[2]
	if kind == "open" {
		t.mu.Lock()
		p.Open = &openLoop{
			BacklogAtEnd: atEnd.accepted - atEnd.complete,
			DrainMs:      max(0, ms(t.lastArrival.Sub(scheduleEnd))),
			// n sends span n-1 intervals.
			AchievedRate: float64(t.sent-1) / t.lastSent.Sub(t.firstSent).Seconds(),
		}
		t.mu.Unlock()
	}
	return p, nil
}

// showProgress prints one line a second on out until the returned func is
// called.
func showProgress(out io.Writer, t *tracker, total int) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last := 0
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			p := t.progress()
			fmt.Fprintf(out, "bench: %-14s sent %d/%d, accepted %d, delivered %d events (%d deliveries), %d deliveries/s\n",
				t.name, p.sent, total, p.accepted, p.complete, p.deliveries, p.deliveries-last)
			last = p.deliveries
		}
	})
	return func() { close(done); wg.Wait() }
}

// producer ingests events through the API, as an SMS platform would.
type producer struct {
	http *http.Client
	url  string
	user string
	pass string
}

func newProducer(e *env, concurrency int) *producer {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Keep a connection per producer and per open-loop request in flight,
	// so that no request pays for a new connection.
	transport.MaxIdleConnsPerHost = max(concurrency, maxInFlight)
	return &producer{
		http: &http.Client{Transport: transport, Timeout: 30 * time.Second},
		url:  e.apiURL + "/api/v1/events",
		user: e.ingestUser,
		pass: e.ingestPass,
	}
}

// to returns the sendFunc that ingests events of clientID.
func (p *producer) to(clientID string) sendFunc {
	return func(ctx context.Context, id string) error {
		body := map[string]any{"clientId": clientID, "event": event(id)}
		return postJSON(ctx, p.http, p.url, p.user, p.pass, body, http.StatusAccepted)
	}
}

// event is the payload of one bench event, of the size of a short SMS.
func event(id string) map[string]string {
	return map[string]string{
		"name":        string(webhooks.IncomingSmsReceived),
		"eventId":     id,
		"to":          "+15550001000",
		"from":        "+15550002000",
		"triggerType": "Inbound",
		"message":     "Hello from the load command: is my appointment still on for Tuesday?",
		"dateTime":    time.Now().UTC().Format(time.RFC3339),
	}
}

func eventJSON(id string) []byte {
	data, _ := json.Marshal(event(id)) // a map of strings always marshals
	return data
}

// historySize returns the mean number of events in the histories of ids,
// closed workflows (a phase ends when its workflows have closed).
func (e *env) historySize(ctx context.Context, ids []string) (float64, error) {
	total := 0
	for _, id := range ids {
		it := e.temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			if _, err := it.Next(); err != nil {
				return 0, fmt.Errorf("history of %s: %w", id, err)
			}
			total++
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return float64(total) / float64(len(ids)), nil
}

// workflowIDs names the workflows of the first accepted events of a phase.
func workflowIDs(clientID string, eventIDs []string) []string {
	ids := make([]string, 0, historySample)
	for _, id := range eventIDs[:min(historySample, len(eventIDs))] {
		if clientID != "" {
			id = workflows.WorkflowID(clientID, id)
		}
		ids = append(ids, id)
	}
	return ids
}

// sanitize turns a phase name into a piece of an event id.
func sanitize(name string) string {
	return strings.NewReplacer(" ", "-", "/", "-").Replace(name)
}

// serviceWorkflows names the workflow of an event of clientID.
func serviceWorkflows(clientID string) func(eventID string) string {
	return func(eventID string) string { return workflows.WorkflowID(clientID, eventID) }
}

// lastClose waits for the workflow of each event to close (at most 30 s
// each) and returns the latest close time, as the server recorded it.
func (e *env) lastClose(ctx context.Context, eventIDs []string, workflowOf func(string) string) (time.Time, error) {
	var (
		mu       sync.Mutex
		last     time.Time
		firstErr error
		wg       sync.WaitGroup
	)
	ids := make(chan string)
	for range closeReaders {
		wg.Go(func() {
			for id := range ids {
				closedAt, err := e.closeTime(ctx, workflowOf(id))
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if closedAt.After(last) {
					last = closedAt
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range eventIDs {
		ids <- id
	}
	close(ids)
	wg.Wait()
	return last, firstErr
}

// closeTime waits for workflow id to close and returns when it did.
func (e *env) closeTime(ctx context.Context, id string) (time.Time, error) {
	for range 2 {
		d, err := e.temporal.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return time.Time{}, fmt.Errorf("describe workflow %s: %w", id, err)
		}
		info := d.GetWorkflowExecutionInfo()
		if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return info.GetCloseTime().AsTime(), nil
		}
		// Bounded, so that a workflow that does not close is reported
		// instead of hanging the run.
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = e.temporal.GetWorkflow(waitCtx, id, "").Get(waitCtx, nil)
		cancel()
		if err != nil {
			return time.Time{}, fmt.Errorf("workflow %s (status %s) did not close 30s after its deliveries arrived: %w", id, info.GetStatus(), err)
		}
	}
	return time.Time{}, fmt.Errorf("workflow %s: still running after it closed", id)
}
