// Package e2e runs the service end to end with every part real: an embedded
// Temporal server, the worker, the API over HTTP, PostgreSQL and HTTP
// receivers.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/internal/codec"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/stack"
	"github.com/ocelot/webhooks/workflows"
)

const (
	ingestUser = "ingest"
	ingestPass = "ingest-secret"
	// codecToken is the test stacks' CODEC_AUTH_TOKEN.
	codecToken = "codec-operator-token"
)

// testPayloadKeys encrypt the test stacks' Temporal payloads, as
// PAYLOAD_KEYS does in production.
var testPayloadKeys = []codec.Key{{ID: "test-1", Secret: bytes.Repeat([]byte{7}, codec.KeySize)}}

// testConfig is the configuration of a test stack: loopback receivers
// allowed, a retry schedule of seconds.
func testConfig(schedule ...time.Duration) config.Config {
	if len(schedule) == 0 {
		schedule = []time.Duration{0, 300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
	}
	return config.Config{
		HTTPAddr:          "127.0.0.1:0",
		TemporalNamespace: "default",
		IngestUsername:    ingestUser,
		IngestPassword:    ingestPass,
		RetrySchedule:     schedule,
		AllowedNetworks:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		DeliveryTimeout:   5 * time.Second,
		PayloadKeys:       testPayloadKeys,
		CodecAuthToken:    codecToken,
	}
}

type env struct {
	t     *testing.T
	store *db.Store
	stack *stack.Stack
	cfg   config.Config
	// failedIngests counts the tries of ingestRetrying answered 503 or
	// refused, as they happen.
	failedIngests atomic.Int64
}

func start(t *testing.T, opts stack.Options, schedule ...time.Duration) *env {
	t.Helper()
	return startWith(t, testConfig(schedule...), dbtest.NewStore(t), opts)
}

// startWith starts a test stack of cfg on store, for a test that configures
// more than the schedule or reaches PostgreSQL its own way (through a proxy
// it can cut, or as another process does).
func startWith(t *testing.T, cfg config.Config, store *db.Store, opts stack.Options) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, cfg, store, opts)
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close stack: %v", err)
		}
	})
	return &env{t: t, store: store, stack: s, cfg: cfg}
}

// client creates a tenant and returns its id and key.
func (e *env) client(id string) (string, string) {
	e.t.Helper()
	key := webhooks.NewAPIKey()
	if err := e.store.CreateClient(context.Background(), webhooks.Client{ID: id, Name: id, KeyHash: webhooks.HashAPIKey(key)}); err != nil {
		e.t.Fatalf("create client %s: %v", id, err)
	}
	return id, key
}

func (e *env) do(method, path, user, pass string, body any) (int, []byte) {
	e.t.Helper()
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.stack.APIURL+path, reader)
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// createWebhook registers a webhook through the API.
func (e *env) createWebhook(clientID, key string, hook map[string]any) {
	e.t.Helper()
	if status, body := e.do("POST", "/api/v1/webhooks", clientID, key, hook); status != http.StatusCreated {
		e.t.Fatalf("create webhook: got %d %s, want 201", status, body)
	}
}

type accepted struct {
	EventID    string `json:"eventId"`
	WorkflowID string `json:"workflowId"`
}

// ingest posts an event and returns the 202 answer.
func (e *env) ingest(clientID, officeID string, event map[string]any) accepted {
	e.t.Helper()
	body := map[string]any{"clientId": clientID, "event": event}
	if officeID != "" {
		body["officeId"] = officeID
	}
	status, data := e.do("POST", "/api/v1/events", ingestUser, ingestPass, body)
	if status != http.StatusAccepted {
		e.t.Fatalf("ingest: got %d %s, want 202", status, data)
	}
	var a accepted
	if err := json.Unmarshal(data, &a); err != nil || a.WorkflowID == "" {
		e.t.Fatalf("ingest answer %s: %v", data, err)
	}
	return a
}

// result waits for the event's workflow to finish.
func (e *env) result(workflowID string) workflows.DeliverEventResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var r workflows.DeliverEventResult
	if err := e.stack.Client.GetWorkflow(ctx, workflowID, "").Get(ctx, &r); err != nil {
		e.t.Fatalf("workflow %s: %v", workflowID, err)
	}
	return r
}

// request is what a receiver got.
type request struct {
	Body   []byte
	Header http.Header
	Path   string
}

// receiver is a real HTTP endpoint that answers with a scripted status
// (the last repeats) and records every request.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []request
	// failFirst answers 500 to the first request of each event (by its
	// webhook-id header), whatever the script says.
	failFirst bool
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	if len(statuses) == 0 {
		statuses = []int{http.StatusOK}
	}
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, request{Body: body, Header: req.Header.Clone(), Path: req.URL.Path})
		status := r.statuses[min(len(r.got), len(r.statuses))-1]
		if r.failFirst && r.countEvent(req.Header.Get("webhook-id")) == 1 {
			status = http.StatusInternalServerError
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// countEvent counts the requests of one event; the caller holds r.mu.
func (r *receiver) countEvent(eventID string) int {
	n := 0
	for _, got := range r.got {
		if got.Header.Get("webhook-id") == eventID {
			n++
		}
	}
	return n
}

// countOf counts the requests of one event.
func (r *receiver) countOf(eventID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.countEvent(eventID)
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hookBody(id, url string, events ...string) map[string]any {
	return map[string]any{"id": id, "url": url, "matchingEvents": events}
}

func states(r workflows.DeliverEventResult) string {
	var b bytes.Buffer
	for _, d := range r.Deliveries {
		fmt.Fprintf(&b, "%s=%s/%d ", d.WebhookID, d.State, d.Attempts)
	}
	return b.String()
}
func countRequest(query string) *workflowservice.CountWorkflowExecutionsRequest {
	return &workflowservice.CountWorkflowExecutionsRequest{Namespace: "default", Query: query}
}
