package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// receiver is the HTTP endpoint every webhook of the run points at:
// /f<fan-out>/<index> for the service's deliveries, /floor/0 for the HTTP
// floor. It stamps each arrival with this process's clock, so latencies are
// differences of one clock, and answers 200 at once. /blackhole/0, the
// noisy neighbour's webhook, never answers: it holds each request until the
// sender gives up (the worker's DELIVERY_TIMEOUT).
type receiver struct {
	URL string
	// localURL reaches the receivers from this process (the HTTP floor).
	localURL string
	srv      *http.Server
	current  atomic.Pointer[tracker]
	// stray counts arrivals of no current phase: a late retry of an earlier
	// phase would show here, not inflate a phase's figures.
	stray atomic.Int64
	// conns counts connections opened to the receivers: far fewer than
	// deliveries means the worker reuses its connections.
	conns atomic.Int64
	// blackholed counts requests to /blackhole/: attempts that each cost
	// the sender its whole timeout.
	blackholed atomic.Int64
	quit       chan struct{} // closed by close, to release held requests
}

// startReceiver listens on addr; the webhooks point at url, or at the
// listening address when url is "".
func startReceiver(addr, url string) (*receiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	local := *ln.Addr().(*net.TCPAddr) // a copy: the listener's own is shared
	if local.IP.IsUnspecified() {
		local.IP = net.IPv4(127, 0, 0, 1)
	}
	localURL := "http://" + local.String()
	if url == "" {
		url = localURL
	}
	r := &receiver{URL: strings.TrimSuffix(url, "/"), localURL: localURL, quit: make(chan struct{})}
	r.srv = &http.Server{
		Handler:           http.HandlerFunc(r.handle),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, state http.ConnState) {
			if state == http.StateNew {
				r.conns.Add(1)
			}
		},
	}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, 1<<20))
	if strings.HasPrefix(req.URL.Path, "/blackhole/") {
		// The body is read, so the request's context ends when the sender
		// closes the connection.
		r.blackholed.Add(1)
		select {
		case <-req.Context().Done():
		case <-r.quit:
		}
		return
	}
	index, _ := strconv.Atoi(req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:])
	t := r.current.Load()
	if t == nil || !t.arrive(req.Header.Get("webhook-id"), index, at) {
		r.stray.Add(1)
	}
	w.WriteHeader(http.StatusOK)
}

func (r *receiver) close() {
	close(r.quit)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}

// tracker follows one phase: when each event was sent, when its ingestion
// was answered, and when each of its deliveries arrived.
type tracker struct {
	name   string
	fanout int

	mu          sync.Mutex
	events      map[string]*eventRecord
	ids         []string // accepted event ids, in order
	sent        int
	accepted    int
	failed      int
	lastError   string
	complete    int // events whose every delivery arrived
	deliveries  int
	duplicates  int
	firstSent   time.Time
	lastSent    time.Time
	lastAnswer  time.Time
	lastArrival time.Time
	ingest      []time.Duration // per accepted request, first try to answer
	latency     []time.Duration // per delivery, send to arrival
	completion  []time.Duration // per event, send to its last delivery
}

type eventRecord struct {
	sent time.Time
	got  []bool // per webhook index
	n    int
}

// lastIDs returns the ids of the last n accepted events.
func (t *tracker) lastIDs(n int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.ids[max(0, len(t.ids)-n):])
}

func newTracker(name string, fanout int) *tracker {
	return &tracker{name: name, fanout: fanout, events: map[string]*eventRecord{}}
}

// send registers event id before calling do, so that no arrival can beat
// its record, and retries do a few times as a real producer would (the
// same event id again: ingestion is idempotent). Latency counts from the
// first try.
func (t *tracker) send(ctx context.Context, id string, do func(context.Context) error) error {
	start := time.Now()
	t.mu.Lock()
	if t.firstSent.IsZero() {
		t.firstSent = start
	}
	t.sent++
	t.lastSent = start
	t.events[id] = &eventRecord{sent: start, got: make([]bool, t.fanout)}
	t.mu.Unlock()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = do(ctx); err == nil {
			break
		}
		t.mu.Lock()
		t.lastError = err.Error()
		t.mu.Unlock()
		if ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	done := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.failed++
		return err
	}
	t.accepted++
	t.ids = append(t.ids, id)
	t.ingest = append(t.ingest, done.Sub(start))
	if done.After(t.lastAnswer) {
		t.lastAnswer = done
	}
	return nil
}

// arrive records one delivery; false means the event is not this phase's.
func (t *tracker) arrive(id string, index int, at time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.events[id]
	if e == nil || index < 0 || index >= len(e.got) {
		return false
	}
	if e.got[index] {
		t.duplicates++
		return true
	}
	e.got[index] = true
	e.n++
	t.deliveries++
	t.latency = append(t.latency, at.Sub(e.sent))
	if at.After(t.lastArrival) {
		t.lastArrival = at
	}
	if e.n == len(e.got) {
		t.complete++
		t.completion = append(t.completion, at.Sub(e.sent))
	}
	return true
}

// progress is a consistent snapshot of the counters.
type progress struct {
	sent, accepted, failed, complete, deliveries int
}

func (t *tracker) progress() progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return progress{t.sent, t.accepted, t.failed, t.complete, t.deliveries}
}

// waitDelivered waits until every accepted event has all its deliveries,
// failing when nothing arrives for stall.
func (t *tracker) waitDelivered(ctx context.Context, stall time.Duration) error {
	last, lastChange := -1, time.Now()
	for {
		p := t.progress()
		if p.complete >= p.accepted {
			return nil
		}
		if p.deliveries != last {
			last, lastChange = p.deliveries, time.Now()
		}
		if time.Since(lastChange) > stall {
			return errors.New(t.name + ": " + strconv.Itoa(p.accepted-p.complete) + " events not delivered after " + stall.String() + " without progress")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
