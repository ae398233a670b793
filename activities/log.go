package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ocelot/webhooks"
)

// DeliveryLog is where the worker writes the delivery log of SPEC 10;
// *db.Store satisfies it.
type DeliveryLog interface {
	// CreateDeliveries records the event and a pending delivery to each
	// webhook, once per workflow whatever the number of calls, and returns
	// the delivery ids in order.
	CreateDeliveries(ctx context.Context, e webhooks.StoredEvent, workflowID string, hooks []webhooks.Delivery) ([]string, error)
	// RecordAttempt writes an attempt (once per number) and the state it
	// leaves its delivery in.
	RecordAttempt(ctx context.Context, deliveryID string, a webhooks.Attempt, state webhooks.DeliveryState, nextAttemptAt *time.Time) error
	// FinishDelivery ends a pending delivery without an attempt.
	FinishDelivery(ctx context.Context, deliveryID string, state webhooks.DeliveryState) error
	// PruneDeliveryLog deletes at most batch old deliveries and events.
	PruneDeliveryLog(ctx context.Context, cutoff time.Time, batch int) (int64, error)
	// FindEventPayload returns the client's event with its exact payload.
	FindEventPayload(ctx context.Context, clientID, eventID string) (webhooks.StoredEvent, error)
}

// errUndecryptable is the attempt error of a webhook whose stored secrets
// do not open: the operator must fix the key or the row; the client sees
// why its deliveries fail.
const errUndecryptable = "stored credentials of the webhook cannot be decrypted (encryption key changed or row corrupt)"

// ResolveDeliveries resolves the event's matching webhooks, as
// ResolveWebhooks does, and logs the event and a pending delivery to each
// (SPEC 10: a delivery is visible from resolution on). It runs as a local
// activity in the workflow's first task; a retry finds the rows it made.
func (a *Activities) ResolveDeliveries(ctx context.Context, in ResolveDeliveriesInput) (ResolveDeliveriesResult, error) {
	resolved, err := a.ResolveWebhooks(ctx, ResolveWebhooksInput{ClientID: in.ClientID, EventName: in.EventName, OfficeID: in.OfficeID})
	if err != nil {
		return ResolveDeliveriesResult{}, err
	}
	result := ResolveDeliveriesResult{Deliveries: make([]ResolvedDelivery, len(resolved.Webhooks))}
	hooks := make([]webhooks.Delivery, len(resolved.Webhooks))
	for i, h := range resolved.Webhooks {
		result.Deliveries[i] = ResolvedDelivery{Key: h.Key, ID: h.ID}
		hooks[i] = webhooks.Delivery{WebhookKey: h.Key, WebhookID: h.ID}
	}
	if a.Log == nil {
		return result, nil
	}
	var fields struct {
		DateTime string `json:"dateTime"`
	}
	if err := json.Unmarshal([]byte(in.Payload), &fields); err != nil {
		return ResolveDeliveriesResult{}, temporal.NewNonRetryableApplicationError(
			"resolve deliveries: payload is not a JSON object", ErrTypeInvalidInput, nil)
	}
	event := webhooks.StoredEvent{
		ClientID: in.ClientID, EventID: in.EventID, EventName: webhooks.EventName(in.EventName),
		OfficeID: in.OfficeID, DateTime: fields.DateTime, Payload: []byte(in.Payload),
	}
	ids, err := a.Log.CreateDeliveries(ctx, event, activity.GetInfo(ctx).WorkflowExecution.ID, hooks)
	if err != nil {
		return ResolveDeliveriesResult{}, fmt.Errorf("resolve deliveries: %w", err)
	}
	for i := range ids {
		result.Deliveries[i].DeliveryID = ids[i]
	}
	return result, nil
}

// record writes the attempt to the delivery log with the state it leaves
// the delivery in, and counts it in the metrics.
func (a *Activities) record(ctx context.Context, in DeliverAttemptInput, result DeliverAttemptResult) error {
	madeRequest := result.Class != ""
	state := webhooks.DeliveryPending
	var next *time.Time
	switch result.Outcome {
	case OutcomeDelivered:
		state = webhooks.DeliveryDelivered
	case OutcomeGone:
		state = webhooks.DeliveryFailed
	case OutcomeCancelled:
		state = webhooks.DeliveryCancelled
	default:
		if in.Attempt >= in.MaxAttempts {
			state = webhooks.DeliveryFailed
		} else {
			at := time.Now().Add(RetryDelay(time.Duration(in.NextDelay), time.Duration(result.RetryAfter), time.Duration(in.MaxDelay))).UTC()
			next = &at
		}
	}
	if a.Log != nil && in.DeliveryID != "" && !in.Test {
		attempt := webhooks.Attempt{}
		if result.Outcome != OutcomeCancelled {
			attempt = webhooks.Attempt{
				Attempt: in.Attempt, At: time.Now().Add(-time.Duration(result.Duration)).UTC(), URL: result.URL,
				StatusCode: result.StatusCode, Error: result.Error, Duration: time.Duration(result.Duration),
				ResponseBody: result.ResponseBody,
			}
		}
		if err := a.Log.RecordAttempt(ctx, in.DeliveryID, attempt, state, next); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
	}
	if a.Metrics != nil && !in.Test {
		if madeRequest {
			a.Metrics.AttemptFinished(result.Class, time.Duration(result.Duration))
		}
		if state.Final() && in.MaxAttempts > 0 {
			a.Metrics.DeliveryFinished(string(state))
		}
	}
	return nil
}

