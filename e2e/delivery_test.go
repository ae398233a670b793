package e2e

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/internal/stack"
	"github.com/ocelot/webhooks/workflows"
)

func TestEveryEventTypeArrivesAsExactJSON(t *testing.T) {
	e := start(t, stack.Options{})
	clientID, key := e.client("acme")
	rcv := newReceiver(t)
	var names []string
	for _, n := range webhooks.EventNames {
		names = append(names, string(n))
	}
	e.createWebhook(clientID, key, map[string]any{
		"id": "all-events", "url": rcv.URL + "/hook", "matchingEvents": names,
		"auth": map[string]any{"type": "Basic", "username": "hook-user", "password": "hook-pass"},
	})
	events := []struct {
		event map[string]any
		want  string
	}{
		{map[string]any{"name": "IncomingSms.received", "eventId": "e1", "to": "+15550001", "from": "+15550002", "triggerType": "Inbound", "message": "Hi <there> & \"you\"", "dateTime": "2026-11-26T10:00:00Z"},
			`{"name":"IncomingSms.received","eventId":"e1","to":"+15550001","from":"+15550002","triggerType":"Inbound","message":"Hi <there> & \"you\"","dateTime":"2026-11-26T10:00:00Z"}`},
		{map[string]any{"name": "OutboundSms.delivered", "eventId": "e2", "to": "+1", "from": "+2", "triggerType": "Outbound", "message": "sent", "dateTime": "2026-11-26T10:00:01+02:00"},
			`{"name":"OutboundSms.delivered","eventId":"e2","to":"+1","from":"+2","triggerType":"Outbound","message":"sent","dateTime":"2026-11-26T10:00:01+02:00"}`},
		{map[string]any{"name": "OutboundSms.deliveryFailed", "eventId": "e3", "to": "+1", "from": "+2", "triggerType": "Outbound", "message": "x", "failureReason": "Opted out", "dateTime": "2026-11-26T10:00:02Z"},
			`{"name":"OutboundSms.deliveryFailed","eventId":"e3","to":"+1","from":"+2","triggerType":"Outbound","message":"x","failureReason":"Opted out","dateTime":"2026-11-26T10:00:02Z"}`},
		{map[string]any{"name": "PhoneNumber.optedOut", "eventId": "e4", "phoneNumber": "+15550003", "triggerType": "Manual", "dateTime": "2026-11-26T10:00:03Z"},
			`{"name":"PhoneNumber.optedOut","eventId":"e4","phoneNumber":"+15550003","triggerType":"Manual","dateTime":"2026-11-26T10:00:03Z"}`},
		{map[string]any{"name": "PhoneNumber.optedIn", "eventId": "e5", "phoneNumber": "+15550003", "triggerType": "Inbound", "dateTime": "2026-11-26T10:00:04Z"},
			`{"name":"PhoneNumber.optedIn","eventId":"e5","phoneNumber":"+15550003","triggerType":"Inbound","dateTime":"2026-11-26T10:00:04Z"}`},
	}
	for i, ev := range events {
		a := e.ingest(clientID, "", ev.event)
		if r := e.result(a.WorkflowID); len(r.Deliveries) != 1 || r.Deliveries[0].State != workflows.StateDelivered {
			t.Fatalf("event %d: got %s, want one delivered", i, states(r))
		}
		got := rcv.requests()
		if len(got) != i+1 {
			t.Fatalf("event %d: receiver has %d requests, want %d", i, len(got), i+1)
		}
		req := got[i]
		if string(req.Body) != ev.want {
			t.Errorf("event %d body:\n got %s\nwant %s", i, req.Body, ev.want)
		}
		wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("hook-user:hook-pass"))
		for header, want := range map[string]string{
			"Content-Type": "application/json", "Authorization": wantAuth,
			"Webhook-Id": ev.event["eventId"].(string), "User-Agent": webhooks.UserAgent,
		} {
			if got := req.Header.Get(header); got != want {
				t.Errorf("event %d header %s: got %q, want %q", i, header, got, want)
			}
		}
		if req.Header.Get("Webhook-Timestamp") == "" || req.Path != "/hook" {
			t.Errorf("event %d: got timestamp %q path %q", i, req.Header.Get("Webhook-Timestamp"), req.Path)
		}
	}
}

