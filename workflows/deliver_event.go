package workflows

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ocelot/webhooks/activities"
)

// DeliveriesQuery is the name of the query that returns each webhook's
// delivery state while the workflow runs (and after it closed).
const DeliveriesQuery = "deliveries"

// DeliveryState is where one event's delivery to one webhook stands.
type DeliveryState string

// Delivery states.
const (
	StatePending   DeliveryState = "pending"
	StateDelivered DeliveryState = "delivered"
	StateFailed    DeliveryState = "failed"
	StateCancelled DeliveryState = "cancelled"
)

// Delivery is the state of one event's delivery to one webhook, as the
// query and the workflow result report it.
type Delivery struct {
	WebhookKey int64
	WebhookID  string
	// DeliveryID is the delivery log's id (SPEC 10); empty in workflows
	// started before the log existed.
	DeliveryID string `json:",omitempty"`
	State      DeliveryState
	// Attempts made so far.
	Attempts       int
	LastStatusCode int    `json:",omitempty"`
	LastError      string `json:",omitempty"`
	// NextAttemptAt is set while a pending delivery waits for its next
	// attempt.
	NextAttemptAt *time.Time `json:",omitempty"`
}

// DeliverEventResult is the workflow's result: one entry per matching
// webhook, ordered by webhook ID.
type DeliverEventResult struct {
	Deliveries []Delivery
}

// attemptStartToClose bounds one HTTP attempt (whose own timeout is the
// worker's DELIVERY_TIMEOUT, at most 50 s) plus reading the webhook.
const attemptStartToClose = time.Minute

// infrastructureRetry retries an activity that failed for a reason other
// than the receiver (PostgreSQL down, worker crash): such a failure is not a
// delivery attempt, so it is retried without limit rather than lost.
var infrastructureRetry = &temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    time.Minute,
}

// deliveryLogChange is the workflow.GetVersion change id of the delivery
// log. Version 1 logs every delivery and attempt (SPEC 10), makes each
// first attempt a local activity inside the first workflow task, and
// writes search attributes once when every delivery ended at its first
// attempt. Workflows started before it (DefaultVersion) run as they did.
const (
	deliveryLogChange  = "delivery-log"
	deliveryLogVersion = 1
)

// payloadFromLogChange is the workflow.GetVersion change id of retries
// that read the payload from the delivery log (DeliverLoggedAttempt)
// instead of carrying it in their input: the history then holds the
// payload once, in its start event, however many retries it makes, so its
// size no longer grows with the payload times the retries
// (docs/reliability.md, the worst case). It is asked at the first retry: a
// first-try delivery records no marker.
const (
	payloadFromLogChange  = "payload-from-log"
	payloadFromLogVersion = 1
)

