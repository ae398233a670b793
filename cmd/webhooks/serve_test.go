package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/devserver"
	"github.com/ocelot/webhooks/workflows"
)

// TestServeAPIRunsWorker runs `webhooks serve` against a real Temporal
// server and PostgreSQL, with no `webhooks worker` beside it. With
// API_RUNS_WORKER=true the API's own worker delivers the event, and the
// workflow's first task was handed to it in the start response (eager
// start). With false nothing is delivered until a `webhooks worker` runs,
// and its first task came through matching.
func TestServeAPIRunsWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	temporal, err := devserver.Start(ctx, devserver.Options{SearchAttributes: workflows.SearchAttributes})
	if err != nil {
		t.Fatalf("start temporal: %v", err)
	}
	t.Cleanup(func() {
		if err := temporal.Stop(); err != nil {
			t.Errorf("stop temporal: %v", err)
		}
	})
	tc, err := client.Dial(client.Options{HostPort: temporal.FrontendAddress(), Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)

	databaseURL := dbtest.URL(t)
	key := dbtest.TestKey()
	for _, name := range config.Variables {
		t.Setenv(name, "")
	}
	t.Setenv("DATABASE_URL", databaseURL)
	t.Setenv("ENCRYPTION_KEY", base64.StdEncoding.EncodeToString(key))
	t.Setenv("PAYLOAD_KEYS", "test-1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	t.Setenv("TEMPORAL_ADDRESS", temporal.FrontendAddress())
	t.Setenv("TEMPORAL_NAMESPACE", "default")
	t.Setenv("INGEST_PASSWORD", "ingest-secret")
	t.Setenv("ALLOWED_PRIVATE_NETWORKS", "127.0.0.0/8")
	t.Setenv("LOG_LEVEL", "warn")
	// METRICS_ADDR is set and empty: no metrics listener.

	conn, err := db.Open(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	store := db.NewStore(conn, nil)

	t.Run("true", func(t *testing.T) {
		t.Setenv("API_RUNS_WORKER", "true")
		api := startServe(t)
		rcv := newCountingReceiver(t)
		workflowID := api.ingestOne(t, store, "eager-client", rcv.URL)

		waitUntil(t, "the delivery by the API's worker", func() bool { return rcv.count.Load() > 0 })
		waitCompleted(t, tc, workflowID)
		if !firstTaskEager(t, tc, workflowID) {
			t.Error("the first workflow task came through matching, want it handed back eagerly in the start response")
		}
	})

	t.Run("false", func(t *testing.T) {
		t.Setenv("API_RUNS_WORKER", "false")
		api := startServe(t)
		rcv := newCountingReceiver(t)
		workflowID := api.ingestOne(t, store, "plain-client", rcv.URL)

		// Without a worker the first workflow task waits in matching: it is
		// scheduled, and nothing starts it or reaches the receiver.
		d, err := tc.DescribeWorkflowExecution(context.Background(), workflowID, "")
		if err != nil {
			t.Fatal(err)
		}
		if state := d.GetPendingWorkflowTask().GetState(); state != enumspb.PENDING_WORKFLOW_TASK_STATE_SCHEDULED {
			t.Fatalf("first workflow task with no worker running: got %v, want scheduled", state)
		}
		if n := rcv.count.Load(); n != 0 {
			t.Fatalf("receiver got %d requests with no worker running, want none", n)
		}
		runCommand(t, "worker")
		waitUntil(t, "the delivery by `webhooks worker`", func() bool { return rcv.count.Load() > 0 })
		waitCompleted(t, tc, workflowID)
		// The discriminator of the true case tells the two paths apart.
		if firstTaskEager(t, tc, workflowID) {
			t.Error("the first workflow task was eager with API_RUNS_WORKER=false")
		}
	})
}

type serveProcess struct{ url string }

// startServe runs `webhooks serve` on a free port until t ends, and waits
// until it answers.
func startServe(t *testing.T) serveProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("HTTP_ADDR", addr)
	runCommand(t, "serve")
	s := serveProcess{url: "http://" + addr}
	waitUntil(t, "serve to answer /readyz", func() bool {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

// runCommand runs `webhooks command` (serve or worker) until t ends, then
// stops it as SIGTERM would and expects a clean exit.
func runCommand(t *testing.T, command string) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{command}, io.Discard) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("webhooks %s: %v", command, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("webhooks %s did not stop within 30s", command)
		}
	})
	// A start-up failure ends run at once: report it rather than time out.
	select {
	case err := <-done:
		t.Fatalf("webhooks %s ended at start: %v", command, err)
	case <-time.After(100 * time.Millisecond):
	}
}

