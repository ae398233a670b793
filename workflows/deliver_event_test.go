package workflows_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/activities"
	"github.com/ocelot/webhooks/workflows"
)

// memoryStore is an in-memory activities.WebhookStore. The workflow tests
// run the real activities against it and real HTTP receivers, so that a
// webhook deleted or changed between attempts goes through the real re-read.
type memoryStore struct {
	mu    sync.Mutex
	hooks map[int64]webhooks.Webhook
}

func (s *memoryStore) ListWebhooksForEvent(_ context.Context, clientID string, name webhooks.EventName) ([]webhooks.AttemptWebhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []webhooks.AttemptWebhook
	for key := int64(1); key <= int64(len(s.hooks))+10; key++ {
		if w, ok := s.hooks[key]; ok && w.ClientID == clientID && w.Listens(name) {
			out = append(out, webhooks.AttemptWebhook{Webhook: w})
		}
	}
	return out, nil
}

func (s *memoryStore) FindAttemptWebhook(_ context.Context, key int64) (webhooks.AttemptWebhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.hooks[key]
	if !ok {
		return webhooks.AttemptWebhook{}, webhooks.ErrNotFound
	}
	return webhooks.AttemptWebhook{Webhook: w}, nil
}

func (s *memoryStore) update(key int64, change func(*webhooks.Webhook)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.hooks[key]
	change(&w)
	s.hooks[key] = w
}

func (s *memoryStore) delete(key int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.hooks, key)
}

// receiver answers each request with the next status of its script (the
// last one repeats) and counts the requests.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	header   http.Header
	hits     int
	onHit    func(hit int)
}

func newReceiver(t *testing.T, header http.Header, statuses ...int) *receiver {
	r := &receiver{statuses: statuses, header: header}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.hits++
		hit := r.hits
		status := r.statuses[min(hit, len(r.statuses))-1]
		onHit := r.onHit
		r.mu.Unlock()
		if onHit != nil {
			onHit(hit)
		}
		for k, v := range r.header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits
}

type harness struct {
	env   *testsuite.TestWorkflowEnvironment
	store *memoryStore
}

func newHarness(t *testing.T, hooks ...webhooks.Webhook) *harness {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	store := &memoryStore{hooks: map[int64]webhooks.Webhook{}}
	for _, w := range hooks {
		store.hooks[w.Key] = w
	}
	env.RegisterWorkflow(workflows.DeliverEvent)
	env.RegisterActivity(&activities.Activities{
		Store: store,
		HTTP: activities.NewHTTPClient(activities.HTTPOptions{
			Timeout:         2 * time.Second,
			AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		}),
	})
	return &harness{env: env, store: store}
}

func hook(key int64, id, url string) webhooks.Webhook {
	return webhooks.Webhook{
		Key: key, ClientID: "acme", ID: id, URL: url, Active: true,
		MatchingEvents: []webhooks.EventName{webhooks.IncomingSmsReceived},
	}
}

func input() workflows.DeliverEventInput {
	return workflows.DeliverEventInput{
		ClientID: "acme", EventName: string(webhooks.IncomingSmsReceived), EventID: "evt-1",
		Payload:       (`{"name":"IncomingSms.received","eventId":"evt-1","to":"+1","from":"+2","triggerType":"Inbound","message":"hi","dateTime":"2026-11-26T10:00:00Z"}`),
		RetrySchedule: workflows.DefaultRetrySchedule,
	}
}

// run executes the workflow and returns its result and the workflow time it
// took.
func (h *harness) run(t *testing.T, in workflows.DeliverEventInput) (workflows.DeliverEventResult, time.Duration) {
	t.Helper()
	start := h.env.Now()
	h.env.ExecuteWorkflow(workflows.DeliverEvent, in)
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var result workflows.DeliverEventResult
	if err := h.env.GetWorkflowResult(&result); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	return result, h.env.Now().Sub(start)
}

func only(t *testing.T, result workflows.DeliverEventResult) workflows.Delivery {
	t.Helper()
	if len(result.Deliveries) != 1 {
		t.Fatalf("got %d deliveries, want 1: %+v", len(result.Deliveries), result.Deliveries)
	}
	return result.Deliveries[0]
}

