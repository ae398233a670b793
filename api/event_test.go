package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/workflows"
)

// These tests are unit tests of ingestion: a fake store and a fake starter.

func ingest(body string) *http.Request {
	return newRequest(http.MethodPost, "/api/v1/events", ingestUser, ingestPassword, body)
}

func TestIngestPayloads(t *testing.T) {
	tests := []struct {
		name  string
		event string // fields deliberately out of SPEC 4's order
		want  string
	}{
		{
			"IncomingSms.received",
			`{"message":"hi <b>&amp; \"you\"","dateTime":"2026-11-26T10:00:00Z","triggerType":"Inbound","from":"+15550002","to":"+15550001","eventId":"e-1","name":"IncomingSms.received"}`,
			`{"name":"IncomingSms.received","eventId":"e-1","to":"+15550001","from":"+15550002","triggerType":"Inbound","message":"hi <b>&amp; \"you\"","dateTime":"2026-11-26T10:00:00Z"}`,
		},
		{
			"OutboundSms.delivered",
			`{"name":"OutboundSms.delivered","eventId":"e-2","from":"+15550001","to":"+15550002","triggerType":"Outbound","message":"héllo ✓","dateTime":"2026-11-26T10:00:00+02:00"}`,
			`{"name":"OutboundSms.delivered","eventId":"e-2","to":"+15550002","from":"+15550001","triggerType":"Outbound","message":"héllo ✓","dateTime":"2026-11-26T10:00:00+02:00"}`,
		},
		{
			"OutboundSms.deliveryFailed",
			`{"name":"OutboundSms.deliveryFailed","failureReason":"Opted out","eventId":"e-3","to":"+15550002","from":"+15550001","triggerType":"Outbound","message":"m","dateTime":"2026-11-26T10:00:00.123Z"}`,
			`{"name":"OutboundSms.deliveryFailed","eventId":"e-3","to":"+15550002","from":"+15550001","triggerType":"Outbound","message":"m","failureReason":"Opted out","dateTime":"2026-11-26T10:00:00.123Z"}`,
		},
		{
			"PhoneNumber.optedOut",
			`{"triggerType":"Inbound","phoneNumber":"+15550003","name":"PhoneNumber.optedOut","eventId":"e-4","dateTime":"2026-11-26T10:00:00Z"}`,
			`{"name":"PhoneNumber.optedOut","eventId":"e-4","phoneNumber":"+15550003","triggerType":"Inbound","dateTime":"2026-11-26T10:00:00Z"}`,
		},
		{
			"PhoneNumber.optedIn",
			`{"name":"PhoneNumber.optedIn","eventId":"e-5","phoneNumber":"(555) 000-4","triggerType":"Manual","dateTime":"2026-11-26T10:00:00Z"}`,
			`{"name":"PhoneNumber.optedIn","eventId":"e-5","phoneNumber":"(555) 000-4","triggerType":"Manual","dateTime":"2026-11-26T10:00:00Z"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := &fakeStarter{}
			h := newFakeServer(newFakeStore(), events, nil)
			rec := serve(h, ingest(`{"clientId":"alice","officeId":"main-campus","event":`+tt.event+`}`))
			if rec.Code != http.StatusAccepted {
				t.Fatalf("got status %d, want 202; %s", rec.Code, rec.Body)
			}
			in := events.last(t)
			if got := string(in.Payload); got != tt.want {
				t.Errorf("payload:\ngot  %s\nwant %s", got, tt.want)
			}
			eventID := strings.TrimPrefix(tt.want[strings.Index(tt.want, `"eventId":"`):], `"eventId":"`)
			eventID = eventID[:strings.IndexByte(eventID, '"')]
			want := workflows.DeliverEventInput{
				ClientID: aliceID, OfficeID: "main-campus", EventName: tt.name, EventID: eventID,
				Payload: in.Payload, RetrySchedule: testSchedule,
			}
			if !reflect.DeepEqual(in, want) {
				t.Errorf("input: got %+v, want %+v", in, want)
			}
			got := decodeJSON[acceptedJSON](t, rec)
			if wantBody := (acceptedJSON{EventID: eventID, WorkflowID: workflows.WorkflowID(aliceID, eventID)}); got != wantBody {
				t.Errorf("body: got %+v, want %+v", got, wantBody)
			}
		})
	}
}

func TestIngestDefaults(t *testing.T) {
	events := &fakeStarter{}
	h := newFakeServer(newFakeStore(), events, nil)
	before := time.Now().UTC().Truncate(time.Second)
	rec := serve(h, ingest(`{"clientId":"alice","event":{"name":"PhoneNumber.optedOut","phoneNumber":"+1","triggerType":"Manual"}}`))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("got status %d, want 202; %s", rec.Code, rec.Body)
	}
	body := decodeJSON[acceptedJSON](t, rec)
	if _, err := uuid.Parse(body.EventID); err != nil {
		t.Errorf("got eventId %q, want a UUID", body.EventID)
	}
	if want := workflows.WorkflowID(aliceID, body.EventID); body.WorkflowID != want {
		t.Errorf("got workflowId %q, want %q", body.WorkflowID, want)
	}
	in := events.last(t)
	if in.EventID != body.EventID || in.OfficeID != "" {
		t.Errorf("got input %+v, want eventId %s and no office", in, body.EventID)
	}
	event, err := webhooks.ParseEvent([]byte(in.Payload))
	if err != nil {
		t.Fatalf("payload %s: %v", in.Payload, err)
	}
	at, err := time.Parse(time.RFC3339, event.DateTime)
	if err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("got dateTime %q, want the time of ingestion", event.DateTime)
	}
	if event.EventID != body.EventID {
		t.Errorf("got payload eventId %q, want %q", event.EventID, body.EventID)
	}
	// Two events without eventId are two events.
	serve(h, ingest(`{"clientId":"alice","event":{"name":"PhoneNumber.optedOut","phoneNumber":"+1","triggerType":"Manual"}}`))
	if second := events.last(t); second.EventID == in.EventID {
		t.Errorf("got the same eventId %q twice, want a new one", in.EventID)
	}
}

func TestIngestInvalid(t *testing.T) {
	valid := `{"name":"IncomingSms.received","to":"+1","from":"+2","triggerType":"Inbound","message":"m"}`
	tests := []struct {
		name       string
		body       string
		wantFields []string
	}{
		{"unknown event name", `{"clientId":"alice","event":{"name":"Sms.sent"}}`, []string{"event.name"}},
		{"missing event name", `{"clientId":"alice","event":{"to":"+1"}}`, []string{"event.name"}},
		{"unknown event field", `{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Manual","to":"+2"}}`, []string{"event.to"}},
		{"wrong triggerType", `{"clientId":"alice","event":{"name":"IncomingSms.received","to":"+1","from":"+2","triggerType":"Outbound","message":"m"}}`, []string{"event.triggerType"}},
		{"message too long", `{"clientId":"alice","event":{"name":"IncomingSms.received","to":"+1","from":"+2","triggerType":"Inbound","message":"` + strings.Repeat("é", 2001) + `"}}`, []string{"event.message"}},
		{"bad dateTime", `{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Manual","dateTime":"26/11/2026"}}`, []string{"event.dateTime"}},
		{"empty eventId", `{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","eventId":"","phoneNumber":"+1","triggerType":"Manual"}}`, []string{"event.eventId"}},
		{"missing event fields", `{"clientId":"alice","event":{"name":"OutboundSms.deliveryFailed"}}`, []string{"event.to", "event.from", "event.triggerType", "event.message", "event.failureReason"}},
		{"event not an object", `{"clientId":"alice","event":[1]}`, []string{"event"}},
		{"event null", `{"clientId":"alice","event":null}`, []string{"event"}},
		{"missing everything", `{}`, []string{"clientId", "event"}},
		{"unknown top-level field", `{"clientId":"alice","event":` + valid + `,"extra":true}`, []string{"extra"}},
		{"clientId not a string", `{"clientId":7,"event":` + valid + `}`, []string{"clientId"}},
		{"clientId with colon", `{"clientId":"a:b","event":` + valid + `}`, []string{"clientId"}},
		{"empty officeId", `{"clientId":"alice","officeId":"","event":` + valid + `}`, []string{"officeId"}},
		{"long officeId", `{"clientId":"alice","officeId":"` + strings.Repeat("o", 129) + `","event":` + valid + `}`, []string{"officeId"}},
		{"officeId not a string", `{"clientId":"alice","officeId":1,"event":` + valid + `}`, []string{"officeId"}},
		{"all at once", `{"clientId":"","officeId":"","zzz":1,"event":{"name":"IncomingSms.received","to":"+1","from":"+2","triggerType":"Manual","message":5,"dateTime":"now"}}`,
			[]string{"clientId", "officeId", "event.message", "zzz"}},
		{"all rule errors at once", `{"clientId":"alice","event":{"name":"IncomingSms.received","to":"","from":"+2","triggerType":"Manual","message":"m","dateTime":"now"}}`,
			[]string{"event.to", "event.triggerType", "event.dateTime"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := &fakeStarter{}
			h := newFakeServer(newFakeStore(), events, nil)
			body := checkError(t, serve(h, ingest(tt.body)), http.StatusBadRequest)
			var got []string
			for _, d := range body.Details {
				got = append(got, d.Field)
			}
			if !reflect.DeepEqual(got, tt.wantFields) {
				t.Errorf("got fields %q, want %q (%+v)", got, tt.wantFields, body.Details)
			}
			if len(events.inputs) != 0 {
				t.Errorf("got %d started workflows, want none", len(events.inputs))
			}
		})
	}
}

func TestIngestFailures(t *testing.T) {
	valid := `{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Manual"}}`
	storeDown := newFakeStore()
	storeDown.findErr = fmt.Errorf("find client alice: %w: dial tcp: connection refused", webhooks.ErrUnavailable)
	tests := []struct {
		name        string
		store       Store
		starterErr  error
		user, pass  string
		body        string
		wantStatus  int
		wantMessage string
	}{
		{"unknown client", newFakeStore(), nil, ingestUser, ingestPassword,
			`{"clientId":"nobody","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Manual"}}`,
			http.StatusNotFound, `client "nobody" not found`},
		{"wrong ingest password", newFakeStore(), nil, ingestUser, "wrong", valid, http.StatusUnauthorized, ""},
		{"wrong ingest user", newFakeStore(), nil, "other", ingestPassword, valid, http.StatusUnauthorized, ""},
		{"client credential", newFakeStore(), nil, aliceID, aliceKey, valid, http.StatusUnauthorized, ""},
		{"no credential", newFakeStore(), nil, "", "", valid, http.StatusUnauthorized, ""},
		{"Temporal unavailable", newFakeStore(), fmt.Errorf("start workflow: %w: connection refused", webhooks.ErrUnavailable),
			ingestUser, ingestPassword, valid, http.StatusServiceUnavailable, ""},
		{"store unavailable", storeDown, nil, ingestUser, ingestPassword, valid, http.StatusServiceUnavailable, ""},
		{"starter fails otherwise", newFakeStore(), errors.New("internal detail"),
			ingestUser, ingestPassword, valid, http.StatusInternalServerError, "internal server error"},
		{"not JSON", newFakeStore(), nil, ingestUser, ingestPassword, "", http.StatusUnsupportedMediaType, ""},
		{"too large", newFakeStore(), nil, ingestUser, ingestPassword,
			`{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"` + strings.Repeat("1", maxBodyBytes) + `"}}`,
			http.StatusRequestEntityTooLarge, ""},
		{"malformed", newFakeStore(), nil, ingestUser, ingestPassword, `{"clientId":`, http.StatusBadRequest, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := &fakeStarter{err: tt.starterErr}
			h := newFakeServer(tt.store, events, nil)
			req := newRequest(http.MethodPost, "/api/v1/events", tt.user, tt.pass, tt.body)
			if tt.body == "" {
				req.Header.Set("Content-Type", "text/plain")
			}
			rec := serve(h, req)
			body := checkError(t, rec, tt.wantStatus)
			if tt.wantMessage != "" && !strings.Contains(body.Message, tt.wantMessage) {
				t.Errorf("got message %q, want %q", body.Message, tt.wantMessage)
			}
			for _, leak := range []string{"refused", "internal detail"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("got body %s, want no internal error text", rec.Body)
				}
			}
		})
	}
}

