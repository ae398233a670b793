package activities

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ocelot/webhooks"
)

// WebhookStore is what the activities read; *db.Store satisfies it
// (activities must not import db).
type WebhookStore interface {
	// ListWebhooksForEvent returns all webhooks of the client listening to
	// name, active or not, with overrides, ordered by id, as attempts read
	// them.
	ListWebhooksForEvent(ctx context.Context, clientID string, name webhooks.EventName) ([]webhooks.AttemptWebhook, error)
	// FindAttemptWebhook returns the webhook of that internal key with its
	// signing secrets, or an error wrapping webhooks.ErrNotFound when it was
	// deleted.
	FindAttemptWebhook(ctx context.Context, key int64) (webhooks.AttemptWebhook, error)
}

// Activities holds the dependencies of the delivery activities. Register a
// pointer to it on the worker; workflows refer to its methods through a nil
// *Activities.
type Activities struct {
	Store WebhookStore
	// HTTP makes the deliveries; build it with NewHTTPClient. When nil, a
	// client with the default options (10 s timeout, no allowed private
	// network) is used.
	HTTP *http.Client
	// Log receives the delivery log; nil writes none (unit tests).
	Log DeliveryLog
	// Metrics counts attempts and deliveries; nil counts nothing.
	Metrics Metrics
	// Retention is how long PruneDeliveryLog keeps the log.
	Retention time.Duration

	// resolved hands what resolution read to the event's first attempts.
	resolved handoff
}

// ErrTypeInvalidInput is the application error type of an input that no
// retry can fix (an unknown event name, an empty payload): a bug in the
// caller, reported as a non-retryable error.
const ErrTypeInvalidInput = "InvalidInput"

var defaultHTTPClient = sync.OnceValue(func() *http.Client { return NewHTTPClient(HTTPOptions{}) })

func (a *Activities) httpClient() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return defaultHTTPClient()
}

// ResolveWebhooks lists the client's webhooks that take the event: those
// listening to its name and active once the office override is applied. It
// returns keys and ids only, so that no URL or credential enters workflow
// history; each attempt reads the rest by key.
func (a *Activities) ResolveWebhooks(ctx context.Context, in ResolveWebhooksInput) (ResolveWebhooksResult, error) {
	name := webhooks.EventName(in.EventName)
	if !name.Valid() {
		return ResolveWebhooksResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("resolve webhooks: unknown event name %q", in.EventName), ErrTypeInvalidInput, nil)
	}
	// A store error (PostgreSQL unreachable) is returned as is, so that
	// Temporal retries the activity.
	list, err := a.Store.ListWebhooksForEvent(ctx, in.ClientID, name)
	if err != nil {
		return ResolveWebhooksResult{}, fmt.Errorf("resolve webhooks of client %s for %s: %w", in.ClientID, name, err)
	}
	result := ResolveWebhooksResult{Webhooks: make([]ResolvedWebhook, 0, len(list))}
	matched := make([]webhooks.AttemptWebhook, 0, len(list))
	for i := range list {
		if _, ok := list[i].Webhook.Resolve(name, in.OfficeID); ok {
			result.Webhooks = append(result.Webhooks, ResolvedWebhook{Key: list[i].Webhook.Key, ID: list[i].Webhook.ID})
			matched = append(matched, list[i])
		}
	}
	if activity.IsActivity(ctx) {
		a.resolved.put(activity.GetInfo(ctx).WorkflowExecution.RunID, matched, time.Now())
	}
	// The store already orders by id; sorting again keeps the result, and so
	// the workflow's fan-out order, stable whatever the store does.
	sort.SliceStable(result.Webhooks, func(i, j int) bool { return result.Webhooks[i].ID < result.Webhooks[j].ID })
	return result, nil
}
