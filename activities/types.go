// Package activities performs the side effects of event delivery: resolving
// which webhooks an event goes to, and making one HTTP delivery attempt.
// Credentials are read and decrypted here, inside the activity, and never
// appear in an activity's input, result or error (so never in workflow
// history).
package activities

import "time"

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
	Payload string
	// Attempt counts from 1.
	Attempt int
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
	Duration     time.Duration
	// RetryAfter is the receiver's Retry-After on 429 or 503, else zero.
	RetryAfter time.Duration `json:",omitempty"`
}
