package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	querypb "go.temporal.io/api/query/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/proto"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/stack"
	"github.com/ocelot/webhooks/workflows"
)

// Temporal's default limits on one workflow (dynamic config
// limit.historyCount.*, limit.historySize.*, limit.blobSize.*): past the
// warn limits the server logs, past the error limits it terminates the
// workflow (history) or fails the request (blob).
const (
	historyCountWarn  = 10_240
	historyCountError = 51_200
	historySizeWarn   = 10 << 20
	historySizeError  = 50 << 20
	blobSizeError     = 2 << 20
)

// TestWorstCaseHistory runs the worst case SPEC 3.5 sizes the webhook limit
// for: one client at MAX_WEBHOOKS_PER_CLIENT (100) webhooks that all match
// one event, every receiver failing every attempt, all 8 attempts of the
// schedule. It reports the history's length and size against Temporal's
// limits (figures for docs/reliability.md) and asserts they stay under the
// warn limits.
//
// The fields that size the history are at their longest in characters:
// client, office and event ids of 128, URLs of 2048, a message and failure
// reason of 2000, a receiver answer beyond the 1 KiB kept. The payload
// is in the history once (the start event): retries read it from the
// delivery log (DeliverLoggedAttempt). Before that, each retry's input
// carried it, and a message of 2000 emoji made this history 10.8 MiB, past
// the warn limit.
//
// The webhook ids have 17 characters: the longest with which 100 of them
// fit the WebhookIds search attribute (Temporal's limit of 2 KiB a value;
// 100 x (17+3) + 1 bytes as a JSON list). TestWorstCaseLongWebhookIDs is
// the case beyond.
func TestWorstCaseHistory(t *testing.T) {
	worstCase(t, 17)
}

// TestWorstCaseLongWebhookIDs is the worst case with webhook ids of the
// 128 characters the API accepts: a WebhookIds search attribute of all 100
// would be 13,101 bytes, beyond Temporal's 2 KiB per value
// (frontend.searchAttributesSizeOfValueLimit), and the server terminated
// the workflow at that upsert ("BadSearchAttributes") after the first
// attempts, so no retry was ever made. The workflow now lists the 15 that
// fit; every attempt must still be made.
func TestWorstCaseLongWebhookIDs(t *testing.T) {
	worstCase(t, webhooks.MaxWebhookIDLength)
}

