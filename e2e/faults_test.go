package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/metrics"
	"github.com/ocelot/webhooks/internal/stack"
	"github.com/ocelot/webhooks/worker"
	"github.com/ocelot/webhooks/workflows"
)

// tcpProxy forwards TCP connections to a backend until it is cut: then it
// refuses new connections and drops the open ones, as a network partition
// or a crashed server would. restore undoes it on the same address.
type tcpProxy struct {
	t       *testing.T
	addr    string
	backend string

	mu    sync.Mutex
	ln    net.Listener // nil while cut
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newTCPProxy(t *testing.T, backend string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, addr: ln.Addr().String(), backend: backend, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve(ln)
	t.Cleanup(func() {
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(ln, c)
	}
}

func (p *tcpProxy) forward(ln net.Listener, c net.Conn) {
	defer p.wg.Done()
	b, err := net.Dial("tcp", p.backend)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln != ln { // cut since this connection was accepted
		p.mu.Unlock()
		c.Close()
		b.Close()
		return
	}
	p.conns[c], p.conns[b] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, b)
	p.mu.Unlock()
}

// cut refuses new connections and drops every open one.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// restore accepts connections again, on the same address.
func (p *tcpProxy) restore() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was just released; rebinding can race the kernel
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go p.serve(ln)
}

// databaseBehindProxy creates a test database and returns its URL, the
// same URL through a TCP proxy, and the proxy that can cut it.
func databaseBehindProxy(t *testing.T) (direct, viaProxy string, proxy *tcpProxy) {
	t.Helper()
	direct = dbtest.URL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy = newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	return direct, u.String(), proxy
}

// assertNoWorkflow checks that nothing of an event reached Temporal.
func assertNoWorkflow(t *testing.T, e *env, workflowID string) {
	t.Helper()
	_, err := e.stack.Client.DescribeWorkflowExecution(context.Background(), workflowID, "")
	var notFound *serviceerror.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("workflow %s: got %v, want none (the event was refused, so nothing may be half-accepted)", workflowID, err)
	}
}

// PostgreSQL cut while events arrive: ingestion answers 503 (the producer
// retries) and /readyz 503; nothing is half-accepted. Once it is back, the
// same request is accepted once and delivered once.
func TestIngestWhilePostgresIsCut(t *testing.T) {
	_, viaProxy, proxy := databaseBehindProxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := db.Open(ctx, viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cipher, err := db.NewCipher(dbtest.TestKey())
	if err != nil {
		t.Fatal(err)
	}
	e := startWith(t, testConfig(), db.NewStore(conn, cipher), stack.Options{})
	clientID, key := e.client("acme")
	rcv := newReceiver(t)
	e.createWebhook(clientID, key, hookBody("hook", rcv.URL, "PhoneNumber.optedIn"))

	const eventID = "evt-postgres-cut"
	event := map[string]any{"name": "PhoneNumber.optedIn", "eventId": eventID, "phoneNumber": "+15550001", "triggerType": "Inbound"}
	body := map[string]any{"clientId": clientID, "event": event}

	proxy.cut()
	if status, data := e.do("POST", "/api/v1/events", ingestUser, ingestPass, body); status != http.StatusServiceUnavailable {
		t.Errorf("ingest with PostgreSQL cut: got %d %s, want 503", status, data)
	}
	if status, data := e.do("GET", "/readyz", "", "", nil); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with PostgreSQL cut: got %d %s, want 503", status, data)
	}
	assertNoWorkflow(t, e, workflows.WorkflowID(clientID, eventID))

	proxy.restore()
	waitFor(t, "/readyz to answer 200", func() bool {
		status, _ := e.do("GET", "/readyz", "", "", nil)
		return status == http.StatusOK
	})
	first := e.ingest(clientID, "", event)
	again := e.ingest(clientID, "", event) // a producer's duplicate
	if again.WorkflowID != first.WorkflowID {
		t.Errorf("duplicate: got workflow %s, want %s", again.WorkflowID, first.WorkflowID)
	}
	r := e.result(first.WorkflowID)
	if len(r.Deliveries) != 1 || r.Deliveries[0].State != workflows.StateDelivered {
		t.Fatalf("got %s, want hook delivered", states(r))
	}
	if got := rcv.countOf(eventID); got != 1 {
		t.Errorf("receiver got the event %d times, want once", got)
	}
}