func TestDeliverEventOutcomes(t *testing.T) {
	tests := []struct {
		name         string
		statuses     []int
		header       http.Header
		wantState    workflows.DeliveryState
		wantAttempts int
		wantStatus   int
		// workflow time the run may take
		minElapsed, maxElapsed time.Duration
	}{
		{name: "first try", statuses: []int{200}, wantState: workflows.StateDelivered, wantAttempts: 1, wantStatus: 200, maxElapsed: time.Second},
		{name: "503 then success", statuses: []int{503, 204}, wantState: workflows.StateDelivered, wantAttempts: 2, wantStatus: 204,
			minElapsed: 4 * time.Second, maxElapsed: 6*time.Second + time.Second},
		{name: "every attempt fails", statuses: []int{500}, wantState: workflows.StateFailed, wantAttempts: 8, wantStatus: 500,
			// 0+5s+5m+30m+2h+5h+10h+10h = 27h35m5s, each delay ±20 %.
			minElapsed: time.Duration(0.8 * float64(27*time.Hour+35*time.Minute)), maxElapsed: time.Duration(1.2 * float64(27*time.Hour+36*time.Minute))},
		{name: "410 stops at once", statuses: []int{410}, wantState: workflows.StateFailed, wantAttempts: 1, wantStatus: 410, maxElapsed: time.Second},
		{name: "Retry-After beyond the schedule is honoured", statuses: []int{429, 200}, header: http.Header{"Retry-After": {"120"}},
			wantState: workflows.StateDelivered, wantAttempts: 2, wantStatus: 200, minElapsed: 120 * time.Second, maxElapsed: 121 * time.Second},
		{name: "Retry-After is capped by the largest delay", statuses: []int{503, 200}, header: http.Header{"Retry-After": {"999999"}},
			wantState: workflows.StateDelivered, wantAttempts: 2, wantStatus: 200, minElapsed: 10 * time.Hour, maxElapsed: 10*time.Hour + time.Second},
		{name: "redirect is a failure", statuses: []int{302, 200}, header: http.Header{"Location": {"http://example.com/"}},
			wantState: workflows.StateDelivered, wantAttempts: 2, wantStatus: 200, minElapsed: 4 * time.Second, maxElapsed: 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, tt.header, tt.statuses...)
			h := newHarness(t, hook(1, "hook-a", rcv.URL))
			result, elapsed := h.run(t, input())
			d := only(t, result)
			if d.State != tt.wantState || d.Attempts != tt.wantAttempts || d.LastStatusCode != tt.wantStatus {
				t.Errorf("got state %s after %d attempts (status %d), want %s after %d (status %d)",
					d.State, d.Attempts, d.LastStatusCode, tt.wantState, tt.wantAttempts, tt.wantStatus)
			}
			if got := rcv.count(); got != tt.wantAttempts {
				t.Errorf("receiver got %d requests, want %d", got, tt.wantAttempts)
			}
			if elapsed < tt.minElapsed || elapsed > tt.maxElapsed {
				t.Errorf("workflow took %s, want between %s and %s", elapsed, tt.minElapsed, tt.maxElapsed)
			}
		})
	}
}

func TestDeliverEventWebhookChangedMidRetry(t *testing.T) {
	tests := []struct {
		name         string
		change       func(s *memoryStore)
		wantState    workflows.DeliveryState
		wantAttempts int
		wantHits     int
	}{
		{name: "deleted", change: func(s *memoryStore) { s.delete(1) }, wantState: workflows.StateCancelled, wantAttempts: 2, wantHits: 1},
		{name: "deactivated", change: func(s *memoryStore) { s.update(1, func(w *webhooks.Webhook) { w.Active = false }) },
			wantState: workflows.StateCancelled, wantAttempts: 2, wantHits: 1},
		{name: "no longer listening", change: func(s *memoryStore) {
			s.update(1, func(w *webhooks.Webhook) { w.MatchingEvents = []webhooks.EventName{webhooks.PhoneNumberOptedIn} })
		}, wantState: workflows.StateCancelled, wantAttempts: 2, wantHits: 1},
		{name: "renamed", change: func(s *memoryStore) { s.update(1, func(w *webhooks.Webhook) { w.ID = "hook-renamed" }) },
			wantState: workflows.StateDelivered, wantAttempts: 2, wantHits: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, nil, 500, 200)
			h := newHarness(t, hook(1, "hook-a", rcv.URL))
			rcv.onHit = func(hit int) {
				if hit == 1 {
					tt.change(h.store)
				}
			}
			result, _ := h.run(t, input())
			d := only(t, result)
			if d.State != tt.wantState || d.Attempts != tt.wantAttempts {
				t.Errorf("got %s after %d attempts, want %s after %d", d.State, d.Attempts, tt.wantState, tt.wantAttempts)
			}
			if got := rcv.count(); got != tt.wantHits {
				t.Errorf("receiver got %d requests, want %d", got, tt.wantHits)
			}
		})
	}
}

func TestDeliverEventChangedURLUsedFromNextAttempt(t *testing.T) {
	second := newReceiver(t, nil, 200)
	first := newReceiver(t, nil, 500)
	h := newHarness(t, hook(1, "hook-a", first.URL))
	first.onHit = func(int) { h.store.update(1, func(w *webhooks.Webhook) { w.URL = second.URL }) }
	d := only(t, func() workflows.DeliverEventResult { r, _ := h.run(t, input()); return r }())
	if d.State != workflows.StateDelivered || first.count() != 1 || second.count() != 1 {
		t.Errorf("got %s, hits %d then %d, want delivered with 1 hit on each URL", d.State, first.count(), second.count())
	}
}