func worstCase(t *testing.T, idLength int) {
	const (
		hooks    = config.DefaultMaxWebhooks
		attempts = 8
	)
	// Delays of 100 ms keep the test fast; the number and size of the
	// events do not depend on them, but how many workflow tasks the
	// server batches them into does (see the bound logged below).
	schedule := []time.Duration{0}
	for len(schedule) < attempts {
		schedule = append(schedule, 100*time.Millisecond)
	}
	cfg := testConfig(schedule...)
	cfg.MaxWebhooksPerClient = hooks
	store := dbtest.NewStore(t)
	store.LimitWebhooks(hooks)
	// The worker of `webhooks worker` with the default settings.
	cfg.WorkerActivities, cfg.WorkerPollers = config.DefaultWorkerActivities, config.DefaultWorkerPollers
	e := startWith(t, cfg, store, stack.Options{Worker: app.WorkerOptions(cfg)})

	rcv := newFailingReceiver(t)
	clientID, key := e.client(longID("client", 128))
	for i := range hooks {
		id := longID(fmt.Sprintf("hook-%03d", i), idLength)
		e.createWebhook(clientID, key, hookBody(id, padURL(rcv.URL+"/"+id, webhooks.MaxURLLength), "OutboundSms.deliveryFailed"))
	}
	// A 101st is refused: 100 is the most one event can fan out to.
	if status, body := e.do("POST", "/api/v1/webhooks", clientID, key, hookBody("one-too-many", rcv.URL, "OutboundSms.deliveryFailed")); status != http.StatusConflict {
		t.Fatalf("webhook %d: got %d %s, want 409", hooks+1, status, body)
	}

	began := time.Now()
	a := e.ingest(clientID, longID("office", webhooks.MaxOfficeIDLength), map[string]any{
		"name":          "OutboundSms.deliveryFailed",
		"eventId":       longID("event", webhooks.MaxEventIDLength),
		"to":            "+1" + strings.Repeat("5", 254),
		"from":          "+1" + strings.Repeat("6", 254),
		"triggerType":   "Outbound",
		"message":       strings.Repeat("m", webhooks.MaxMessageLength),
		"failureReason": strings.Repeat("r", webhooks.MaxMessageLength),
	})
	r := finish(t, e, a.WorkflowID)
	wall := time.Since(began)

	if len(r.Deliveries) != hooks {
		t.Fatalf("result: got %d deliveries, want %d", len(r.Deliveries), hooks)
	}
	for _, d := range r.Deliveries {
		if d.State != workflows.StateFailed || d.Attempts != attempts || d.LastStatusCode != http.StatusInternalServerError {
			t.Errorf("result: got %s %s after %d attempts (last %d), want failed after %d (500)", d.WebhookID, d.State, d.Attempts, d.LastStatusCode, attempts)
		}
	}
	if got, want := rcv.total(), hooks*attempts; got != want {
		t.Errorf("receivers got %d requests, want %d", got, want)
	}
	if got := len(rcv.byPath()); got != hooks {
		t.Errorf("%d receivers got requests, want %d", got, hooks)
	}
	for path, n := range rcv.byPath() {
		if n != attempts {
			t.Errorf("receiver %s got %d requests, want %d", path, n, attempts)
		}
	}

	// The history, as the SDK reads it and as the server counts it (the
	// server's figures are what its limits are checked against).
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	fetchStart := time.Now()
	events := history(t, e.stack.Client, a.WorkflowID)
	fetchTime := time.Since(fetchStart)
	whole := &historypb.History{Events: events}
	size := proto.Size(whole)
	var largestEvent, largestPayload, tasks, timers, activities, markers int
	for _, event := range events {
		largestEvent = max(largestEvent, proto.Size(event))
		for _, p := range payloadsIn(event) {
			largestPayload = max(largestPayload, proto.Size(p))
		}
		switch event.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			tasks++
		case enumspb.EVENT_TYPE_TIMER_FIRED:
			timers++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			activities++
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			markers++
		}
	}
	d, err := e.stack.Client.DescribeWorkflowExecution(ctx, a.WorkflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	serverLength, serverBytes := d.GetWorkflowExecutionInfo().GetHistoryLength(), d.GetWorkflowExecutionInfo().GetHistorySizeBytes()
	// With the real schedule (minutes and hours, jittered) no two timers
	// fire, and no two attempts complete, at once: each then wakes a
	// workflow task of its own (3 events), where the 100 ms here batch
	// some together.
	unbatched := len(events) + 3*max(0, 1+timers+activities-tasks)

	t.Logf("worst case: %d webhooks x %d attempts, %d requests, wall time %s (schedule %v)", hooks, attempts, rcv.total(), wall.Round(time.Millisecond), schedule)
	t.Logf("history: %d events (server: %d; limits warn %d, error %d): %d workflow tasks, %d markers (first attempts and resolution), %d timers, %d activities",
		len(events), serverLength, historyCountWarn, historyCountError, tasks, markers, timers, activities)
	t.Logf("history: at most %d events when no two timers or completions share a workflow task (%.0f%% of the warn limit)",
		unbatched, 100*float64(unbatched)/historyCountWarn)
	t.Logf("history: %d bytes = %.2f MiB (server: %d bytes; limits warn %d MiB, error %d MiB); %.0f bytes per attempt",
		size, float64(size)/(1<<20), serverBytes, historySizeWarn>>20, historySizeError>>20, float64(size)/float64(hooks*attempts))
	t.Logf("history read in %s", fetchTime.Round(time.Millisecond))
	t.Logf("largest event %d bytes, largest payload %d bytes (blob limit %d MiB)", largestEvent, largestPayload, blobSizeError>>20)

	if int64(len(events)) != serverLength {
		t.Errorf("read %d events, the server counts %d", len(events), serverLength)
	}
	if unbatched >= historyCountWarn {
		t.Errorf("history could reach %d events, want under the warn limit %d", unbatched, historyCountWarn)
	}
	if max(int64(size), serverBytes) >= historySizeWarn {
		t.Errorf("history is %d bytes (server: %d), want under the warn limit %d", size, serverBytes, historySizeWarn)
	}
	if largestPayload >= blobSizeError/10 {
		t.Errorf("largest payload %d bytes, want far under the blob limit %d", largestPayload, blobSizeError)
	}

	// The query answers for the closed workflow too. A worker answers it
	// by replaying the whole history, which can take longer than the SDK's
	// QueryWorkflow allows (10 s per call) on a slow machine; the raw call
	// waits up to the server's bound (30 s), and is tried again past it.
	var resp *workflowservice.QueryWorkflowResponse
	queryStart := time.Now()
	for try := 1; ; try++ {
		resp, err = e.stack.Client.WorkflowService().QueryWorkflow(ctx, &workflowservice.QueryWorkflowRequest{
			Namespace: e.cfg.TemporalNamespace,
			Execution: &commonpb.WorkflowExecution{WorkflowId: a.WorkflowID},
			Query:     &querypb.WorkflowQuery{QueryType: workflows.DeliveriesQuery},
		})
		if err == nil || try == 3 || ctx.Err() != nil {
			break
		}
		t.Logf("query, try %d, after %s: %v", try, time.Since(queryStart).Round(time.Millisecond), err)
	}
	queryTime := time.Since(queryStart)
	if err != nil {
		t.Fatalf("query after %s: %v", queryTime, err)
	}
	clientOpts, err := app.ClientOptions(e.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var queried []workflows.Delivery
	if err := clientOpts.DataConverter.FromPayloads(resp.GetQueryResult(), &queried); err != nil {
		t.Fatalf("query answer: %v", err)
	}
	t.Logf("query of the closed workflow (a replay of its whole history): %s", queryTime.Round(time.Millisecond))
	failed := 0
	for _, d := range queried {
		if d.State == workflows.StateFailed && d.Attempts == attempts {
			failed++
		}
	}
	if len(queried) != hooks || failed != hooks {
		t.Errorf("query: got %d deliveries, %d failed after %d attempts; want %d, all failed", len(queried), failed, attempts, hooks)
	}
}

// finish waits for the workflow's result; when it did not complete, it
// fails with the history's last event (a termination's reason).
func finish(t *testing.T, e *env, workflowID string) workflows.DeliverEventResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var r workflows.DeliverEventResult
	if err := e.stack.Client.GetWorkflow(ctx, workflowID, "").Get(ctx, &r); err != nil {
		events := history(t, e.stack.Client, workflowID)
		t.Fatalf("workflow did not complete: %v\nits last event: %v", err, events[len(events)-1:])
	}
	return r
}

// longID pads prefix with x to n characters.
func longID(prefix string, n int) string {
	return prefix + "-" + strings.Repeat("x", n-len(prefix)-1)
}

// padURL lengthens a URL to n characters with a query parameter.
func padURL(u string, n int) string {
	u += "?pad="
	return u + strings.Repeat("p", n-len(u))
}

// failingReceiver answers every request 500 with a body larger than the
// 1 KiB an attempt keeps, and counts the requests by path (one per
// webhook).
type failingReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	paths map[string]int
}

func newFailingReceiver(t *testing.T) *failingReceiver {
	r := &failingReceiver{paths: map[string]int{}}
	answer := strings.Repeat("internal error; ", 256) // 4 KiB
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.paths[req.URL.Path]++
		r.mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(answer))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *failingReceiver) byPath() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.paths))
	for p, n := range r.paths {
		out[p] = n
	}
	return out
}

func (r *failingReceiver) total() int {
	n := 0
	for _, c := range r.byPath() {
		n += c
	}
	return n
}
