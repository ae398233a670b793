package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/codec"
	"github.com/ocelot/webhooks/internal/stack"
	"github.com/ocelot/webhooks/worker"
	"github.com/ocelot/webhooks/workflows"
)

// Temporal's database and a UI without the key see none of an event's
// personal data; the codec endpoint shows it to an operator.
func TestTemporalHistoryHoldsNoPersonalData(t *testing.T) {
	e := start(t, stack.Options{})
	clientID, key := e.client("acme")
	const (
		phone    = "+15557654321"
		message  = "meet me at the old mill at nine"
		answer   = "thanks-from-the-receiver-7c1e"
		password = "hook-password-5d2a"
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"reply":"`+answer+`"}`)
	}))
	defer rcv.Close()
	e.createWebhook(clientID, key, map[string]any{
		"id": "sms", "url": rcv.URL, "matchingEvents": []string{"IncomingSms.received"},
		"auth": map[string]any{"type": "Basic", "username": "hook", "password": password},
	})
	a := e.ingest(clientID, "", map[string]any{"name": "IncomingSms.received", "to": phone, "from": "+15550002", "triggerType": "Inbound", "message": message})
	if r := e.result(a.WorkflowID); len(r.Deliveries) != 1 || r.Deliveries[0].State != workflows.StateDelivered {
		t.Fatalf("got %s, want one delivered", states(r))
	}

	// What Temporal stores, read by a client without the codec.
	events := history(t, plainClient(t, e), a.WorkflowID)
	var encrypted []*commonpb.Payload
	for _, event := range events {
		raw, err := proto.Marshal(event)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{phone, message, answer, password} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("event %d %s holds %q in the clear", event.EventId, event.EventType, secret)
			}
		}
		for _, p := range payloadsIn(event) {
			if string(p.Metadata[codec.MetadataEncoding]) != codec.EncodingEncrypted || string(p.Metadata[codec.MetadataKeyID]) != testPayloadKeys[0].ID {
				t.Errorf("event %d %s has a payload that is not encrypted under %s: %v", event.EventId, event.EventType, testPayloadKeys[0].ID, p.Metadata)
				continue
			}
			encrypted = append(encrypted, p)
		}
	}
	if len(encrypted) < 4 {
		t.Fatalf("found %d encrypted payloads, want at least input, marker, attempt input and result", len(encrypted))
	}

	// An operator decodes them through the API's codec endpoint.
	decoded := decodeThroughEndpoint(t, e.stack.APIURL, encrypted)
	for _, want := range []string{phone, message, answer} {
		if !strings.Contains(decoded, want) {
			t.Errorf("decoded payloads lack %q:\n%s", want, decoded)
		}
	}
	// Credentials never enter a workflow, encrypted or not.
	if strings.Contains(decoded, password) {
		t.Errorf("decoded payloads hold the receiver's password")
	}
}

// A workflow started, and partly run, before payloads were encrypted (plain
// payloads, the old input shape) is finished by a worker with the codec,
// which replays the plain history.
func TestWorkflowStartedWithoutCodecFinishesWithIt(t *testing.T) {
	e := start(t, stack.Options{NoWorker: true})
	clientID, key := e.client("acme")
	var requests atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if requests.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer rcv.Close()
	e.createWebhook(clientID, key, hookBody("upgraded", rcv.URL, "PhoneNumber.optedOut"))

	// The old worker and client: no codec.
	old := plainClient(t, e)
	oldWorker := worker.New(old, app.Activities(e.cfg, e.store, nil), worker.Options{})
	if err := oldWorker.Start(); err != nil {
		t.Fatal(err)
	}
	body := `{"name":"PhoneNumber.optedOut","eventId":"old-1","phoneNumber":"+15550009","triggerType":"Manual","dateTime":"2026-11-26T10:00:00Z"}`
	// The input as it was before durations were written as text: the
	// schedule in nanoseconds.
	input := map[string]any{
		"ClientID": clientID, "EventName": "PhoneNumber.optedOut", "EventID": "old-1",
		"Payload": body, "RetrySchedule": []int64{0, int64(3 * time.Second)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := workflows.WorkflowID(clientID, "old-1")
	if _, err := old.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, "DeliverEvent", input); err != nil {
		t.Fatalf("start without the codec: %v", err)
	}
	// The first attempt fails under the old worker; stop it while the
	// workflow waits for the second.
	waitFor(t, "the old worker's wait before attempt 2", func() bool {
		for _, event := range history(t, old, id) {
			if event.EventType == enumspb.EVENT_TYPE_TIMER_STARTED {
				return true
			}
		}
		return false
	})
	oldWorker.Stop()

	newWorker := worker.New(e.stack.Client, app.Activities(e.cfg, e.store, nil), worker.Options{})
	if err := newWorker.Start(); err != nil {
		t.Fatal(err)
	}
	defer newWorker.Stop()
	r := e.result(id)
	if len(r.Deliveries) != 1 || r.Deliveries[0].State != workflows.StateDelivered || r.Deliveries[0].Attempts != 2 {
		t.Fatalf("got %s, want delivered at attempt 2", states(r))
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}

	// The history holds both: plain payloads from before, encrypted after.
	var plain, encrypted int
	for _, event := range history(t, old, id) {
		for _, p := range payloadsIn(event) {
			if string(p.Metadata[codec.MetadataEncoding]) == codec.EncodingEncrypted {
				encrypted++
			} else {
				plain++
			}
		}
	}
	if plain == 0 || encrypted == 0 {
		t.Errorf("got %d plain and %d encrypted payloads, want both", plain, encrypted)
	}
}

// plainClient is a Temporal client without the codec: what Temporal itself,
// or a UI without the key, sees.
func plainClient(t *testing.T, e *env) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort: e.stack.TemporalAddress, Namespace: e.cfg.TemporalNamespace,
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatalf("connect to temporal without the codec: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func history(t *testing.T, c client.Client, workflowID string) []*historypb.HistoryEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var events []*historypb.HistoryEvent
	iter := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		event, err := iter.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		events = append(events, event)
	}
	return events
}

// payloadsIn finds every payload of an event, however deeply nested, but
// those of search attributes: the server indexes them, so they stay
// readable and hold ids only.
func payloadsIn(event *historypb.HistoryEvent) []*commonpb.Payload {
	var found []*commonpb.Payload
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		switch v := m.Interface().(type) {
		case *commonpb.Payload:
			found = append(found, v)
			return
		case *commonpb.SearchAttributes:
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsMap():
				if fd.MapValue().Message() != nil {
					v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
						walk(mv.Message())
						return true
					})
				}
			case fd.IsList():
				if fd.Message() != nil {
					for i := range v.List().Len() {
						walk(v.List().Get(i).Message())
					}
				}
			case fd.Message() != nil:
				walk(v.Message())
			}
			return true
		})
	}
	walk(event.ProtoReflect())
	return found
}

// decodeThroughEndpoint posts payloads to the codec endpoint as an
// operator's UI would, and returns the decoded payloads' data joined.
func decodeThroughEndpoint(t *testing.T, apiURL string, payloads []*commonpb.Payload) string {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	post := func(auth string) (int, []byte) {
		req, err := http.NewRequest("POST", apiURL+app.CodecPath+"/decode", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", "default")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("codec endpoint: %v", err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	if status, _ := post(""); status != http.StatusUnauthorized {
		t.Errorf("decode without the operator credential: got %d, want 401", status)
	}
	status, data := post("Bearer " + codecToken)
	if status != http.StatusOK {
		t.Fatalf("decode: got %d %s, want 200", status, data)
	}
	var decoded commonpb.Payloads
	if err := protojson.Unmarshal(data, &decoded); err != nil {
		t.Fatalf("decode answer: %v", err)
	}
	if len(decoded.Payloads) != len(payloads) {
		t.Fatalf("decoded %d payloads, want %d", len(decoded.Payloads), len(payloads))
	}
	var joined strings.Builder
	for _, p := range decoded.Payloads {
		if string(p.Metadata[codec.MetadataEncoding]) == codec.EncodingEncrypted {
			t.Errorf("a payload came back still encrypted")
		}
		// JSON payloads hold the event's body as an escaped string.
		var s string
		if json.Unmarshal(p.Data, &s) == nil {
			joined.WriteString(s)
		}
		joined.Write(p.Data)
		joined.WriteByte('\n')
	}
	return joined.String()
}