func TestIngestDisabledWithoutCredential(t *testing.T) {
	h := NewServer(Config{Store: newFakeStore(), Events: &fakeStarter{}, Logger: slog.New(slog.DiscardHandler)})
	req := newRequest(http.MethodPost, "/api/v1/events", "", "", `{}`)
	req.SetBasicAuth("", "")
	checkError(t, serve(h, req), http.StatusUnauthorized)
}

func TestIngestUsesRequestContext(t *testing.T) {
	events := &ctxStarter{}
	h := newFakeServer(newFakeStore(), events, nil)
	req := ingest(`{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Manual"}}`)
	req = req.WithContext(contextWithMarker(req.Context()))
	if rec := serve(h, req); rec.Code != http.StatusAccepted {
		t.Fatalf("got status %d, want 202", rec.Code)
	}
	if !events.sawMarker {
		t.Errorf("got a context without the request's values, want the request's context")
	}
}

func TestDefaultRetrySchedule(t *testing.T) {
	events := &fakeStarter{}
	h := NewServer(Config{
		Store: newFakeStore(), Events: events,
		IngestUsername: ingestUser, IngestPassword: ingestPassword,
		Logger: slog.New(slog.DiscardHandler),
	})
	serve(h, ingest(`{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Manual"}}`))
	if got := events.last(t).RetrySchedule; !reflect.DeepEqual(got, workflows.DefaultRetrySchedule) {
		t.Errorf("got schedule %v, want %v", got, workflows.DefaultRetrySchedule)
	}
}

type markerKey struct{}

func contextWithMarker(ctx context.Context) context.Context {
	return context.WithValue(ctx, markerKey{}, true)
}

// ctxStarter checks that it is called with the request's context.
type ctxStarter struct{ sawMarker bool }

func (s *ctxStarter) StartDeliverEvent(ctx context.Context, in workflows.DeliverEventInput) (string, error) {
	s.sawMarker = ctx.Value(markerKey{}) != nil
	return workflows.WorkflowID(in.ClientID, in.EventID), nil
}
