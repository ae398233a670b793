package activities

import "time"

// Metrics receives what the activities observe, for SPEC 12's metrics.
// Labels are classes and states only: never a URL, a phone number or a
// secret. A nil Metrics in Activities records nothing.
type Metrics interface {
	// AttemptFinished is called once per delivery attempt made, with its
	// outcome class (one of the AttemptClass constants) and duration.
	AttemptFinished(class AttemptClass, d time.Duration)
	// DeliveryFinished is called when a delivery reaches a final state
	// ("delivered", "failed", "cancelled").
	DeliveryFinished(state string)
}

// AttemptClass groups attempt outcomes for metrics (SPEC 12).
type AttemptClass string

// Attempt classes.
const (
	Class2xx     AttemptClass = "2xx"
	Class3xx     AttemptClass = "3xx"
	Class4xx     AttemptClass = "4xx"
	Class5xx     AttemptClass = "5xx"
	ClassTimeout AttemptClass = "timeout"
	ClassNetwork AttemptClass = "network"
	ClassRefused AttemptClass = "refused"
)
