package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/activities"
	"github.com/ocelot/webhooks/workflows"
)

// LogStore is what the delivery log endpoints (SPEC 10, 11) need of the
// store. Errors carry the domain's kinds.
type LogStore interface {
	// ListDeliveries returns a page, newest first, and the next page's
	// position (0 at the end).
	ListDeliveries(ctx context.Context, clientID string, f webhooks.DeliveryFilter) ([]webhooks.Delivery, int64, error)
	FindDelivery(ctx context.Context, clientID string, webhookKey int64, id string) (webhooks.Delivery, error)
	FindEvent(ctx context.Context, clientID, eventID string) (webhooks.StoredEvent, []webhooks.Delivery, error)
	FindEventPayload(ctx context.Context, clientID, eventID string) (webhooks.StoredEvent, error)
	CreateResend(ctx context.Context, original webhooks.Delivery, id, workflowID string) error
	DeleteDelivery(ctx context.Context, id string) error
	SigningSecrets(ctx context.Context, webhookKey int64) (webhooks.SigningSecrets, error)
	RotateSigningSecret(ctx context.Context, webhookKey int64) (string, error)
}

// DeliveryStarter starts resends and test events on Temporal.
type DeliveryStarter interface {
	StartResend(ctx context.Context, in workflows.DeliverEventInput) (workflowID string, err error)
	// RunTestEvent makes one attempt and waits for it up to
	// workflows.TestEventWait; workflows.ErrTestEventTimeout after that.
	RunTestEvent(ctx context.Context, in activities.DeliverAttemptInput) (activities.DeliverAttemptResult, error)
}

// Page size of a webhook's deliveries (SPEC 10).
const (
	defaultDeliveriesLimit = 20
	maxDeliveriesLimit     = 100
)

// deliveryJSON is a Delivery of SPEC 10.
type deliveryJSON struct {
	ID            string        `json:"id"`
	EventID       string        `json:"eventId"`
	EventName     string        `json:"eventName"`
	WebhookID     string        `json:"webhookId"`
	OfficeID      string        `json:"officeId,omitempty"`
	State         string        `json:"state"`
	Attempts      []attemptJSON `json:"attempts"`
	NextAttemptAt *time.Time    `json:"nextAttemptAt,omitempty"`
	ResendOf      string        `json:"resendOf,omitempty"`
	Created       time.Time     `json:"created"`
	Updated       time.Time     `json:"updated"`
}

// attemptJSON is an Attempt of SPEC 10.
type attemptJSON struct {
	Attempt      int       `json:"attempt"`
	At           time.Time `json:"at"`
	URL          string    `json:"url"`
	StatusCode   int       `json:"statusCode,omitempty"`
	Error        string    `json:"error,omitempty"`
	DurationMs   int64     `json:"durationMs"`
	ResponseBody string    `json:"responseBody,omitempty"`
}

type deliveryPageJSON struct {
	Data       []deliveryJSON `json:"data"`
	NextCursor *string        `json:"nextCursor"`
}

type eventJSON struct {
	EventID    string          `json:"eventId"`
	EventName  string          `json:"eventName"`
	DateTime   string          `json:"dateTime"`
	OfficeID   string          `json:"officeId,omitempty"`
	Payload    json.RawMessage `json:"payload"`
	Deliveries []deliveryJSON  `json:"deliveries"`
}

type resendJSON struct {
	DeliveryID string `json:"deliveryId"`
	WorkflowID string `json:"workflowId"`
}

// testAttemptJSON is the Attempt of a test event, with the event's id.
type testAttemptJSON struct {
	EventID string `json:"eventId"`
	attemptJSON
}

type secretJSON struct {
	Key string `json:"key"`
}

func toDeliveryJSON(d webhooks.Delivery) deliveryJSON {
	out := deliveryJSON{
		ID: d.ID, EventID: d.EventID, EventName: string(d.EventName), WebhookID: d.WebhookID,
		OfficeID: d.OfficeID, State: string(d.State), Attempts: make([]attemptJSON, len(d.Attempts)),
		NextAttemptAt: d.NextAttemptAt, ResendOf: d.ResendOf, Created: d.Created, Updated: d.Updated,
	}
	for i, a := range d.Attempts {
		out.Attempts[i] = toAttemptJSON(a)
	}
	return out
}