// PostgreSQL cut from the worker (the API still reaches it, so events are
// accepted) while an event is being resolved, while a POST is in flight
// (its log write fails) and while a delivery waits for its retry: each
// step fails and is retried by Temporal until PostgreSQL is back, then
// every event is delivered. A POST whose log write failed is made again
// (at-least-once); duplicates are counted.
func TestPostgresCutFromTheWorker(t *testing.T) {
	databaseURL, viaProxy, proxy := databaseBehindProxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cipher, err := db.NewCipher(dbtest.TestKey())
	if err != nil {
		t.Fatal(err)
	}
	open := func(u string) *db.Store {
		conn, err := db.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return db.NewStore(conn, cipher)
	}
	cfg := testConfig(0, 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond)
	e := startWith(t, cfg, open(databaseURL), stack.Options{NoWorker: true})
	w := worker.New(e.stack.Client, app.Activities(cfg, open(viaProxy), metrics.New()), worker.Options{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	clientID, key := e.client("acme")
	held := newAnswering(t, 200)
	held.hold = make(chan struct{})
	flaky := newReceiver(t)
	flaky.failFirst = true
	plain := newReceiver(t)
	e.createWebhook(clientID, key, hookBody("held", held.URL, "OutboundSms.delivered"))
	e.createWebhook(clientID, key, hookBody("flaky", flaky.URL, "PhoneNumber.optedOut"))
	e.createWebhook(clientID, key, hookBody("plain", plain.URL, "PhoneNumber.optedIn"))

	// A POST in flight and a delivery waiting for its retry when the cut
	// comes.
	inFlight := e.ingest(clientID, "", map[string]any{"name": "OutboundSms.delivered", "to": "+1", "from": "+2", "triggerType": "Outbound", "message": "m"})
	waiting := e.ingest(clientID, "", map[string]any{"name": "PhoneNumber.optedOut", "phoneNumber": "+1", "triggerType": "Inbound"})
	waitFor(t, "the POST held and the first attempt failed", func() bool {
		return len(held.requests()) == 1 && len(flaky.requests()) == 1
	})
	proxy.cut()
	cutAt := time.Now()
	close(held.hold) // the answer arrives; logging it fails
	// Accepted while the worker cannot resolve it.
	resolving := e.ingest(clientID, "", map[string]any{"name": "PhoneNumber.optedIn", "phoneNumber": "+1", "triggerType": "Inbound"})
	// The outage itself: how long PostgreSQL stays away is the fault being
	// injected, not a wait for something (the worker's failing tries are
	// visible nowhere outside it). 3 s spans several of Temporal's retries.
	const outage = 3 * time.Second
	time.Sleep(outage)
	if n := len(plain.requests()); n != 0 {
		t.Errorf("the event resolved while PostgreSQL was cut reached its receiver %d times", n)
	}
	proxy.restore()

	tl := tally{}
	for _, c := range []struct {
		a   accepted
		rcv func(string) int
	}{{inFlight, func(id string) int { return countHeader(held.requests(), id) }}, {waiting, flaky.countOf}, {resolving, plain.countOf}} {
		r := e.result(c.a.WorkflowID)
		n := c.rcv(c.a.EventID)
		tl.sent += n
		if len(r.Deliveries) != 1 || r.Deliveries[0].State != workflows.StateDelivered {
			tl.lost++
			t.Errorf("event %s: got %s, want delivered", c.a.EventID, states(r))
			continue
		}
		tl.delivered++
		tl.duplicated += n - r.Deliveries[0].Attempts
	}
	t.Logf("PostgreSQL cut from the worker for %s (during resolution, a POST's log write and a retry wait): %s; all delivered %.1fs after the cut", outage, tl, time.Since(cutAt).Seconds())
	list := e.deliveries(clientID, key, "held", "")
	if len(list) != 1 || list[0].State != "delivered" {
		t.Fatalf("log of held: got %+v, want one delivered delivery", list)
	}
}
