package e2e

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ocelot/webhooks/internal/stack"
	"github.com/ocelot/webhooks/workflows"
)

// go test ./e2e -run TestMainPathHistories -record-histories writes the
// replay corpus of the current workflow version into
// workflows/testdata/<corpusDir> from a real server. The corpora of earlier
// versions (workflows/testdata/*.json, plain payloads) are never
// re-recorded: running workflows of those versions must keep replaying.
var recordHistories = flag.Bool("record-histories", false, "write the histories of the main paths to workflows/testdata/"+corpusDir)

// corpusDir holds the corpus of the current code: workflows.ShapeUnmarked
// inputs, whose retries read the payload from the delivery log (version 1
// of "payload-from-log"), recorded with the payload codec under the test
// key of testPayloadKeys. delivery-log/ and unmarked/ hold the corpora of
// the versions before it.
const corpusDir = "payload-from-log"

// TestMainPathHistories runs the main delivery paths on the real server and
// checks each ends as expected; with -record-histories it saves their
// histories for the replay tests of package workflows.
func TestMainPathHistories(t *testing.T) {
	e := start(t, stack.Options{}, 0, time.Second, time.Second)
	clientID, key := e.client("acme")
	ok, flaky, gone, broken, doomed := newReceiver(t), newReceiver(t, 503, 200), newReceiver(t, 410), newReceiver(t, 500), newReceiver(t, 500)
	empty, _ := e.client("empty")
	e.createWebhook(clientID, key, hookBody("ok", ok.URL, "IncomingSms.received", "OutboundSms.delivered", "PhoneNumber.optedOut"))
	e.createWebhook(clientID, key, hookBody("flaky", flaky.URL, "OutboundSms.deliveryFailed"))
	e.createWebhook(clientID, key, hookBody("gone", gone.URL, "PhoneNumber.optedIn"))
	e.createWebhook(clientID, key, hookBody("broken", broken.URL, "OutboundSms.delivered"))
	e.createWebhook(clientID, key, hookBody("deleted", doomed.URL, "PhoneNumber.optedOut"))

	sms := func(name, triggerType string) map[string]any {
		return map[string]any{"name": name, "to": "+1", "from": "+2", "triggerType": triggerType, "message": "m", "failureReason": "Opted out"}
	}
	phone := func(name string) map[string]any {
		return map[string]any{"name": name, "phoneNumber": "+1", "triggerType": "Inbound"}
	}
	failed := sms("OutboundSms.deliveryFailed", "Outbound")
	incoming := sms("IncomingSms.received", "Inbound")
	delete(incoming, "failureReason")
	outbound := sms("OutboundSms.delivered", "Outbound")
	delete(outbound, "failureReason")

	cases := []struct {
		file   string
		client string
		event  map[string]any
		during func()
		want   map[string]workflows.DeliveryState
	}{
		{file: "delivered_first_try.json", event: incoming, want: map[string]workflows.DeliveryState{"ok": workflows.StateDelivered}},
		{file: "retried_then_delivered.json", event: failed, want: map[string]workflows.DeliveryState{"flaky": workflows.StateDelivered}},
		{file: "gone.json", event: phone("PhoneNumber.optedIn"), want: map[string]workflows.DeliveryState{"gone": workflows.StateFailed}},
		{file: "one_failed_one_delivered.json", event: outbound, want: map[string]workflows.DeliveryState{"ok": workflows.StateDelivered, "broken": workflows.StateFailed}},
		{file: "cancelled_after_delete.json", event: phone("PhoneNumber.optedOut"), during: func() {
			waitFor(t, "first attempt to the webhook to delete", func() bool { return len(doomed.requests()) == 1 })
			if status, body := e.do("DELETE", "/api/v1/webhooks/deleted", clientID, key, nil); status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", status, body)
			}
		}, want: map[string]workflows.DeliveryState{"ok": workflows.StateDelivered, "deleted": workflows.StateCancelled}},
		{file: "no_matching_webhook.json", client: empty, event: phone("PhoneNumber.optedOut"), want: map[string]workflows.DeliveryState{}},
	}
	for _, c := range cases {
		if c.client == "" {
			c.client = clientID
		}
		a := e.ingest(c.client, "", c.event)
		if c.during != nil {
			c.during()
		}
		r := e.result(a.WorkflowID)
		got := map[string]workflows.DeliveryState{}
		for _, d := range r.Deliveries {
			got[d.WebhookID] = d.State
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: got %s, want %v", c.file, states(r), c.want)
		}
		for id, want := range c.want {
			if got[id] != want {
				t.Errorf("%s: webhook %s got %s, want %s", c.file, id, got[id], want)
			}
		}
		if *recordHistories {
			writeHistory(t, e, a.WorkflowID, c.file)
		}
	}
}

func writeHistory(t *testing.T, e *env, workflowID, file string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iter := e.stack.Client.GetWorkflowHistory(ctx, workflowID, "", false, 0)
	history := &historypb.History{}
	for iter.HasNext() {
		event, err := iter.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		history.Events = append(history.Events, event)
	}
	data, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(history)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "workflows", "testdata", corpusDir, file)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d events)", path, len(history.Events))
}
