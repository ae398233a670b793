package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/ocelot/webhooks/internal/stack"
)

type attemptView struct {
	Attempt      int       `json:"attempt"`
	At           time.Time `json:"at"`
	URL          string    `json:"url"`
	StatusCode   int       `json:"statusCode"`
	Error        string    `json:"error"`
	DurationMs   *int64    `json:"durationMs"`
	ResponseBody string    `json:"responseBody"`
}

type deliveryView struct {
	ID            string        `json:"id"`
	EventID       string        `json:"eventId"`
	EventName     string        `json:"eventName"`
	WebhookID     string        `json:"webhookId"`
	State         string        `json:"state"`
	Attempts      []attemptView `json:"attempts"`
	NextAttemptAt *time.Time    `json:"nextAttemptAt"`
	ResendOf      string        `json:"resendOf"`
}

type pageView struct {
	Data       []deliveryView `json:"data"`
	NextCursor *string        `json:"nextCursor"`
}

// answering is a receiver that answers each request with the next of its
// scripted statuses (the last repeats) and a body naming the status.
type answering struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []request
	hold     chan struct{} // when set, requests wait for it to close
}

func newAnswering(t *testing.T, statuses ...int) *answering {
	a := &answering{statuses: statuses}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		a.mu.Lock()
		a.got = append(a.got, request{Body: body, Header: req.Header.Clone(), Path: req.URL.Path})
		status := a.statuses[min(len(a.got), len(a.statuses))-1]
		hold := a.hold
		a.mu.Unlock()
		if hold != nil {
			<-hold
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "answer %d from receiver", status)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *answering) requests() []request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]request(nil), a.got...)
}

// get does a GET and decodes the JSON answer into v when it is 200.
func (e *env) getJSON(path, user, pass string, v any) int {
	e.t.Helper()
	status, body := e.do("GET", path, user, pass, nil)
	if status == http.StatusOK && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			e.t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	return status
}

func (e *env) deliveries(clientID, key, hook, query string) []deliveryView {
	e.t.Helper()
	var page pageView
	if status := e.getJSON("/api/v1/webhooks/"+hook+"/deliveries"+query, clientID, key, &page); status != http.StatusOK {
		e.t.Fatalf("deliveries of %s: got %d, want 200", hook, status)
	}
	return page.Data
}