func TestRetryKeepsEventIDAndDateTime(t *testing.T) {
	e := start(t, stack.Options{})
	clientID, key := e.client("acme")
	rcv := newReceiver(t, 500, 503, 200)
	e.createWebhook(clientID, key, hookBody("flaky", rcv.URL, "PhoneNumber.optedOut"))
	// No eventId and no dateTime: the defaults set at ingestion must be the
	// ones every attempt carries.
	a := e.ingest(clientID, "", map[string]any{"name": "PhoneNumber.optedOut", "phoneNumber": "+1555", "triggerType": "Inbound"})
	r := e.result(a.WorkflowID)
	if len(r.Deliveries) != 1 || r.Deliveries[0].State != workflows.StateDelivered || r.Deliveries[0].Attempts != 3 {
		t.Fatalf("got %s, want delivered after 3 attempts", states(r))
	}
	got := rcv.requests()
	if len(got) != 3 {
		t.Fatalf("got %d requests, want 3", len(got))
	}
	for i, req := range got[1:] {
		if string(req.Body) != string(got[0].Body) {
			t.Errorf("attempt %d body %s differs from the first %s", i+2, req.Body, got[0].Body)
		}
		if req.Header.Get("Webhook-Id") != a.EventID {
			t.Errorf("attempt %d webhook-id: got %q, want %q", i+2, req.Header.Get("Webhook-Id"), a.EventID)
		}
	}
	if !strings.Contains(string(got[0].Body), `"eventId":"`+a.EventID+`"`) || !strings.Contains(string(got[0].Body), `"dateTime":"`) {
		t.Errorf("body %s lacks the ingested eventId %s or a dateTime", got[0].Body, a.EventID)
	}
}

func TestDuplicateIngestionDeliversOnce(t *testing.T) {
	e := start(t, stack.Options{})
	clientID, key := e.client("acme")
	rcv := newReceiver(t)
	e.createWebhook(clientID, key, hookBody("once", rcv.URL, "PhoneNumber.optedIn"))
	event := map[string]any{"name": "PhoneNumber.optedIn", "eventId": "dup-1", "phoneNumber": "+1", "triggerType": "Manual", "dateTime": "2026-11-26T10:00:00Z"}
	first := e.ingest(clientID, "", event)
	second := e.ingest(clientID, "", event) // while the first may still run
	e.result(first.WorkflowID)
	third := e.ingest(clientID, "", event) // after the first closed
	if first.WorkflowID != second.WorkflowID || first.WorkflowID != third.WorkflowID {
		t.Errorf("got workflow ids %s, %s, %s, want one", first.WorkflowID, second.WorkflowID, third.WorkflowID)
	}
	e.result(third.WorkflowID)
	if n := len(rcv.requests()); n != 1 {
		t.Errorf("receiver got %d requests, want 1", n)
	}
}

func TestOfficeOverrides(t *testing.T) {
	e := start(t, stack.Options{})
	clientID, key := e.client("acme")
	main, north := newReceiver(t), newReceiver(t)
	e.createWebhook(clientID, key, map[string]any{
		"id": "offices", "url": main.URL, "matchingEvents": []string{"IncomingSms.received"},
		"perOfficeOverrides": []map[string]any{
			{"officeId": "north", "url": north.URL, "auth": map[string]any{"type": "Basic", "username": "north", "password": "north-pass"}},
			{"officeId": "south", "active": false},
		},
	})
	sms := func(id string) map[string]any {
		return map[string]any{"name": "IncomingSms.received", "eventId": id, "to": "+1", "from": "+2", "triggerType": "Inbound", "message": "m"}
	}
	for _, office := range []string{"", "north", "south", "west"} {
		a := e.ingest(clientID, office, sms("office-"+office))
		e.result(a.WorkflowID)
	}
	if got := len(main.requests()); got != 2 { // no office and "west"
		t.Errorf("main URL got %d requests, want 2 (no office, west)", got)
	}
	reqs := north.requests()
	if len(reqs) != 1 {
		t.Fatalf("north URL got %d requests, want 1", len(reqs))
	}
	if user, pass, ok := (&http.Request{Header: reqs[0].Header}).BasicAuth(); !ok || user != "north" || pass != "north-pass" {
		t.Errorf("north credentials: got %q/%q, want north/north-pass", user, pass)
	}
	for _, r := range main.requests() {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("main URL got an Authorization header, want none")
		}
	}
}

