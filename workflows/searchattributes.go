package workflows

import (
	"context"
	"encoding/json"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ocelot/webhooks/internal/searchattr"
)

// Custom search attributes, so that operators find every event of a client,
// a webhook, an event name or an office in the Temporal UI, and tell
// delivered, failed and cancelled deliveries apart. A cluster must register
// them before the first workflow starts (the dev stack does; see README).
var (
	ClientIDKey         = temporal.NewSearchAttributeKeyKeyword("WebhookClientId")
	EventNameKey        = temporal.NewSearchAttributeKeyKeyword("WebhookEventName")
	EventIDKey          = temporal.NewSearchAttributeKeyKeyword("WebhookEventId")
	OfficeIDKey         = temporal.NewSearchAttributeKeyKeyword("WebhookOfficeId")
	WebhookIDsKey       = temporal.NewSearchAttributeKeyKeywordList("WebhookIds")
	DeliveryOutcomesKey = temporal.NewSearchAttributeKeyKeywordList("WebhookDeliveryOutcomes")
)

// maxSearchAttributeValue is Temporal's default limit on the encoded size
// of one search attribute value (frontend.searchAttributesSizeOfValueLimit,
// 2 KiB). A longer value fails the workflow task, and the server then
// terminates the workflow: its deliveries would stop.
const maxSearchAttributeValue = 2048

// searchableWebhookIDs is the longest prefix of ids whose JSON list fits in
// one search attribute value: 100 ids of up to 17 characters, 15 of the
// longest (128). The event's other attributes, its query and the delivery
// log still name every webhook. Cutting only where the whole list would
// not fit leaves every upsert the server accepted as it was, so histories
// replay unchanged.
func searchableWebhookIDs(ids []string) []string {
	size := len("[]")
	for i, id := range ids {
		encoded, _ := json.Marshal(id)
		size += len(encoded)
		if i > 0 {
			size++ // the comma
		}
		if size > maxSearchAttributeValue {
			return ids[:i]
		}
	}
	return ids
}

// SearchAttributes lists the custom search attributes and their types, for
// registration on a cluster.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	ClientIDKey.GetName():         enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	EventNameKey.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	EventIDKey.GetName():          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	OfficeIDKey.GetName():         enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	WebhookIDsKey.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
	DeliveryOutcomesKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}

// RegisterSearchAttributes adds the custom search attributes that namespace
// lacks; it is safe to call on every start. It needs operator rights.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	_, err := searchattr.AddMissing(ctx, c.OperatorService(), namespace, SearchAttributes)
	return err
}