// The log after a first-try success, after retries, after 410 and after a
// cancellation (webhook deleted mid-retry), each with its attempts; the
// event view with the exact payload; resend; signatures verified with the
// Standard Webhooks library; tenant isolation and no secret in any answer.
func TestDeliveryLogEndToEnd(t *testing.T) {
	e := start(t, stack.Options{}, 0, 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond)
	clientID, key := e.client("acme")
	otherID, otherKey := e.client("other")
	ok := newAnswering(t, 200)
	flaky := newAnswering(t, 503, 500, 202)
	gone := newAnswering(t, 410)
	doomed := newAnswering(t, 500)
	const password = "receiver-pass-\u00e9-7f3a"
	withAuth := func(id, url string) map[string]any {
		h := hookBody(id, url, "IncomingSms.received")
		h["auth"] = map[string]any{"type": "Basic", "username": "u", "password": password}
		return h
	}
	e.createWebhook(clientID, key, withAuth("ok", ok.URL))
	e.createWebhook(clientID, key, withAuth("flaky", flaky.URL))
	e.createWebhook(clientID, key, withAuth("gone", gone.URL))
	e.createWebhook(clientID, key, withAuth("doomed", doomed.URL))

	event := map[string]any{"name": "IncomingSms.received", "to": "+15550001", "from": "+15550002",
		"triggerType": "Inbound", "message": "<b>hello</b> & goodbye", "dateTime": "2026-11-26T10:00:00Z"}
	a := e.ingest(clientID, "", event)
	waitFor(t, "first attempt to doomed", func() bool { return len(doomed.requests()) >= 1 })
	if status, body := e.do("DELETE", "/api/v1/webhooks/doomed", clientID, key, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	e.result(a.WorkflowID)

	want := map[string]struct {
		state    string
		statuses []int
	}{
		"ok":    {"delivered", []int{200}},
		"flaky": {"delivered", []int{503, 500, 202}},
		"gone":  {"failed", []int{410}},
	}
	for hook, w := range want {
		list := e.deliveries(clientID, key, hook, "")
		if len(list) != 1 {
			t.Fatalf("%s: got %d deliveries, want 1", hook, len(list))
		}
		d := list[0]
		if d.State != w.state || d.EventID != a.EventID || d.WebhookID != hook || d.EventName != "IncomingSms.received" || d.NextAttemptAt != nil {
			t.Errorf("%s: got %+v, want %s of %s", hook, d, w.state, a.EventID)
		}
		if len(d.Attempts) != len(w.statuses) {
			t.Fatalf("%s: got %d attempts, want %d", hook, len(d.Attempts), len(w.statuses))
		}
		for i, at := range d.Attempts {
			if at.Attempt != i+1 || at.StatusCode != w.statuses[i] || at.DurationMs == nil || at.At.IsZero() ||
				at.ResponseBody != fmt.Sprintf("answer %d from receiver", w.statuses[i]) || !strings.HasPrefix(at.URL, "http://127.0.0.1:") {
				t.Errorf("%s attempt %d: got %+v, want status %d with its answer", hook, i+1, at, w.statuses[i])
			}
		}
	}

	// The deleted webhook's delivery is visible through its event.
	var ev struct {
		EventID    string          `json:"eventId"`
		EventName  string          `json:"eventName"`
		DateTime   string          `json:"dateTime"`
		Payload    json.RawMessage `json:"payload"`
		Deliveries []deliveryView  `json:"deliveries"`
	}
	if status := e.getJSON("/api/v1/events/"+a.EventID, clientID, key, &ev); status != http.StatusOK {
		t.Fatalf("event: got %d, want 200", status)
	}
	if got := ok.requests()[0].Body; !bytes.Equal(ev.Payload, got) {
		t.Errorf("event payload:\n got %s\nwant the exact bytes delivered %s", ev.Payload, got)
	}
	if ev.DateTime != "2026-11-26T10:00:00Z" || ev.EventName != "IncomingSms.received" || len(ev.Deliveries) != 4 {
		t.Errorf("event: got %s %s with %d deliveries, want 4", ev.EventName, ev.DateTime, len(ev.Deliveries))
	}
	for _, d := range ev.Deliveries {
		if d.WebhookID == "doomed" && (d.State != "cancelled" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 500) {
			t.Errorf("doomed: got %+v, want cancelled after one 500", d)
		}
	}

	// Signatures: every delivery verifies with the webhook's secret through
	// the Standard Webhooks library.
	var secret struct {
		Key string `json:"key"`
	}
	if status := e.getJSON("/api/v1/webhooks/ok/secret", clientID, key, &secret); status != http.StatusOK || !strings.HasPrefix(secret.Key, "whsec_") {
		t.Fatalf("secret: got %d %q", status, secret.Key)
	}
	verify := func(secretKey string, req request) error {
		wh, err := standardwebhooks.NewWebhook(secretKey)
		if err != nil {
			return err
		}
		return wh.Verify(req.Body, req.Header)
	}
	if err := verify(secret.Key, ok.requests()[0]); err != nil {
		t.Errorf("verify the delivery with the webhook's secret: %v", err)
	}
	var flakySecret struct {
		Key string `json:"key"`
	}
	e.getJSON("/api/v1/webhooks/flaky/secret", clientID, key, &flakySecret)
	if err := verify(flakySecret.Key, ok.requests()[0]); err == nil {
		t.Error("another webhook's secret verified the delivery; want a failure")
	}

	// Resend: the same bytes, a new delivery id, resendOf.
	original := e.deliveries(clientID, key, "ok", "")[0]
	var resent struct {
		DeliveryID string `json:"deliveryId"`
		WorkflowID string `json:"workflowId"`
	}
	status, body := e.do("POST", "/api/v1/webhooks/ok/deliveries/"+original.ID+"/resend", clientID, key, nil)
	if status != http.StatusAccepted || json.Unmarshal(body, &resent) != nil || resent.DeliveryID == "" || resent.DeliveryID == original.ID {
		t.Fatalf("resend: got %d %s, want 202 with a new delivery id", status, body)
	}
	e.result(resent.WorkflowID)
	requests := ok.requests()
	if len(requests) != 2 || !bytes.Equal(requests[1].Body, requests[0].Body) || requests[1].Header.Get("webhook-id") != a.EventID {
		t.Fatalf("resend: receiver got %d requests, want 2 with the same bytes and webhook-id", len(requests))
	}
	list := e.deliveries(clientID, key, "ok", "")
	if len(list) != 2 || list[0].ID != resent.DeliveryID || list[0].ResendOf != original.ID || list[0].State != "delivered" {
		t.Errorf("after resend: got %+v, want the resend first, resendOf the original, delivered", list)
	}

	// Rotation: for 24 h both secrets sign, new first; each verifies.
	var rotated struct {
		Key string `json:"key"`
	}
	status, body = e.do("POST", "/api/v1/webhooks/ok/secret/rotate", clientID, key, nil)
	if status != http.StatusOK || json.Unmarshal(body, &rotated) != nil || rotated.Key == secret.Key || !strings.HasPrefix(rotated.Key, "whsec_") {
		t.Fatalf("rotate: got %d %s", status, body)
	}
	b := e.ingest(clientID, "", event)
	e.result(b.WorkflowID)
	last := ok.requests()[len(ok.requests())-1]
	if sigs := strings.Fields(last.Header.Get("webhook-signature")); len(sigs) != 2 {
		t.Errorf("after rotation: got %d signatures, want 2", len(sigs))
	}
	for name, k := range map[string]string{"new": rotated.Key, "old": secret.Key} {
		if err := verify(k, last); err != nil {
			t.Errorf("after rotation, verify with the %s secret: %v", name, err)
		}
	}

	// Test event: one attempt, marked as a test, answered with the attempt.
	var attempt struct {
		EventID    string `json:"eventId"`
		Attempt    int    `json:"attempt"`
		StatusCode int    `json:"statusCode"`
		URL        string `json:"url"`
	}
	status, body = e.do("POST", "/api/v1/webhooks/ok/test", clientID, key, map[string]any{"eventName": "IncomingSms.received"})
	if status != http.StatusOK || json.Unmarshal(body, &attempt) != nil || attempt.StatusCode != 200 || attempt.Attempt != 1 || !strings.HasPrefix(attempt.EventID, "test-") {
		t.Fatalf("test event: got %d %s, want 200 with the attempt", status, body)
	}
	test := ok.requests()[len(ok.requests())-1]
	if test.Header.Get("webhook-test") != "true" || test.Header.Get("webhook-id") != attempt.EventID {
		t.Errorf("test request: got webhook-test %q, webhook-id %q", test.Header.Get("webhook-test"), test.Header.Get("webhook-id"))
	}
	if err := verify(rotated.Key, test); err != nil {
		t.Errorf("test event signature: %v", err)
	}

	// Tenant isolation (404) and authentication (401) on every new endpoint;
	// nothing secret in any answer.
	paths := []struct{ method, path string }{
		{"GET", "/api/v1/webhooks/ok/deliveries"},
		{"GET", "/api/v1/events/" + a.EventID},
		{"POST", "/api/v1/webhooks/ok/deliveries/" + original.ID + "/resend"},
		{"POST", "/api/v1/webhooks/ok/test"},
		{"GET", "/api/v1/webhooks/ok/secret"},
		{"POST", "/api/v1/webhooks/ok/secret/rotate"},
	}
	for _, p := range paths {
		if status, body := e.do(p.method, p.path, otherID, otherKey, nil); status != http.StatusNotFound {
			t.Errorf("%s %s as another client: got %d %s, want 404", p.method, p.path, status, body)
		}
		if status, _ := e.do(p.method, p.path, "", "", nil); status != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: got %d, want 401", p.method, p.path, status)
		}
	}
	for _, p := range []string{"/api/v1/webhooks/ok/deliveries", "/api/v1/webhooks/flaky/deliveries", "/api/v1/events/" + a.EventID} {
		_, body := e.do("GET", p, clientID, key, nil)
		if bytes.Contains(body, []byte(password)) || bytes.Contains(body, []byte(url.QueryEscape(password))) || bytes.Contains(body, []byte("whsec_")) {
			t.Errorf("GET %s answers a secret: %s", p, body)
		}
	}
}