func TestInactiveAndForeignWebhooksReceiveNothing(t *testing.T) {
	e := start(t, stack.Options{})
	acme, acmeKey := e.client("acme")
	other, otherKey := e.client("other")
	inactive, foreign, active := newReceiver(t), newReceiver(t), newReceiver(t)
	off := hookBody("inactive", inactive.URL, "IncomingSms.received")
	off["active"] = false
	e.createWebhook(acme, acmeKey, off)
	e.createWebhook(acme, acmeKey, hookBody("active", active.URL, "IncomingSms.received"))
	e.createWebhook(other, otherKey, hookBody("active", foreign.URL, "IncomingSms.received"))
	a := e.ingest(acme, "", map[string]any{"name": "IncomingSms.received", "to": "+1", "from": "+2", "triggerType": "Inbound", "message": "m"})
	r := e.result(a.WorkflowID)
	if len(r.Deliveries) != 1 || r.Deliveries[0].WebhookID != "active" {
		t.Errorf("got %s, want only acme's active webhook", states(r))
	}
	// Count only this event's requests (by webhook-id): a port the kernel
	// hands out again may still draw another test's retries.
	if n := inactive.countOf(a.EventID) + foreign.countOf(a.EventID); n != 0 {
		t.Errorf("inactive and foreign receivers got %d requests for the event, want 0", n)
	}
	if n := active.countOf(a.EventID); n != 1 {
		t.Errorf("active receiver got %d requests for the event, want 1", n)
	}
}

func TestWebhookChangedWhileRetrying(t *testing.T) {
	e := start(t, stack.Options{}, 0, 2*time.Second, 2*time.Second)
	clientID, key := e.client("acme")
	deleted, renamed := newReceiver(t, 500), newReceiver(t, 500, 200)
	e.createWebhook(clientID, key, hookBody("to-delete", deleted.URL, "IncomingSms.received"))
	e.createWebhook(clientID, key, hookBody("to-rename", renamed.URL, "IncomingSms.received"))
	a := e.ingest(clientID, "", map[string]any{"name": "IncomingSms.received", "to": "+1", "from": "+2", "triggerType": "Inbound", "message": "m"})
	waitFor(t, "first attempts", func() bool { return len(deleted.requests()) == 1 && len(renamed.requests()) == 1 })
	// While both wait for their second attempt, the query reports them
	// pending with the time of that attempt.
	waitFor(t, "both deliveries pending after one attempt", func() bool {
		value, err := e.stack.Client.QueryWorkflow(context.Background(), a.WorkflowID, "", workflows.DeliveriesQuery)
		var pending []workflows.Delivery
		if err != nil || value.Get(&pending) != nil || len(pending) != 2 {
			return false
		}
		for _, d := range pending {
			if d.State != workflows.StatePending || d.Attempts != 1 || d.NextAttemptAt == nil || d.LastStatusCode != 500 {
				return false
			}
		}
		return true
	})
	if status, body := e.do("DELETE", "/api/v1/webhooks/to-delete", clientID, key, nil); status != http.StatusNoContent {
		t.Fatalf("delete: got %d %s", status, body)
	}
	if status, body := e.do("PUT", "/api/v1/webhooks/to-rename", clientID, key, hookBody("renamed", renamed.URL, "IncomingSms.received")); status != http.StatusOK {
		t.Fatalf("rename: got %d %s", status, body)
	}
	r := e.result(a.WorkflowID)
	got := map[string]workflows.DeliveryState{}
	for _, d := range r.Deliveries {
		got[d.WebhookID] = d.State
	}
	if got["to-delete"] != workflows.StateCancelled || got["to-rename"] != workflows.StateDelivered {
		t.Errorf("got %s, want to-delete cancelled and to-rename delivered", states(r))
	}
	if n := len(deleted.requests()); n != 1 {
		t.Errorf("deleted webhook's receiver got %d requests, want 1", n)
	}
}

func TestSearchAttributesFindTheEvent(t *testing.T) {
	e := start(t, stack.Options{})
	clientID, key := e.client("acme")
	rcv := newReceiver(t, 410)
	e.createWebhook(clientID, key, hookBody("gone", rcv.URL, "IncomingSms.received"))
	a := e.ingest(clientID, "north", map[string]any{"name": "IncomingSms.received", "to": "+1", "from": "+2", "triggerType": "Inbound", "message": "m"})
	e.result(a.WorkflowID)
	query := "WebhookClientId = 'acme' AND WebhookEventName = 'IncomingSms.received' AND WebhookOfficeId = 'north' AND WebhookIds = 'gone' AND WebhookDeliveryOutcomes = 'failed' AND WebhookEventId = '" + a.EventID + "'"
	waitFor(t, "visibility of "+a.WorkflowID, func() bool {
		resp, err := e.stack.Client.CountWorkflow(context.Background(), countRequest(query))
		return err == nil && resp.GetCount() == 1
	})
	// What a production worker runs with REGISTER_SEARCH_ATTRIBUTES=true:
	// on a namespace that has them already, it is a no-op.
	if err := workflows.RegisterSearchAttributes(context.Background(), e.stack.Client, "default"); err != nil {
		t.Errorf("registering existing search attributes again: %v", err)
	}
}
