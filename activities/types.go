// Package activities performs the side effects of event delivery: resolving
// which webhooks an event goes to, and making one HTTP delivery attempt.
// Credentials are read and decrypted here, inside the activity, and never
// appear in an activity's input, result or error (so never in workflow
// history).
package activities

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that workflow histories show readably
// ("5m0s", "1.234s") rather than in nanoseconds (SPEC 12). It still reads
// the plain numbers (nanoseconds) of histories written before, so running
// workflows keep replaying.
type Duration time.Duration

// MarshalJSON writes the duration as Go's duration text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads duration text, or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var text string
	if err := json.Unmarshal(b, &text); err == nil {
		v, err := time.ParseDuration(text)
		if err != nil {
			return fmt.Errorf("duration %q: %w", text, err)
		}
		*d = Duration(v)
		return nil
	}
	var nanos int64
	if err := json.Unmarshal(b, &nanos); err != nil {
		return fmt.Errorf("duration: want text such as \"5s\" or nanoseconds, got %s", b)
	}
	*d = Duration(nanos)
	return nil
}

// Durations converts a schedule for the wire.
func Durations(list []time.Duration) []Duration {
	out := make([]Duration, len(list))
	for i, d := range list {
		out[i] = Duration(d)
	}
	return out
}

// ResolveWebhooksInput names the event whose webhooks are wanted.
type ResolveWebhooksInput struct {
	ClientID  string
	EventName string
	OfficeID  string `json:",omitempty"`
}

// ResolvedWebhook identifies one matching webhook. Key is what every later
// attempt reads the webhook by; ID is for display and search only.
type ResolvedWebhook struct {
	Key int64
	ID  string
}

// ResolveWebhooksResult lists the matching webhooks, ordered by ID.
type ResolveWebhooksResult struct {
	Webhooks []ResolvedWebhook
}

// DeliverAttemptInput is one attempt to deliver one event to one webhook.
type DeliverAttemptInput struct {
	ClientID   string
	WebhookKey int64
	EventName  string
	OfficeID   string `json:",omitempty"`
	EventID    string
	// Payload is the exact body every attempt sends (SPEC 4). A string, not
	// a json.RawMessage: Temporal's JSON converter would re-encode raw JSON
	// with HTML escaping ("<" as "\u003c"), changing the bytes receivers get.
	// Empty in the input of DeliverLoggedAttempt, which reads it from the
	// delivery log.
	Payload string `json:",omitempty"`
	// Attempt counts from 1.
	Attempt int

	// The fields below were added with the delivery log; inputs recorded
	// before it lack them, and such attempts write no log.

	// DeliveryID is the delivery log's row this attempt is recorded in.
	DeliveryID string `json:",omitempty"`
	// MaxAttempts is the schedule's length: a failed last attempt ends the
	// delivery as failed.
	MaxAttempts int `json:",omitempty"`
	// NextDelay is the scheduled (jittered) wait before the next attempt,
	// and MaxDelay the schedule's largest: with the receiver's Retry-After
	// they give the next attempt's time that the log shows.
	NextDelay Duration `json:",omitempty"`
	MaxDelay  Duration `json:",omitempty"`
	// Test marks the one attempt of a test event (SPEC 10): header
	// webhook-test, sent even to an inactive webhook, not logged.
	Test bool `json:",omitempty"`
}

// ResolveDeliveriesInput names the event whose deliveries are to be made:
// the matching webhooks are resolved and a pending delivery of the event is
// logged for each.
type ResolveDeliveriesInput struct {
	ClientID  string
	EventName string
	OfficeID  string `json:",omitempty"`
	EventID   string
	// Payload is stored (encrypted) in the log, for the event view and
	// resends.
	Payload string
}

// ResolvedDelivery is one matching webhook and its delivery's log id.
type ResolvedDelivery struct {
	Key        int64
	ID         string
	DeliveryID string
}

// ResolveDeliveriesResult lists the deliveries to make, ordered by webhook
// ID.
type ResolveDeliveriesResult struct {
	Deliveries []ResolvedDelivery
}

// PruneDeliveryLogResult says how many rows a prune removed.
type PruneDeliveryLogResult struct {
	Deleted int64
}

// Outcome is how one attempt ended.
type Outcome string

// Attempt outcomes.
const (
	// OutcomeDelivered: the receiver answered 2xx.
	OutcomeDelivered Outcome = "delivered"
	// OutcomeRetry: the attempt failed and the delivery may be retried.
	OutcomeRetry Outcome = "retry"
	// OutcomeGone: the receiver answered 410; the delivery ends as failed.
	OutcomeGone Outcome = "gone"
	// OutcomeCancelled: the webhook was deleted, deactivated or no longer
	// matches; no request was made.
	OutcomeCancelled Outcome = "cancelled"
)

// DeliverAttemptResult is what an operator reads of one attempt in the
// Temporal UI. It never holds a credential.
type DeliverAttemptResult struct {
	Outcome    Outcome
	Attempt    int
	WebhookID  string `json:",omitempty"`
	URL        string `json:",omitempty"`
	StatusCode int    `json:",omitempty"`
	// Error describes a failure without a status (refused, DNS, TLS,
	// timeout, blocked address) or why the delivery was cancelled.
	Error string `json:",omitempty"`
	// ResponseBody keeps at most 1 KiB of the receiver's answer.
	ResponseBody string `json:",omitempty"`
	Duration     Duration
	// RetryAfter is the receiver's Retry-After on 429 or 503, else zero.
	RetryAfter Duration `json:",omitempty"`
	// Class groups the outcome for metrics and search; empty when no
	// request was made.
	Class AttemptClass `json:",omitempty"`
}
