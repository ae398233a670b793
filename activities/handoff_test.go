package activities

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/ocelot/webhooks"
)

func TestHandoff(t *testing.T) {
	var h handoff
	t0 := time.Now()
	read := func(key int64) webhooks.AttemptWebhook {
		return webhooks.AttemptWebhook{Webhook: webhooks.Webhook{Key: key}}
	}
	h.put("run-1", []webhooks.AttemptWebhook{read(1), read(2), read(3)}, t0)

	if _, ok := h.take("run-2", 1, t0); ok {
		t.Error("another run took run-1's read")
	}
	if w, ok := h.take("run-1", 1, t0.Add(handoffTTL/2)); !ok || w.Webhook.Key != 1 {
		t.Errorf("got %v, %v; want webhook 1's read", w.Webhook.Key, ok)
	}
	if _, ok := h.take("run-1", 1, t0.Add(handoffTTL/2)); ok {
		t.Error("a read was taken twice")
	}
	if _, ok := h.take("run-1", 2, t0.Add(handoffTTL+time.Millisecond)); ok {
		t.Error("a read older than handoffTTL was used")
	}
	if h.size() != 1 {
		t.Errorf("%d entries kept, want 1 (webhook 3, never taken)", h.size())
	}
	// A later resolution sweeps what nobody took.
	h.put("run-3", []webhooks.AttemptWebhook{read(1)}, t0.Add(2*handoffTTL+time.Millisecond))
	if h.size() != 1 {
		t.Errorf("%d entries kept after the sweep, want 1 (run-3's)", h.size())
	}
}

// The first attempt to a webhook uses the read its event's resolution made
// in the same worker; a later attempt, or a first one whose read is gone,
// reads the webhook again.
func TestFirstAttemptUsesResolutionsRead(t *testing.T) {
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer rcv.Close()
	store := &fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}}
	a := newActivities(store, HTTPOptions{AllowedNetworks: loopback})
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment() // one workflow run for every call
	env.RegisterActivity(a)
	if _, err := env.ExecuteActivity(a.ResolveWebhooks, ResolveWebhooksInput{
		ClientID: testClient, EventName: string(webhooks.IncomingSmsReceived),
	}); err != nil {
		t.Fatal(err)
	}
	attempt := func(n int) {
		t.Helper()
		in := attemptInput(t, 1, testEvent(), "")
		in.Attempt = n
		val, err := env.ExecuteActivity(a.DeliverAttempt, in)
		if err != nil {
			t.Fatal(err)
		}
		var res DeliverAttemptResult
		if err := val.Get(&res); err != nil || res.Outcome != OutcomeDelivered {
			t.Fatalf("attempt %d: got %+v, %v; want delivered", n, res, err)
		}
	}
	for _, step := range []struct {
		attempt int
		reads   int // FindAttemptWebhook calls so far
	}{
		{1, 0}, // resolution's read
		{1, 1}, // taken already: read again
		{2, 2}, // a retry always reads
	} {
		attempt(step.attempt)
		if store.finds != step.reads {
			t.Errorf("after attempt %d: %d reads of the webhook, want %d", step.attempt, store.finds, step.reads)
		}
	}
}

// size is how many entries h keeps.
func (h *handoff) size() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}
