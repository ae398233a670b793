package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ocelot/webhooks"
)

// Starter starts DeliverEvent workflows; the api package's ingestion uses it.
type Starter struct {
	Client client.Client
	// EagerStart asks the server to hand the first workflow task straight
	// back to a worker sharing Client, saving a round trip (dev stack).
	EagerStart bool
	// StartTimeout bounds one start, so that a producer hears 503 rather
	// than waiting while Temporal is unreachable. Zero means 5 seconds.
	StartTimeout time.Duration
}

// StartDeliverEvent durably starts the workflow of one event. A second start
// of the same (client, eventId) is refused by Temporal, as long as the first
// workflow runs or is retained, and answers the same workflow ID: that is
// ingestion's idempotency. Any other failure means the event was not
// accepted and wraps webhooks.ErrUnavailable, so the producer retries.
func (s *Starter) StartDeliverEvent(ctx context.Context, in DeliverEventInput) (string, error) {
	return s.start(ctx, WorkflowID(in.ClientID, in.EventID), in)
}

// ResendWorkflowID is the workflow ID of a resend: the new delivery's id
// is unique, so each resend is its own workflow.
func ResendWorkflowID(clientID, deliveryID string) string {
	return "resend:" + clientID + ":" + deliveryID
}

// StartResend durably starts the workflow of a resend (in.Resend set), whose
// delivery the caller logged as pending.
func (s *Starter) StartResend(ctx context.Context, in DeliverEventInput) (string, error) {
	if in.Resend == nil {
		return "", errors.New("start resend: no delivery to resend")
	}
	return s.start(ctx, ResendWorkflowID(in.ClientID, in.Resend.DeliveryID), in)
}

func (s *Starter) start(ctx context.Context, id string, in DeliverEventInput) (string, error) {
	in.Shape = ShapeUnmarked
	attrs := []temporal.SearchAttributeUpdate{
		ClientIDKey.ValueSet(in.ClientID),
		EventNameKey.ValueSet(in.EventName),
		EventIDKey.ValueSet(in.EventID),
	}
	summary := fmt.Sprintf("%s %s for client %s", in.EventName, in.EventID, in.ClientID)
	if in.OfficeID != "" {
		attrs = append(attrs, OfficeIDKey.ValueSet(in.OfficeID))
		summary += ", office " + in.OfficeID
	}
	if in.Resend != nil {
		// Known at start: set with the start rather than by an upsert.
		attrs = append(attrs, WebhookIDsKey.ValueSet([]string{in.Resend.WebhookID}))
		summary = "resend of " + summary + " to " + in.Resend.WebhookID
	}
	timeout := s.StartTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// A duplicate while the first still runs is not an error: the SDK
		// then returns the running workflow.
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowExecutionErrorWhenAlreadyStarted: false,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(attrs...),
		StaticSummary:                            summary,
		EnableEagerStart:                         s.EagerStart,
	}, DeliverEvent, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case err == nil, errors.As(err, &started):
		return id, nil
	default:
		return "", fmt.Errorf("start workflow %s: %w: %w", id, webhooks.ErrUnavailable, err)
	}
}