// FinishDeliveryInput ends a delivery whose workflow stopped it without an
// attempt (the workflow was cancelled).
type FinishDeliveryInput struct {
	DeliveryID string
	State      string
}

// FinishDelivery sets a pending delivery's final state in the log.
func (a *Activities) FinishDelivery(ctx context.Context, in FinishDeliveryInput) error {
	if a.Log == nil || in.DeliveryID == "" {
		return nil
	}
	if err := a.Log.FinishDelivery(ctx, in.DeliveryID, webhooks.DeliveryState(in.State)); err != nil {
		return err
	}
	if a.Metrics != nil {
		a.Metrics.DeliveryFinished(in.State)
	}
	return nil
}

// pruneBatch is small so that each DELETE holds its locks briefly and the
// pruner never delays deliveries.
const pruneBatch = 500

// PruneDeliveryLog deletes the delivery log older than the retention, in
// small batches, heartbeating between them so that a worker crash resumes
// where it stopped.
func (a *Activities) PruneDeliveryLog(ctx context.Context) (PruneDeliveryLogResult, error) {
	var result PruneDeliveryLogResult
	if a.Log == nil || a.Retention <= 0 {
		return result, nil
	}
	cutoff := time.Now().Add(-a.Retention)
	for {
		n, err := a.Log.PruneDeliveryLog(ctx, cutoff, pruneBatch)
		result.Deleted += n
		if err != nil {
			return result, err
		}
		if n == 0 {
			return result, nil
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, result.Deleted)
		}
	}
}

// RetryDelay is the wait before the next attempt: the schedule's (jittered)
// delay, raised to the receiver's Retry-After capped by the schedule's
// largest delay (SPEC 6.2). The workflow and the log both use it.
func RetryDelay(scheduled, retryAfter, maxDelay time.Duration) time.Duration {
	return max(scheduled, min(retryAfter, maxDelay)).Round(time.Millisecond)
}

// signatureHeader is the webhook-signature value: one signature per active
// secret, newest first, space-separated (SPEC 11).
func signatureHeader(s webhooks.SigningSecrets, msgID string, at time.Time, body []byte) (string, error) {
	var sigs []string
	for _, secret := range s.Active(at) {
		sig, err := webhooks.Sign(secret, msgID, at, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

func statusClass(status int) AttemptClass {
	switch {
	case status >= 200 && status <= 299:
		return Class2xx
	case status >= 300 && status <= 399:
		return Class3xx
	case status >= 500:
		return Class5xx
	}
	return Class4xx
}

// transportClass groups a request that got no HTTP answer: refused (the
// receiver refused the connection, or the egress guard refused the
// address), timeout, or any other network failure (DNS, reset, TLS).
func transportClass(err error) AttemptClass {
	var blocked *blockedAddressError
	var netErr net.Error
	switch {
	case errors.As(err, &blocked), errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case errors.As(err, &netErr) && netErr.Timeout():
		return ClassTimeout
	}
	return ClassNetwork
}

// DeliverLoggedAttempt is a retry of a logged delivery: DeliverAttempt with
// the payload read from the delivery log, where ResolveDeliveries sealed
// it, rather than from its input, so that a workflow's history carries the
// payload once however many retries it makes. A worker of an earlier
// release does not know this activity type: it fails the task, which
// Temporal retries until a worker that knows it takes it, rather than ever
// sending an empty body.
func (a *Activities) DeliverLoggedAttempt(ctx context.Context, in DeliverAttemptInput) (DeliverAttemptResult, error) {
	event, err := a.Log.FindEventPayload(ctx, in.ClientID, in.EventID)
	result := DeliverAttemptResult{Attempt: in.Attempt}
	switch {
	case err == nil:
		in.Payload = string(event.Payload)
		return a.DeliverAttempt(ctx, in)
	case errors.Is(err, webhooks.ErrNotFound):
		// Pruned (DELIVERY_RETENTION shorter than the retry schedule):
		// nothing is left to send.
		result.Outcome, result.Error = OutcomeCancelled, "the event is no longer in the delivery log (DELIVERY_RETENTION)"
	case errors.Is(err, webhooks.ErrUndecryptable):
		// Like a poisoned webhook: a failed attempt on the normal schedule,
		// never an endless activity retry.
		result.Outcome, result.Error = OutcomeRetry, "stored payload of the event cannot be decrypted (encryption key changed or row corrupt)"
	default:
		return DeliverAttemptResult{}, err // PostgreSQL: retried by Temporal
	}
	if err := a.record(ctx, in, result); err != nil {
		return DeliverAttemptResult{}, err
	}
	return result, nil
}
