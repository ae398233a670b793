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

	"github.com/ocelot/webhooks/activities"
)

// PruneScheduleID is the Temporal Schedule that prunes the delivery log.
const PruneScheduleID = "delivery-log-prune"

// PruneInterval is how often the delivery log is pruned.
const PruneInterval = time.Hour

// PruneDeliveryLog deletes the delivery log older than the worker's
// DELIVERY_RETENTION, in small batches (SPEC 10). A Schedule runs it, so
// the pruning is visible, retried and never runs twice at once.
func PruneDeliveryLog(ctx workflow.Context) (activities.PruneDeliveryLogResult, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
		Summary:             "prune the delivery log",
	})
	var result activities.PruneDeliveryLogResult
	err := workflow.ExecuteActivity(ctx, a.PruneDeliveryLog).Get(ctx, &result)
	return result, err
}

// EnsurePruneSchedule creates the Schedule of PruneDeliveryLog unless it
// exists; every worker calls it at start.
func EnsurePruneSchedule(ctx context.Context, c client.Client) error {
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   PruneScheduleID,
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: PruneInterval}}},
		Action: &client.ScheduleWorkflowAction{
			ID:        "delivery-log-prune",
			Workflow:  PruneDeliveryLog,
			TaskQueue: TaskQueue,
		},
		// One prune at a time; a missed run is simply the next one's work.
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", PruneScheduleID, err)
	}
	return nil
}
