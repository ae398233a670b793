package activities

import (
	"sync"
	"time"

	"github.com/ocelot/webhooks"
)

// handoffTTL bounds how old a resolution's read of a webhook may be when a
// first attempt uses it instead of reading the webhook again. Both run in
// the event's first workflow task, milliseconds apart; an attempt that
// starts later than this reads the webhook itself.
const handoffTTL = time.Second

// handoff carries what the resolution of an event read of each matching
// webhook (configuration and signing secrets, opened) to the event's first
// attempt to it in the same worker: SPEC 6.4's read from PostgreSQL is then
// the one resolution made, and a first-try delivery costs two statements
// fewer. Nothing of it reaches workflow history. An entry is used once, by
// its workflow run's attempt 1; a worker that crashed or a workflow task
// retried elsewhere loses it, and the attempt reads the webhook (a retried
// task resolves again anyway). The zero value is ready to use.
type handoff struct {
	mu        sync.Mutex
	entries   map[handoffKey]handoffEntry
	lastSweep time.Time
}

type handoffKey struct {
	runID      string
	webhookKey int64
}

type handoffEntry struct {
	webhook webhooks.AttemptWebhook
	readAt  time.Time
}

// put keeps list, read at now by the resolution of workflow run runID.
func (h *handoff) put(runID string, list []webhooks.AttemptWebhook, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sweep(now)
	if h.entries == nil {
		h.entries = map[handoffKey]handoffEntry{}
	}
	for _, w := range list {
		h.entries[handoffKey{runID, w.Webhook.Key}] = handoffEntry{webhook: w, readAt: now}
	}
}

// take returns and forgets what run runID's resolution read of webhookKey,
// if it read it less than handoffTTL before now.
func (h *handoff) take(runID string, webhookKey int64, now time.Time) (webhooks.AttemptWebhook, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := handoffKey{runID, webhookKey}
	e, ok := h.entries[k]
	if !ok {
		return webhooks.AttemptWebhook{}, false
	}
	delete(h.entries, k)
	if now.Sub(e.readAt) > handoffTTL {
		return webhooks.AttemptWebhook{}, false
	}
	return e.webhook, true
}

// sweep drops, at most once per handoffTTL, the entries nobody took (their
// task failed, their attempt started late): while events are resolved, no
// opened credential stays in memory much longer than handoffTTL. h.mu is
// held.
func (h *handoff) sweep(now time.Time) {
	if now.Sub(h.lastSweep) <= handoffTTL {
		return
	}
	for k, e := range h.entries {
		if now.Sub(e.readAt) > handoffTTL {
			delete(h.entries, k)
		}
	}
	h.lastSweep = now
}