func toAttemptJSON(a webhooks.Attempt) attemptJSON {
	return attemptJSON{
		Attempt: a.Attempt, At: a.At, URL: a.URL, StatusCode: a.StatusCode, Error: a.Error,
		DurationMs: a.Duration.Milliseconds(), ResponseBody: a.ResponseBody,
	}
}

func toDeliveriesJSON(list []webhooks.Delivery) []deliveryJSON {
	out := make([]deliveryJSON, len(list))
	for i, d := range list {
		out[i] = toDeliveryJSON(d)
	}
	return out
}

// cursorPrefix versions the opaque cursor, so that its encoding can change
// without misreading a cursor a client kept.
const cursorPrefix = "d1:"

func encodeCursor(position int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(position, 10)))
}

func decodeCursor(s string) (int64, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(raw), cursorPrefix) {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(string(raw), cursorPrefix), 10, 64)
	return n, err == nil && n > 0
}

// deliveryFilter reads the query of GET …/deliveries, every bad parameter
// at once.
func deliveryFilter(r *http.Request) (webhooks.DeliveryFilter, error) {
	f := webhooks.DeliveryFilter{Limit: defaultDeliveriesLimit}
	v := &webhooks.ValidationError{}
	query := r.URL.Query()
	for _, key := range slices.Sorted(maps.Keys(query)) {
		values := query[key]
		if len(values) > 1 {
			v.Add(key, "must be given once")
			continue
		}
		value := values[0]
		switch key {
		case "limit":
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 || n > maxDeliveriesLimit {
				v.Add(key, fmt.Sprintf("must be a whole number from 1 to %d", maxDeliveriesLimit))
			}
			f.Limit = n
		case "cursor":
			position, ok := decodeCursor(value)
			if !ok {
				v.Add(key, "must be a nextCursor value from an earlier page")
			}
			f.Before = position
		case "state":
			f.State = webhooks.DeliveryState(value)
			if !f.State.Valid() {
				v.Add(key, "must be one of pending, delivered, failed, cancelled")
			}
		case "eventName":
			f.EventName = webhooks.EventName(value)
			if !f.EventName.Valid() {
				v.Add(key, "must be an event name such as IncomingSms.received")
			}
		default:
			v.Add(key, "unknown parameter; known: limit, cursor, state, eventName")
		}
	}
	return f, v.Err()
}

// findHook returns the authenticated client's webhook of the path.
func (s *server) findHook(r *http.Request) (webhooks.Webhook, error) {
	id, err := webhookID(r)
	if err != nil {
		return webhooks.Webhook{}, err
	}
	hook, err := s.store.FindWebhook(r.Context(), clientFrom(r.Context()).ID, id)
	if errors.Is(err, webhooks.ErrNotFound) {
		err = notFound(id)
	}
	return hook, err
}