func TestDeliveryLogParametersAndPending(t *testing.T) {
	e := start(t, stack.Options{}, 0, time.Hour)
	clientID, key := e.client("acme")
	down := newAnswering(t, 500)
	e.createWebhook(clientID, key, hookBody("down", down.URL, "PhoneNumber.optedIn"))
	a := e.ingest(clientID, "", map[string]any{"name": "PhoneNumber.optedIn", "phoneNumber": "+15550003", "triggerType": "Manual"})
	var pending deliveryView
	waitFor(t, "the first attempt in the log", func() bool {
		list := e.deliveries(clientID, key, "down", "")
		if len(list) == 1 && len(list[0].Attempts) == 1 {
			pending = list[0]
			return true
		}
		return false
	})
	if pending.State != "pending" || pending.NextAttemptAt == nil || time.Until(*pending.NextAttemptAt) < 30*time.Minute {
		t.Errorf("got %s next at %v, want pending with the next attempt in about an hour", pending.State, pending.NextAttemptAt)
	}
	status, body := e.do("POST", "/api/v1/webhooks/down/deliveries/"+pending.ID+"/resend", clientID, key, nil)
	if status != http.StatusConflict {
		t.Errorf("resend while pending: got %d %s, want 409", status, body)
	}
	if status, _ := e.do("POST", "/api/v1/webhooks/down/deliveries/not-a-uuid/resend", clientID, key, nil); status != http.StatusNotFound {
		t.Errorf("resend of an unknown delivery: got %d, want 404", status)
	}
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?state=done", "?eventName=Nope", "?cursor=garbage", "?color=red", "?limit=1&limit=2"} {
		status, body := e.do("GET", "/api/v1/webhooks/down/deliveries"+q, clientID, key, nil)
		var errBody struct {
			StatusCode int `json:"statusCode"`
			Details    []struct {
				Field string `json:"field"`
			} `json:"details"`
		}
		if status != http.StatusBadRequest || json.Unmarshal(body, &errBody) != nil || len(errBody.Details) == 0 {
			t.Errorf("GET deliveries%s: got %d %s, want 400 with details", q, status, body)
		}
	}
	if got := e.deliveries(clientID, key, "down", "?state=pending&eventName=PhoneNumber.optedIn&limit=1"); len(got) != 1 {
		t.Errorf("filtered: got %d, want 1", len(got))
	}
	if got := e.deliveries(clientID, key, "down", "?state=delivered"); len(got) != 0 {
		t.Errorf("state=delivered: got %d, want 0", len(got))
	}
	if status, _ := e.do("GET", "/api/v1/events/unknown-event", clientID, key, nil); status != http.StatusNotFound {
		t.Errorf("unknown event: got %d, want 404", status)
	}
	// Cancel the workflow: the log shows the delivery ended, not pending.
	if err := e.stack.Client.CancelWorkflow(t.Context(), a.WorkflowID, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cancelled delivery in the log", func() bool {
		list := e.deliveries(clientID, key, "down", "")
		return len(list) == 1 && list[0].State == "failed"
	})
}
