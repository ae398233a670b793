// Package workflows holds the deterministic orchestration of event delivery:
// one DeliverEvent workflow per ingested event, its IDs, task queue and
// retry schedule. No I/O happens here; activities do it.
package workflows

import (
	"encoding/json"
	"time"

	"github.com/ocelot/webhooks/activities"
)

// TaskQueue is the queue the worker polls for delivery workflows and
// activities.
const TaskQueue = "webhook-deliveries"

// WorkflowID is the workflow ID of a client's event. Client IDs never
// contain ":", so the ID is unambiguous, and a second start of the same
// event is refused by Temporal: that is what makes ingestion idempotent.
func WorkflowID(clientID, eventID string) string {
	return "event:" + clientID + ":" + eventID
}

// DeliverEventInput is the input of the DeliverEvent workflow.
type DeliverEventInput struct {
	ClientID  string
	OfficeID  string `json:",omitempty"`
	EventName string
	EventID   string
	// Payload is the exact JSON body receivers get (SPEC 4), fixed at
	// ingestion so every attempt and resend carries the same eventId and
	// dateTime.
	// A string so that Temporal's JSON converter keeps its bytes as they are.
	Payload string
	// RetrySchedule is the delay before each attempt (the first is usually
	// zero). It travels in the input so that a configuration change never
	// alters a workflow already running.
	RetrySchedule []time.Duration
	// Resend, when set, makes this workflow a resend (SPEC 10) of one
	// delivery: no resolution, one delivery to that webhook.
	Resend *Resend `json:",omitempty"`
	// Shape is the code path the workflow was started for, fixed in its
	// history with the input. Zero (inputs of earlier versions) asks
	// workflow.GetVersion, as those workflows did; ShapeUnmarked and later
	// need no version marker, which saves two history events and a
	// visibility write per event (docs/design.md).
	Shape int `json:",omitempty"`
}

// ShapeUnmarked is the delivery-log path (version 1 of the delivery-log
// change) chosen by the input rather than by a version marker. The starter
// sets it on every new workflow.
const ShapeUnmarked = 2

// Resend names the new delivery a resend workflow makes; the API logged it
// (pending) before starting the workflow.
type Resend struct {
	DeliveryID string
	WebhookKey int64
	WebhookID  string
}

// MarshalJSON writes RetrySchedule as duration text ("5m0s"), readable in
// the Temporal UI, rather than nanoseconds.
func (in DeliverEventInput) MarshalJSON() ([]byte, error) {
	type plain DeliverEventInput
	return json.Marshal(struct {
		plain
		RetrySchedule []activities.Duration
	}{plain(in), activities.Durations(in.RetrySchedule)})
}

// UnmarshalJSON reads RetrySchedule as text or, as histories recorded
// before it was readable hold it, nanoseconds.
func (in *DeliverEventInput) UnmarshalJSON(b []byte) error {
	type plain DeliverEventInput
	var v struct {
		plain
		RetrySchedule []activities.Duration
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*in = DeliverEventInput(v.plain)
	in.RetrySchedule = make([]time.Duration, len(v.RetrySchedule))
	for i, d := range v.RetrySchedule {
		in.RetrySchedule[i] = time.Duration(d)
	}
	return nil
}

// DefaultRetrySchedule is SPEC 6.3's: 8 attempts over about 27.6 hours.
var DefaultRetrySchedule = []time.Duration{
	0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}
