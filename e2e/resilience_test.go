package e2e

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/stack"
	"github.com/ocelot/webhooks/worker"
	"github.com/ocelot/webhooks/workflows"
)

// A worker stopped while deliveries wait for their next attempt, and a new
// one started: every delivery completes, none is lost or sent elsewhere.
func TestWorkerRestartLosesNothing(t *testing.T) {
	e := start(t, stack.Options{NoWorker: true}, 0, 3*time.Second, 3*time.Second)
	first := worker.New(e.stack.Client, app.Activities(e.cfg, e.store, nil), worker.Options{})
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	clientID, key := e.client("acme")
	red, blue := newReceiver(t), newReceiver(t)
	red.failFirst, blue.failFirst = true, true
	e.createWebhook(clientID, key, hookBody("red", red.URL, "PhoneNumber.optedIn"))
	e.createWebhook(clientID, key, hookBody("blue", blue.URL, "PhoneNumber.optedIn"))

	const events = 10
	var ids []string
	for i := 0; i < events; i++ {
		a := e.ingest(clientID, "", map[string]any{"name": "PhoneNumber.optedIn", "phoneNumber": "+1", "triggerType": "Inbound"})
		ids = append(ids, a.WorkflowID)
	}
	// Every first attempt fails, so all 20 deliveries wait 3 s for their
	// second attempt: stop the worker then.
	waitFor(t, "first attempts", func() bool { return len(red.requests()) >= events && len(blue.requests()) >= events })
	first.Stop()

	second := worker.New(e.stack.Client, app.Activities(e.cfg, e.store, nil), worker.Options{})
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	for _, id := range ids {
		r := e.result(id)
		if len(r.Deliveries) != 2 {
			t.Fatalf("%s: got %s, want 2 deliveries", id, states(r))
		}
		for _, d := range r.Deliveries {
			if d.State != workflows.StateDelivered {
				t.Errorf("%s: got %s, want both delivered", id, states(r))
			}
		}
	}
	for name, rcv := range map[string]*receiver{"red": red, "blue": blue} {
		seen := map[string]int{}
		for _, req := range rcv.requests() {
			var body struct {
				EventID string `json:"eventId"`
			}
			if err := json.Unmarshal(req.Body, &body); err != nil {
				t.Fatalf("%s: body %s: %v", name, req.Body, err)
			}
			seen[body.EventID]++
		}
		if len(seen) != events {
			t.Errorf("%s got %d distinct events, want %d", name, len(seen), events)
		}
		total := 0
		for _, n := range seen {
			total += n
		}
		if total != 2*events {
			t.Errorf("%s got %d requests, want %d (each event failed once, then delivered)", name, total, 2*events)
		}
	}
}

// With Temporal unreachable, ingestion answers 503 and never 202, and
// nothing is half-accepted; the same request retried once Temporal is back
// is accepted once and delivered once. The API reaches Temporal through a
// proxy that the test cuts; the worker keeps its own connection.
func TestIngestAnswers503WhenTemporalIsDown(t *testing.T) {
	e := start(t, stack.Options{})
	clientID, key := e.client("acme")
	rcv := newReceiver(t)
	e.createWebhook(clientID, key, hookBody("hook", rcv.URL, "PhoneNumber.optedIn"))
	proxy := newTCPProxy(t, e.stack.TemporalAddress)
	proxy.cut()
	cfg := e.cfg
	cfg.TemporalAddress = proxy.addr
	tc, err := app.TemporalClient(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	srv := httptest.NewServer(app.APIHandler(cfg, e.store, &workflows.Starter{Client: tc, StartTimeout: time.Second}, nil, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	const eventID = "evt-temporal-down"
	body := `{"clientId":"acme","event":{"name":"PhoneNumber.optedIn","eventId":"` + eventID + `","phoneNumber":"+1","triggerType":"Inbound"}}`
	type answerJSON struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
		WorkflowID string `json:"workflowId"`
	}
	post := func() (int, answerJSON) {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/events", strings.NewReader(body))
		req.SetBasicAuth(ingestUser, ingestPass)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var answer answerJSON
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		return resp.StatusCode, answer
	}

	status, answer := post()
	if status != http.StatusServiceUnavailable || answer.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("got %d %+v, want 503", status, answer)
	}
	assertNoWorkflow(t, e, workflows.WorkflowID(clientID, eventID))

	// Back: the producer retries the same request until it is accepted
	// (503s while the client reconnects, with its backoff of up to 10 s).
	proxy.restore()
	var workflowID string
	waitFor(t, "ingestion accepted once Temporal is back", func() bool {
		status, answer := post()
		if status != http.StatusAccepted && status != http.StatusServiceUnavailable {
			t.Fatalf("got %d %+v, want 202 or 503", status, answer)
		}
		workflowID = answer.WorkflowID
		return status == http.StatusAccepted
	})
	if status, answer := post(); status != http.StatusAccepted || answer.WorkflowID != workflowID {
		t.Errorf("duplicate: got %d %+v, want 202 with workflow %s", status, answer, workflowID)
	}
	r := e.result(workflowID)
	if len(r.Deliveries) != 1 || r.Deliveries[0].State != workflows.StateDelivered {
		t.Fatalf("got %s, want hook delivered", states(r))
	}
	if got := rcv.countOf(eventID); got != 1 {
		t.Errorf("receiver got the event %d times, want once", got)
	}
}