// DeliverEvent delivers one event to every matching webhook of its client,
// independently and in parallel, each with the retry schedule of the input.
// Every attempt is its own activity (the first a local activity), so the
// Temporal UI shows each one with its number, URL, status or error and
// duration.
func DeliverEvent(ctx workflow.Context, in DeliverEventInput) (DeliverEventResult, error) {
	if len(in.RetrySchedule) == 0 {
		return DeliverEventResult{}, temporal.NewNonRetryableApplicationError("empty retry schedule", "InvalidInput", nil)
	}
	var a *activities.Activities
	var deliveries []*Delivery
	err := workflow.SetQueryHandler(ctx, DeliveriesQuery, func() ([]Delivery, error) {
		return snapshot(deliveries), nil
	})
	if err != nil {
		return DeliverEventResult{}, fmt.Errorf("set query handler: %w", err)
	}
	// A workflow started with ShapeUnmarked takes the delivery-log path
	// without a version marker. Should a worker of the previous release run
	// it, that worker records the marker and takes the same path; replay
	// here skips a version marker no GetVersion call asks for.
	logged := in.Shape >= ShapeUnmarked ||
		workflow.GetVersion(ctx, deliveryLogChange, workflow.DefaultVersion, deliveryLogVersion) == deliveryLogVersion

	// Resolving is one short database read, so it runs as a local activity:
	// inside the first workflow task, with its result recorded as a marker,
	// which saves a round trip through the server and three history events
	// per event (measured in docs/performance.md).
	resolveCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         infrastructureRetry,
		Summary:             "resolve matching webhooks",
	})
	switch {
	case !logged:
		var resolved activities.ResolveWebhooksResult
		err = workflow.ExecuteLocalActivity(resolveCtx, a.ResolveWebhooks, activities.ResolveWebhooksInput{
			ClientID: in.ClientID, EventName: in.EventName, OfficeID: in.OfficeID,
		}).Get(ctx, &resolved)
		for _, hook := range resolved.Webhooks {
			deliveries = append(deliveries, &Delivery{WebhookKey: hook.Key, WebhookID: hook.ID, State: StatePending})
		}
	case in.Resend != nil:
		deliveries = []*Delivery{{WebhookKey: in.Resend.WebhookKey, WebhookID: in.Resend.WebhookID,
			DeliveryID: in.Resend.DeliveryID, State: StatePending}}
	default:
		var resolved activities.ResolveDeliveriesResult
		err = workflow.ExecuteLocalActivity(resolveCtx, a.ResolveDeliveries, activities.ResolveDeliveriesInput{
			ClientID: in.ClientID, EventName: in.EventName, OfficeID: in.OfficeID, EventID: in.EventID, Payload: in.Payload,
		}).Get(ctx, &resolved)
		for _, hook := range resolved.Deliveries {
			deliveries = append(deliveries, &Delivery{WebhookKey: hook.Key, WebhookID: hook.ID, DeliveryID: hook.DeliveryID, State: StatePending})
		}
	}
	if err != nil {
		return DeliverEventResult{}, fmt.Errorf("resolve webhooks: %w", err)
	}
	// The webhook ids the WebhookIds search attribute holds.
	ids := make([]string, len(deliveries))
	for i, d := range deliveries {
		ids[i] = d.WebhookID
	}
	ids = searchableWebhookIDs(ids)
	if !logged {
		if err := workflow.UpsertTypedSearchAttributes(ctx, WebhookIDsKey.ValueSet(ids)); err != nil {
			return DeliverEventResult{}, fmt.Errorf("upsert webhook ids: %w", err)
		}
	}

	wg := workflow.NewWaitGroup(ctx)
	for _, d := range deliveries {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			deliver(ctx, a, in, d, logged)
			workflow.SetCurrentDetails(ctx, progress(deliveries))
		})
	}
	idsUpserted := !logged
	if logged && len(deliveries) > 0 {
		// Each visibility write costs the server a database write: when every
		// delivery ended at its first attempt, one write sets the webhook ids
		// and the outcomes together; otherwise the ids are searchable while
		// retries wait, and the outcomes follow at the end.
		if err := workflow.Await(ctx, func() bool { return firstAttemptsDone(deliveries) }); err != nil {
			return DeliverEventResult{}, fmt.Errorf("await first attempts: %w", err)
		}
		if !allFinal(deliveries) {
			if err := workflow.UpsertTypedSearchAttributes(ctx, WebhookIDsKey.ValueSet(ids)); err != nil {
				return DeliverEventResult{}, fmt.Errorf("upsert webhook ids: %w", err)
			}
			idsUpserted = true
		}
	}
	wg.Wait(ctx)

	if outcomes := outcomeList(deliveries); len(outcomes) > 0 {
		updates := []temporal.SearchAttributeUpdate{DeliveryOutcomesKey.ValueSet(outcomes)}
		if !idsUpserted {
			updates = append(updates, WebhookIDsKey.ValueSet(ids))
		}
		if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
			return DeliverEventResult{}, fmt.Errorf("upsert outcomes: %w", err)
		}
	}
	return DeliverEventResult{Deliveries: snapshot(deliveries)}, nil
}