func (s *server) handleListDeliveries(w http.ResponseWriter, r *http.Request) {
	hook, err := s.findHook(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := deliveryFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f.WebhookKey = hook.Key
	list, next, err := s.logStore.ListDeliveries(r.Context(), hook.ClientID, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := deliveryPageJSON{Data: toDeliveriesJSON(list)}
	if next > 0 {
		cursor := encodeCursor(next)
		page.NextCursor = &cursor
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *server) handleGetEvent(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["eventId"]
	notFound := public(webhooks.ErrNotFound, "event %q not found", id)
	if id == "" || len(id) > webhooks.MaxEventIDLength {
		s.writeError(w, r, notFound)
		return
	}
	event, deliveries, err := s.logStore.FindEvent(r.Context(), clientFrom(r.Context()).ID, id)
	if err != nil {
		if errors.Is(err, webhooks.ErrNotFound) {
			err = notFound
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, eventJSON{
		EventID: event.EventID, EventName: string(event.EventName), DateTime: event.DateTime,
		OfficeID: event.OfficeID, Payload: json.RawMessage(event.Payload), Deliveries: toDeliveriesJSON(deliveries),
	})
}

func (s *server) handleResendDelivery(w http.ResponseWriter, r *http.Request) {
	hook, err := s.findHook(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	deliveryID := mux.Vars(r)["deliveryId"]
	original, err := s.logStore.FindDelivery(r.Context(), hook.ClientID, hook.Key, deliveryID)
	if err != nil {
		if errors.Is(err, webhooks.ErrNotFound) {
			err = public(err, "delivery %q of webhook %q not found", deliveryID, hook.ID)
		}
		s.writeError(w, r, err)
		return
	}
	if original.State == webhooks.DeliveryPending {
		s.writeError(w, r, public(webhooks.ErrConflict, "delivery %q is still pending; resend it once it has ended", deliveryID))
		return
	}
	event, err := s.logStore.FindEventPayload(r.Context(), hook.ClientID, original.EventID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("resend %s: %w", deliveryID, err))
		return
	}
	original.WebhookID = hook.ID
	id := uuid.NewString()
	workflowID := workflows.ResendWorkflowID(hook.ClientID, id)
	if err := s.logStore.CreateResend(r.Context(), original, id, workflowID); err != nil {
		s.writeError(w, r, err)
		return
	}
	_, err = s.resends.StartResend(r.Context(), workflows.DeliverEventInput{
		ClientID: hook.ClientID, OfficeID: event.OfficeID, EventName: string(event.EventName),
		EventID: event.EventID, Payload: string(event.Payload), RetrySchedule: append([]time.Duration(nil), s.retrySchedule...),
		Resend: &workflows.Resend{DeliveryID: id, WebhookKey: hook.Key, WebhookID: hook.ID},
	})
	if err != nil {
		// Not accepted: take the pending row back so the log does not show a
		// resend that will never run. The request itself gets 503.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer cancel()
		if delErr := s.logStore.DeleteDelivery(ctx, id); delErr != nil {
			err = errors.Join(err, delErr)
		}
		s.writeError(w, r, fmt.Errorf("resend %s: %w", deliveryID, err))
		return
	}
	writeJSON(w, http.StatusAccepted, resendJSON{DeliveryID: id, WorkflowID: workflowID})
}

func (s *server) handleTestWebhook(w http.ResponseWriter, r *http.Request) {
	hook, err := s.findHook(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	name, err := readTestEventName(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if name == "" {
		name = hook.MatchingEvents[0]
	}
	eventID := "test-" + uuid.NewString()
	sample := webhooks.SampleEvent(name, eventID, time.Now())
	payload, err := sample.Payload()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	result, err := s.resends.RunTestEvent(r.Context(), activities.DeliverAttemptInput{
		ClientID: hook.ClientID, WebhookKey: hook.Key, EventName: string(name), EventID: eventID,
		Payload: string(payload),
	})
	switch {
	case errors.Is(err, workflows.ErrTestEventTimeout):
		s.writeError(w, r, public(errGatewayTimeout, "the test attempt did not finish within %s", workflows.TestEventWait))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	case result.Outcome == activities.OutcomeCancelled:
		s.writeError(w, r, notFound(hook.ID)) // deleted while we tested it
		return
	}
	writeJSON(w, http.StatusOK, testAttemptJSON{EventID: eventID, attemptJSON: attemptJSON{
		Attempt: 1, At: time.Now().Add(-time.Duration(result.Duration)).UTC(), URL: result.URL,
		StatusCode: result.StatusCode, Error: result.Error,
		DurationMs: time.Duration(result.Duration).Milliseconds(), ResponseBody: result.ResponseBody,
	}})
}

// readTestEventName reads the optional body {"eventName": …} of a test.
func readTestEventName(w http.ResponseWriter, r *http.Request) (webhooks.EventName, error) {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return "", nil
	}
	fields, err := readObject(w, r)
	if err != nil {
		return "", err
	}
	d := &decoder{}
	var name string
	for _, key := range sortedKeys(fields) {
		switch key {
		case "eventName":
			d.string(key, fields[key], &name)
			if !d.failed(key) && !webhooks.EventName(name).Valid() {
				d.add(key, "must be an event name such as IncomingSms.received")
			}
		default:
			d.add(key, "unknown field")
		}
	}
	return webhooks.EventName(name), d.err("eventName")
}

func (s *server) handleGetSecret(w http.ResponseWriter, r *http.Request) {
	hook, err := s.findHook(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	secrets, err := s.logStore.SigningSecrets(r.Context(), hook.Key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, secretJSON{Key: secrets.Current})
}

func (s *server) handleRotateSecret(w http.ResponseWriter, r *http.Request) {
	hook, err := s.findHook(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	secret, err := s.logStore.RotateSigningSecret(r.Context(), hook.Key)
	if err != nil {
		if errors.Is(err, webhooks.ErrNotFound) {
			err = notFound(hook.ID)
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, secretJSON{Key: secret})
}