// ingestOne creates a client with a webhook to receiverURL, ingests one
// event for it and returns the event's workflow id.
func (s serveProcess) ingestOne(t *testing.T, store *db.Store, clientID, receiverURL string) string {
	t.Helper()
	apiKey := webhooks.NewAPIKey()
	if err := store.CreateClient(context.Background(), webhooks.Client{ID: clientID, Name: clientID, KeyHash: webhooks.HashAPIKey(apiKey)}); err != nil {
		t.Fatal(err)
	}
	hook := map[string]any{"id": "hook", "url": receiverURL, "matchingEvents": []string{"PhoneNumber.optedIn"}}
	if status, body := s.post(t, "/api/v1/webhooks", clientID, apiKey, hook); status != http.StatusCreated {
		t.Fatalf("create webhook: got %d %s, want 201", status, body)
	}
	event := map[string]any{"clientId": clientID, "event": map[string]any{
		"name": "PhoneNumber.optedIn", "phoneNumber": "+15550004", "triggerType": "Manual",
	}}
	status, body := s.post(t, "/api/v1/events", "ingest", "ingest-secret", event)
	if status != http.StatusAccepted {
		t.Fatalf("ingest: got %d %s, want 202", status, body)
	}
	var accepted struct {
		WorkflowID string `json:"workflowId"`
	}
	if err := json.Unmarshal(body, &accepted); err != nil || accepted.WorkflowID == "" {
		t.Fatalf("ingest answer %s: %v", body, err)
	}
	return accepted.WorkflowID
}

func (s serveProcess) post(t *testing.T, path, user, pass string, body any) (int, []byte) {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, answer
}

type countingReceiver struct {
	*httptest.Server
	count atomic.Int64
}

func newCountingReceiver(t *testing.T) *countingReceiver {
	r := &countingReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.count.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitCompleted(t *testing.T, tc client.Client, workflowID string) {
	t.Helper()
	var status enumspb.WorkflowExecutionStatus
	waitUntil(t, fmt.Sprintf("workflow %s to complete", workflowID), func() bool {
		d, err := tc.DescribeWorkflowExecution(context.Background(), workflowID, "")
		if err != nil {
			return false
		}
		status = d.GetWorkflowExecutionInfo().GetStatus()
		return status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("workflow %s: got %v, want completed", workflowID, status)
	}
}

// firstTaskEager reports whether the workflow's first task was handed back
// in the start response: the server then records the start request's id as
// the task's started request id, where a task through matching carries the
// poll's.
func firstTaskEager(t *testing.T, tc client.Client, workflowID string) bool {
	t.Helper()
	ctx := context.Background()
	d, err := tc.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	startRequest := ""
	for id, info := range d.GetWorkflowExtendedInfo().GetRequestIdInfos() {
		if info.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED {
			startRequest = id
		}
	}
	if startRequest == "" {
		t.Fatalf("workflow %s: no start request id in %v", workflowID, d.GetWorkflowExtendedInfo().GetRequestIdInfos())
	}
	var first *historypb.WorkflowTaskStartedEventAttributes
	iter := tc.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() && first == nil {
		event, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		first = event.GetWorkflowTaskStartedEventAttributes()
	}
	if first == nil {
		t.Fatalf("workflow %s: no workflow task started", workflowID)
	}
	t.Logf("workflow %s: start request %s, first task started by %s with request %s", workflowID, startRequest, first.GetIdentity(), first.GetRequestId())
	return first.GetRequestId() == startRequest
}