// deliver runs the attempts of one event to one webhook until it is
// delivered, ends (410, cancelled) or the schedule is spent. logged selects
// version 1 of deliveryLogChange.
func deliver(ctx workflow.Context, a *activities.Activities, in DeliverEventInput, d *Delivery, logged bool) {
	var retryAfter time.Duration
	attempts := len(in.RetrySchedule)
	for attempt := 1; attempt <= attempts; attempt++ {
		if delay := attemptDelay(in.RetrySchedule, attempt, in.EventID, d.WebhookKey, retryAfter); delay > 0 {
			next := workflow.Now(ctx).Add(delay)
			d.NextAttemptAt = &next
			timer := workflow.NewTimerWithOptions(ctx, delay, workflow.TimerOptions{
				Summary: fmt.Sprintf("wait %s before attempt %d to %s", delay, attempt, d.WebhookID),
			})
			if err := timer.Get(ctx, nil); err != nil {
				d.State, d.LastError, d.NextAttemptAt = StateFailed, "workflow cancelled", nil
				finishLogged(ctx, a, d, logged)
				return
			}
			d.NextAttemptAt = nil
		}

		input := activities.DeliverAttemptInput{
			ClientID: in.ClientID, WebhookKey: d.WebhookKey, EventName: in.EventName,
			OfficeID: in.OfficeID, EventID: in.EventID, Payload: in.Payload, Attempt: attempt,
		}
		summary := fmt.Sprintf("attempt %d/%d to %s", attempt, attempts, d.WebhookID)
		var future workflow.Future
		if logged {
			input.DeliveryID, input.MaxAttempts = d.DeliveryID, attempts
			input.MaxDelay = activities.Duration(maxDelay(in.RetrySchedule))
			if attempt < attempts {
				input.NextDelay = activities.Duration(attemptDelay(in.RetrySchedule, attempt+1, in.EventID, d.WebhookKey, 0))
			}
		}
		if logged && attempt == 1 {
			// The first attempt runs inside the workflow task, like the
			// resolution: a first-try delivery then costs one workflow task.
			// A worker crash during that task repeats it, and with it this
			// request (at-least-once); the log keeps one record per attempt.
			future = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
				StartToCloseTimeout: attemptStartToClose,
				RetryPolicy:         infrastructureRetry,
				Summary:             summary,
			}), a.DeliverAttempt, input)
		} else {
			deliverAttempt := a.DeliverAttempt
			if logged && d.DeliveryID != "" &&
				workflow.GetVersion(ctx, payloadFromLogChange, workflow.DefaultVersion, payloadFromLogVersion) == payloadFromLogVersion {
				input.Payload, deliverAttempt = "", a.DeliverLoggedAttempt
			}
			future = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
				StartToCloseTimeout: attemptStartToClose,
				RetryPolicy:         infrastructureRetry,
				Summary:             summary,
			}), deliverAttempt, input)
		}
		var result activities.DeliverAttemptResult
		if err := future.Get(ctx, &result); err != nil {
			// Only cancellation of the workflow gets here: infrastructure
			// failures are retried by the activity's policy without limit.
			var canceled *temporal.CanceledError
			reason := "attempt could not run"
			if errors.As(err, &canceled) {
				reason = "workflow cancelled"
			}
			d.State, d.LastError = StateFailed, reason
			finishLogged(ctx, a, d, logged)
			return
		}
		d.Attempts = attempt
		d.LastStatusCode, d.LastError = result.StatusCode, result.Error
		switch result.Outcome {
		case activities.OutcomeDelivered:
			d.State = StateDelivered
			return
		case activities.OutcomeGone:
			d.State = StateFailed
			return
		case activities.OutcomeCancelled:
			d.State = StateCancelled
			return
		}
		retryAfter = time.Duration(result.RetryAfter)
	}
	d.State = StateFailed
}

// finishLogged records in the log a delivery that the workflow ended
// without an attempt's result (cancellation). It runs on a disconnected
// context, because the workflow's own is cancelled.
func finishLogged(ctx workflow.Context, a *activities.Activities, d *Delivery, logged bool) {
	if !logged || d.DeliveryID == "" {
		return
	}
	ctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
		Summary:             "log delivery to " + d.WebhookID + " as " + string(d.State),
	})
	// Best effort: the workflow is ending; the log would otherwise show the
	// delivery pending until it is pruned.
	_ = workflow.ExecuteLocalActivity(ctx, a.FinishDelivery, activities.FinishDeliveryInput{
		DeliveryID: d.DeliveryID, State: string(d.State),
	}).Get(ctx, nil)
}

// firstAttemptsDone reports whether every delivery has made its first
// attempt, ended, or is waiting on a timer.
func firstAttemptsDone(deliveries []*Delivery) bool {
	for _, d := range deliveries {
		if d.Attempts == 0 && d.State == StatePending && d.NextAttemptAt == nil {
			return false
		}
	}
	return true
}

func allFinal(deliveries []*Delivery) bool {
	for _, d := range deliveries {
		if d.State == StatePending {
			return false
		}
	}
	return true
}

func snapshot(deliveries []*Delivery) []Delivery {
	out := make([]Delivery, len(deliveries))
	for i, d := range deliveries {
		out[i] = *d
	}
	return out
}

// outcomeList is the sorted set of final states, for the
// WebhookDeliveryOutcomes search attribute.
func outcomeList(deliveries []*Delivery) []string {
	seen := map[string]bool{}
	var list []string
	for _, d := range deliveries {
		if s := string(d.State); !seen[s] {
			seen[s] = true
			list = append(list, s)
		}
	}
	sort.Strings(list)
	return list
}

// progress is the workflow's current details line in the UI, e.g.
// "2 delivered, 1 pending".
func progress(deliveries []*Delivery) string {
	counts := map[DeliveryState]int{}
	for _, d := range deliveries {
		counts[d.State]++
	}
	var parts []string
	for _, s := range []DeliveryState{StateDelivered, StatePending, StateFailed, StateCancelled} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return strings.Join(parts, ", ")
}
