package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/activities"
)

// TestEventWait is how long POST /webhooks/{id}/test waits for the attempt
// (SPEC 10).
const TestEventWait = 15 * time.Second

// TestEventWorkflowID is the workflow id of a test event.
func TestEventWorkflowID(clientID, eventID string) string {
	return "test:" + clientID + ":" + eventID
}

// SendTestEvent makes the one attempt of a test event (SPEC 10) and returns
// it. The attempt is made by the worker, like any delivery, so it leaves
// from the same addresses with the same egress rules and signature.
func SendTestEvent(ctx workflow.Context, in activities.DeliverAttemptInput) (activities.DeliverAttemptResult, error) {
	var a *activities.Activities
	in.Test, in.Attempt = true, 1
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		// The caller waits TestEventWait: there is room for one attempt at
		// the longest delivery timeout plus a quick retry of a store error.
		StartToCloseTimeout:    attemptStartToClose,
		ScheduleToCloseTimeout: 2 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumAttempts: 3},
		Summary:                "test attempt to webhook key " + fmt.Sprint(in.WebhookKey),
	})
	var result activities.DeliverAttemptResult
	err := workflow.ExecuteLocalActivity(ctx, a.DeliverAttempt, in).Get(ctx, &result)
	return result, err
}

// RunTestEvent starts SendTestEvent and waits up to TestEventWait for its
// attempt. A Temporal that cannot be reached wraps webhooks.ErrUnavailable.
func (s *Starter) RunTestEvent(ctx context.Context, in activities.DeliverAttemptInput) (activities.DeliverAttemptResult, error) {
	ctx, cancel := context.WithTimeout(ctx, TestEventWait)
	defer cancel()
	id := TestEventWorkflowID(in.ClientID, in.EventID)
	run, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		StaticSummary:         "test event to webhook key " + fmt.Sprint(in.WebhookKey) + " of client " + in.ClientID,
		TypedSearchAttributes: temporal.NewSearchAttributes(ClientIDKey.ValueSet(in.ClientID), EventNameKey.ValueSet(in.EventName), EventIDKey.ValueSet(in.EventID)),
		EnableEagerStart:      s.EagerStart,
	}, SendTestEvent, in)
	if err != nil {
		return activities.DeliverAttemptResult{}, fmt.Errorf("start test event %s: %w: %w", id, webhooks.ErrUnavailable, err)
	}
	var result activities.DeliverAttemptResult
	if err := run.Get(ctx, &result); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return result, fmt.Errorf("test event %s: %w", id, ErrTestEventTimeout)
		}
		return result, fmt.Errorf("test event %s: %w: %w", id, webhooks.ErrUnavailable, err)
	}
	return result, nil
}

// ErrTestEventTimeout: the test attempt did not finish within
// TestEventWait (it goes on; its workflow shows the outcome).
var ErrTestEventTimeout = errors.New("the test attempt did not finish in time")
