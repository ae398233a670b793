package webhooks

import "time"

// DeliveryState is where one delivery (one event to one webhook) stands.
type DeliveryState string

// Delivery states (SPEC 10).
const (
	DeliveryPending   DeliveryState = "pending"
	DeliveryDelivered DeliveryState = "delivered"
	DeliveryFailed    DeliveryState = "failed"
	DeliveryCancelled DeliveryState = "cancelled"
)

// Valid reports whether s is one of the four states.
func (s DeliveryState) Valid() bool {
	switch s {
	case DeliveryPending, DeliveryDelivered, DeliveryFailed, DeliveryCancelled:
		return true
	}
	return false
}

// Final reports whether no attempt follows s.
func (s DeliveryState) Final() bool { return s.Valid() && s != DeliveryPending }

// Delivery is one event delivered to one webhook, or a resend of one, as
// the delivery log records it (SPEC 10).
type Delivery struct {
	ID         string
	ClientID   string
	EventID    string
	EventName  EventName
	WebhookKey int64
	// WebhookID is the webhook's current id (its id when the delivery was
	// made, once the webhook is deleted).
	WebhookID     string
	OfficeID      string
	State         DeliveryState
	Attempts      []Attempt
	NextAttemptAt *time.Time
	ResendOf      string
	WorkflowID    string
	Created       time.Time
	Updated       time.Time
}

// Attempt is one HTTP request of a delivery and what came of it.
type Attempt struct {
	Attempt    int
	At         time.Time
	URL        string
	StatusCode int
	Error      string
	Duration   time.Duration
	// ResponseBody is the first KiB of the receiver's answer, as text.
	ResponseBody string
}

// StoredEvent is an ingested event as the delivery log keeps it: the exact
// payload every delivery and resend sends.
type StoredEvent struct {
	ClientID  string
	EventID   string
	EventName EventName
	OfficeID  string
	DateTime  string
	Payload   []byte
	Created   time.Time
}

// DeliveryFilter selects a webhook's deliveries for one page of the log.
type DeliveryFilter struct {
	WebhookKey int64
	State      DeliveryState // "" = any
	EventName  EventName     // "" = any
	// Before is the cursor: only deliveries older than this position.
	// Zero starts at the newest.
	Before int64
	Limit  int
}

// SampleEvent is the event of a test delivery (SPEC 10): a valid payload of
// name with made-up numbers from the range reserved for fiction.
func SampleEvent(name EventName, eventID string, at time.Time) Event {
	e := Event{Name: name, EventID: eventID, DateTime: at.UTC().Format(time.RFC3339)}
	switch name {
	case IncomingSmsReceived:
		e.To, e.From, e.TriggerType, e.Message = "+15555550100", "+15555550101", "Inbound", "This is a test event."
	case OutboundSmsDelivered:
		e.To, e.From, e.TriggerType, e.Message = "+15555550101", "+15555550100", "Outbound", "This is a test event."
	case OutboundSmsDeliveryFailed:
		e.To, e.From, e.TriggerType, e.Message = "+15555550101", "+15555550100", "Outbound", "This is a test event."
		e.FailureReason = "Opted out"
	case PhoneNumberOptedOut, PhoneNumberOptedIn:
		e.PhoneNumber, e.TriggerType = "+15555550101", "Manual"
	}
	return e
}