func TestDeliverEventFailingWebhookDoesNotDelayOthers(t *testing.T) {
	var mu sync.Mutex
	var arrivals []string
	record := func(name string) func(int) {
		return func(int) { mu.Lock(); arrivals = append(arrivals, name); mu.Unlock() }
	}
	failing := newReceiver(t, nil, 500)
	healthy := newReceiver(t, nil, 200)
	failing.onHit, healthy.onHit = record("failing"), record("healthy")
	h := newHarness(t, hook(1, "a-failing", failing.URL), hook(2, "b-healthy", healthy.URL))
	result, _ := h.run(t, input())
	if len(result.Deliveries) != 2 {
		t.Fatalf("got %d deliveries, want 2", len(result.Deliveries))
	}
	got := map[string]workflows.Delivery{}
	for _, d := range result.Deliveries {
		got[d.WebhookID] = d
	}
	if d := got["b-healthy"]; d.State != workflows.StateDelivered || d.Attempts != 1 {
		t.Errorf("healthy: got %s after %d attempts, want delivered after 1", d.State, d.Attempts)
	}
	if d := got["a-failing"]; d.State != workflows.StateFailed || d.Attempts != 8 {
		t.Errorf("failing: got %s after %d attempts, want failed after 8", d.State, d.Attempts)
	}
	mu.Lock()
	defer mu.Unlock()
	healthyAt, secondFailureAt := -1, -1
	failures := 0
	for i, name := range arrivals {
		switch {
		case name == "healthy":
			healthyAt = i
		case name == "failing":
			if failures++; failures == 2 {
				secondFailureAt = i
			}
		}
	}
	if healthyAt < 0 || healthyAt > secondFailureAt {
		t.Errorf("arrivals %v: the healthy receiver must be reached before the failing one's retry", arrivals)
	}
}

func TestDeliverEventNoMatchingWebhook(t *testing.T) {
	other := hook(1, "opt-in-only", "http://127.0.0.1:1/")
	other.MatchingEvents = []webhooks.EventName{webhooks.PhoneNumberOptedIn}
	inactive := hook(2, "inactive", "http://127.0.0.1:1/")
	inactive.Active = false
	foreign := hook(3, "other-client", "http://127.0.0.1:1/")
	foreign.ClientID = "someone-else"
	h := newHarness(t, other, inactive, foreign)
	result, _ := h.run(t, input())
	if len(result.Deliveries) != 0 {
		t.Errorf("got %d deliveries, want none: %+v", len(result.Deliveries), result.Deliveries)
	}
}

func TestDeliverEventOfficeOverride(t *testing.T) {
	main := newReceiver(t, nil, 200)
	office := newReceiver(t, nil, 200)
	w := hook(1, "hook-a", main.URL)
	officeURL, off := office.URL, false
	w.PerOfficeOverrides = []webhooks.OfficeOverride{
		{OfficeID: "north", URL: &officeURL},
		{OfficeID: "south", Active: &off},
	}
	for _, tt := range []struct {
		office               string
		wantMain, wantOffice int
		wantDeliveries       int
	}{
		{office: "", wantMain: 1, wantDeliveries: 1},
		{office: "north", wantMain: 1, wantOffice: 1, wantDeliveries: 1},
		{office: "south", wantMain: 1, wantOffice: 1, wantDeliveries: 0},
	} {
		t.Run("office "+tt.office, func(t *testing.T) {
			h := newHarness(t, w)
			in := input()
			in.OfficeID = tt.office
			result, _ := h.run(t, in)
			if len(result.Deliveries) != tt.wantDeliveries || main.count() != tt.wantMain || office.count() != tt.wantOffice {
				t.Errorf("got %d deliveries, hits main %d office %d; want %d, %d, %d",
					len(result.Deliveries), main.count(), office.count(), tt.wantDeliveries, tt.wantMain, tt.wantOffice)
			}
		})
	}
}

func TestDeliverEventQueryReportsPendingAttempt(t *testing.T) {
	rcv := newReceiver(t, nil, 500, 200)
	h := newHarness(t, hook(1, "hook-a", rcv.URL))
	var pending []workflows.Delivery
	var queryErr error
	h.env.RegisterDelayedCallback(func() {
		value, err := h.env.QueryWorkflow(workflows.DeliveriesQuery)
		if err == nil {
			err = value.Get(&pending)
		}
		queryErr = err
	}, time.Second)
	result, _ := h.run(t, input())
	if queryErr != nil {
		t.Fatalf("query: %v", queryErr)
	}
	if len(pending) != 1 || pending[0].State != workflows.StatePending || pending[0].Attempts != 1 || pending[0].NextAttemptAt == nil {
		t.Fatalf("got %+v, want one pending delivery after 1 attempt with a next attempt time", pending)
	}
	if d := only(t, result); d.State != workflows.StateDelivered {
		t.Errorf("got final state %s, want delivered", d.State)
	}
}
