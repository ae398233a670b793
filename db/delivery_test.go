package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
)

// newAcmeStore is a store on a fresh database, with its connection for
// checks in SQL, and the client "acme".
func newAcmeStore(t *testing.T) (*db.Store, *sqlx.DB) {
	t.Helper()
	conn := dbtest.New(t)
	c, err := db.NewCipher(dbtest.TestKey())
	if err != nil {
		t.Fatal(err)
	}
	store := db.NewStore(conn, c)
	if err := store.CreateClient(context.Background(), webhooks.Client{ID: "acme", Name: "Acme", KeyHash: webhooks.HashAPIKey("k")}); err != nil {
		t.Fatal(err)
	}
	return store, conn
}

// newLogFixture is a store with one client, one webhook and one event.
func newLogFixture(t *testing.T) (*db.Store, webhooks.Webhook, webhooks.StoredEvent) {
	t.Helper()
	store := dbtest.NewStore(t)
	ctx := context.Background()
	if err := store.CreateClient(ctx, webhooks.Client{ID: "acme", Name: "Acme", KeyHash: webhooks.HashAPIKey("k")}); err != nil {
		t.Fatal(err)
	}
	hook := webhooks.Webhook{ClientID: "acme", ID: "hook", URL: "https://example.com/h",
		MatchingEvents: []webhooks.EventName{webhooks.IncomingSmsReceived}, Active: true, Auth: webhooks.Auth{Type: webhooks.AuthNone}}
	if err := store.CreateWebhook(ctx, &hook); err != nil {
		t.Fatal(err)
	}
	event := webhooks.StoredEvent{ClientID: "acme", EventID: "ev-1", EventName: webhooks.IncomingSmsReceived,
		DateTime: "2026-11-26T10:00:00Z", Payload: []byte(`{"name":"IncomingSms.received","eventId":"ev-1","message":"<hi> & bye"}`)}
	return store, hook, event
}

// newLoggedDelivery is newLogFixture with the event's pending delivery to
// the webhook logged, by workflow "wf"; ids holds its id.
func newLoggedDelivery(t *testing.T) (*db.Store, webhooks.Webhook, []string) {
	t.Helper()
	store, hook, event := newLogFixture(t)
	ids, err := store.CreateDeliveries(context.Background(), event, "wf", []webhooks.Delivery{{WebhookKey: hook.Key, WebhookID: hook.ID}})
	if err != nil {
		t.Fatal(err)
	}
	return store, hook, ids
}

func TestCreateDeliveriesIsIdempotentPerWorkflow(t *testing.T) {
	store, hook, event := newLogFixture(t)
	ctx := context.Background()
	hooks := []webhooks.Delivery{{WebhookKey: hook.Key, WebhookID: hook.ID}}
	first, err := store.CreateDeliveries(ctx, event, "event:acme:ev-1", hooks)
	if err != nil {
		t.Fatal(err)
	}
	again, err := store.CreateDeliveries(ctx, event, "event:acme:ev-1", hooks)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || first[0] == "" || again[0] != first[0] {
		t.Fatalf("got ids %v then %v, want the same single id", first, again)
	}
	got, deliveries, err := store.FindEvent(ctx, "acme", "ev-1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Payload, event.Payload) {
		t.Errorf("got payload %s, want the exact bytes %s", got.Payload, event.Payload)
	}
	if len(deliveries) != 1 || deliveries[0].State != webhooks.DeliveryPending || deliveries[0].WebhookID != "hook" {
		t.Errorf("got deliveries %+v, want one pending to hook", deliveries)
	}
}

// TestCreateDeliveriesFanOut: one call logs every webhook's delivery, in
// the order given; a later call with more webhooks keeps the deliveries
// already made and adds the rest; a call gets every id, also when another
// call for the workflow commits meanwhile.
func TestCreateDeliveriesFanOut(t *testing.T) {
	store, conn := newAcmeStore(t)
	ctx := context.Background()
	event := webhooks.StoredEvent{ClientID: "acme", EventID: "ev-1", EventName: webhooks.IncomingSmsReceived,
		DateTime: "2026-11-26T10:00:00Z", Payload: []byte(`{"eventId":"ev-1"}`)}
	var hooks []webhooks.Delivery
	for i := range 5 {
		h := webhooks.Webhook{ClientID: "acme", ID: fmt.Sprintf("hook-%d", i), URL: "https://example.com/h",
			MatchingEvents: []webhooks.EventName{webhooks.IncomingSmsReceived}, Active: true, Auth: webhooks.Auth{Type: webhooks.AuthNone}}
		if err := store.CreateWebhook(ctx, &h); err != nil {
			t.Fatal(err)
		}
		hooks = append(hooks, webhooks.Delivery{WebhookKey: h.Key, WebhookID: h.ID})
	}
	first, err := store.CreateDeliveries(ctx, event, "wf", hooks[:2])
	if err != nil {
		t.Fatal(err)
	}
	all, err := store.CreateDeliveries(ctx, event, "wf", hooks)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(hooks) || all[0] != first[0] || all[1] != first[1] || slices.Contains(all, "") {
		t.Fatalf("got %v after %v, want the first two kept and every id set", all, first)
	}
	_, logged, err := store.FindEvent(ctx, "acme", event.EventID)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]string{}
	for _, d := range logged {
		byID[d.ID] = d.WebhookID
	}
	for i, id := range all {
		if byID[id] != hooks[i].WebhookID {
			t.Errorf("delivery %s is to %q, want %q", id, byID[id], hooks[i].WebhookID)
		}
	}
	if len(logged) != len(hooks) {
		t.Errorf("logged %d deliveries, want %d", len(logged), len(hooks))
	}

	// A call racing another for the same workflow (a resolution retried
	// while the first still runs): the other's delivery commits while this
	// call waits on it, after this call's snapshot was taken. The call
	// still returns it.
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // committed below
	const racer = "11111111-1111-1111-1111-111111111111"
	if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, client_id, event_id, event_name, webhook_key, webhook_id, workflow_id, state)
		VALUES ($1, 'acme', $2, $3, $4, $5, 'wf-race', 'pending')`, racer, event.EventID, string(event.EventName), hooks[0].WebhookKey, hooks[0].WebhookID); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string, 1)
	go func() {
		ids, err := store.CreateDeliveries(ctx, event, "wf-race", hooks)
		if err != nil {
			t.Error(err)
		}
		done <- ids
	}()
	// Wait until the call waits on the uncommitted row.
	for waiting := 0; waiting == 0; time.Sleep(10 * time.Millisecond) {
		if err := conn.GetContext(ctx, &waiting, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	raced := <-done
	if len(raced) != len(hooks) || raced[0] != racer || slices.Contains(raced, "") {
		t.Fatalf("racing call got %v, want every id, the other call's %s first", raced, racer)
	}
}

// TestPreparedStatementsFirstUseConcurrently: the statements every
// delivery runs are prepared on first use; callers racing for that first
// use all get a working statement.
func TestPreparedStatementsFirstUseConcurrently(t *testing.T) {
	store, hook, event := newLogFixture(t)
	ctx := context.Background()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			_, err := store.CreateDeliveries(ctx, event, fmt.Sprintf("wf-%d", i), []webhooks.Delivery{{WebhookKey: hook.Key, WebhookID: hook.ID}})
			if err == nil {
				_, err = findByKey(ctx, store, hook.Key)
			}
			if err == nil {
				_, err = store.SigningSecrets(ctx, hook.Key)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestRecordAttemptWithoutRequest: a delivery ended without a request
// (attempt 0, a cancellation) gets its state and no attempt.
func TestRecordAttemptWithoutRequest(t *testing.T) {
	store, hook, ids := newLoggedDelivery(t)
	ctx := context.Background()
	if err := store.RecordAttempt(ctx, ids[0], webhooks.Attempt{}, webhooks.DeliveryCancelled, nil); err != nil {
		t.Fatal(err)
	}
	d, err := store.FindDelivery(ctx, "acme", hook.Key, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if d.State != webhooks.DeliveryCancelled || len(d.Attempts) != 0 {
		t.Errorf("got %s with attempts %+v, want cancelled with none", d.State, d.Attempts)
	}
}

func TestRecordAttemptWritesEachAttemptOnce(t *testing.T) {
	store, hook, ids := newLoggedDelivery(t)
	ctx := context.Background()
	next := time.Now().Add(time.Minute).UTC().Truncate(time.Millisecond)
	failed := webhooks.Attempt{Attempt: 1, At: time.Now(), URL: "https://example.com/h", StatusCode: 500, Duration: 12 * time.Millisecond, ResponseBody: "oops"}
	// The same attempt twice: an activity retried after its request.
	for range 2 {
		if err := store.RecordAttempt(ctx, ids[0], failed, webhooks.DeliveryPending, &next); err != nil {
			t.Fatal(err)
		}
	}
	d, err := store.FindDelivery(ctx, "acme", hook.Key, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 500 || d.Attempts[0].Duration != 12*time.Millisecond || d.Attempts[0].ResponseBody != "oops" {
		t.Fatalf("got attempts %+v, want one 500 of 12ms", d.Attempts)
	}
	if d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(next) {
		t.Errorf("got nextAttemptAt %v, want %v", d.NextAttemptAt, next)
	}
	ok := webhooks.Attempt{Attempt: 2, At: time.Now(), URL: "https://example.com/h", StatusCode: 204}
	if err := store.RecordAttempt(ctx, ids[0], ok, webhooks.DeliveryDelivered, nil); err != nil {
		t.Fatal(err)
	}
	if d, err = store.FindDelivery(ctx, "acme", hook.Key, ids[0]); err != nil {
		t.Fatal(err)
	}
	if d.State != webhooks.DeliveryDelivered || len(d.Attempts) != 2 || d.NextAttemptAt != nil {
		t.Errorf("got %s with %d attempts, next %v; want delivered with 2, no next", d.State, len(d.Attempts), d.NextAttemptAt)
	}
	// An attempt of a delivery pruned meanwhile is dropped, not an error
	// that would retry the activity forever.
	if err := store.RecordAttempt(ctx, "00000000-0000-0000-0000-000000000000", ok, webhooks.DeliveryDelivered, nil); err != nil {
		t.Errorf("attempt of a pruned delivery: got %v, want nil", err)
	}
	// A cancellation after the fact must not reopen or change it.
	if err := store.FinishDelivery(ctx, ids[0], webhooks.DeliveryFailed); err != nil {
		t.Fatal(err)
	}
	if d, _ = store.FindDelivery(ctx, "acme", hook.Key, ids[0]); d.State != webhooks.DeliveryDelivered {
		t.Errorf("got %s after FinishDelivery, want delivered kept", d.State)
	}
}

// Paging while deliveries keep arriving never repeats an entry and never
// skips one that existed when paging began; a property test over random
// interleavings of arrivals and page reads.
func TestPagingWhileDeliveriesArrive(t *testing.T) {
	store, hook, event := newLogFixture(t)
	ctx := context.Background()
	seq := 0
	add := func(n int) {
		for range n {
			seq++
			if _, err := store.CreateDeliveries(ctx, event, fmt.Sprintf("wf-%d", seq), []webhooks.Delivery{{WebhookKey: hook.Key, WebhookID: hook.ID}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := func() map[string]bool {
		list, _, err := store.ListDeliveries(ctx, "acme", webhooks.DeliveryFilter{WebhookKey: hook.Key, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, d := range list {
			ids[d.ID] = true
		}
		return ids
	}
	add(5)
	for round := range 10 {
		r := rand.New(rand.NewPCG(uint64(round), 42))
		add(r.IntN(30))
		before := all()
		seen := map[string]bool{}
		var cursor int64
		var lastCreated time.Time
		for pages := 0; ; pages++ {
			if pages > 1000 {
				t.Fatal("paging does not end")
			}
			add(r.IntN(2)) // arrivals between pages
			page, next, err := store.ListDeliveries(ctx, "acme", webhooks.DeliveryFilter{WebhookKey: hook.Key, Before: cursor, Limit: 1 + r.IntN(10)})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page {
				if seen[d.ID] {
					t.Fatalf("round %d: delivery %s repeated", round, d.ID)
				}
				if !lastCreated.IsZero() && d.Created.After(lastCreated) {
					t.Fatalf("round %d: page not newest first", round)
				}
				seen[d.ID], lastCreated = true, d.Created
			}
			if next == 0 {
				break
			}
			cursor = next
		}
		for id := range before {
			if !seen[id] {
				t.Fatalf("round %d: delivery %s existed before paging and was skipped", round, id)
			}
		}
	}
}

func TestListDeliveriesFilters(t *testing.T) {
	store, hook, event := newLogFixture(t)
	ctx := context.Background()
	other := event
	other.EventID, other.EventName = "ev-2", webhooks.PhoneNumberOptedIn
	a, err := store.CreateDeliveries(ctx, event, "wf-a", []webhooks.Delivery{{WebhookKey: hook.Key, WebhookID: hook.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateDeliveries(ctx, other, "wf-b", []webhooks.Delivery{{WebhookKey: hook.Key, WebhookID: hook.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := store.RecordAttempt(ctx, a[0], webhooks.Attempt{Attempt: 1, At: time.Now(), URL: "u", StatusCode: 410}, webhooks.DeliveryFailed, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		filter webhooks.DeliveryFilter
		want   int
	}{
		{webhooks.DeliveryFilter{}, 2},
		{webhooks.DeliveryFilter{State: webhooks.DeliveryFailed}, 1},
		{webhooks.DeliveryFilter{State: webhooks.DeliveryPending}, 1},
		{webhooks.DeliveryFilter{State: webhooks.DeliveryDelivered}, 0},
		{webhooks.DeliveryFilter{EventName: webhooks.PhoneNumberOptedIn}, 1},
		{webhooks.DeliveryFilter{EventName: webhooks.PhoneNumberOptedIn, State: webhooks.DeliveryFailed}, 0},
	} {
		tt.filter.WebhookKey, tt.filter.Limit = hook.Key, 20
		list, _, err := store.ListDeliveries(ctx, "acme", tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != tt.want {
			t.Errorf("filter %+v: got %d deliveries, want %d", tt.filter, len(list), tt.want)
		}
	}
	// Another client sees nothing of acme's log.
	if list, _, _ := store.ListDeliveries(ctx, "other", webhooks.DeliveryFilter{WebhookKey: hook.Key, Limit: 20}); len(list) != 0 {
		t.Errorf("another client got %d deliveries, want 0", len(list))
	}
	if _, err := store.FindDelivery(ctx, "other", hook.Key, a[0]); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("another client's FindDelivery: got %v, want ErrNotFound", err)
	}
	if _, _, err := store.FindEvent(ctx, "other", "ev-1"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("another client's FindEvent: got %v, want ErrNotFound", err)
	}
}

func TestPruneDeliveryLog(t *testing.T) {
	store, conn := newAcmeStore(t)
	ctx := context.Background()
	mk := func(eventID string, state webhooks.DeliveryState, age time.Duration) string {
		e := webhooks.StoredEvent{ClientID: "acme", EventID: eventID, EventName: webhooks.PhoneNumberOptedIn, DateTime: "x", Payload: []byte(`{}`)}
		ids, err := store.CreateDeliveries(ctx, e, "wf-"+eventID, []webhooks.Delivery{{WebhookKey: 1, WebhookID: "h"}})
		if err != nil {
			t.Fatal(err)
		}
		if state != webhooks.DeliveryPending {
			if err := store.RecordAttempt(ctx, ids[0], webhooks.Attempt{Attempt: 1, At: time.Now(), URL: "u", StatusCode: 200}, state, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := conn.ExecContext(ctx, `UPDATE deliveries SET updated_at = now() - $2::interval WHERE id = $1`, ids[0], fmt.Sprintf("%d seconds", int(age.Seconds()))); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `UPDATE events SET created_at = now() - $2::interval WHERE event_id = $1`, eventID, fmt.Sprintf("%d seconds", int(age.Seconds()))); err != nil {
			t.Fatal(err)
		}
		return eventID
	}
	for i := range 7 {
		mk(fmt.Sprintf("old-%d", i), webhooks.DeliveryDelivered, 40*24*time.Hour)
	}
	mk("old-pending", webhooks.DeliveryPending, 40*24*time.Hour)
	mk("new", webhooks.DeliveryDelivered, time.Hour)
	cutoff := time.Now().Add(-30 * 24 * time.Hour)
	var total int64
	for {
		n, err := store.PruneDeliveryLog(ctx, cutoff, 3) // small batches
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != 16 { // 8 deliveries (one left pending by a dead workflow) and their 8 events
		t.Errorf("got %d rows pruned, want 16", total)
	}
	for id, want := range map[string]bool{"old-0": false, "old-6": false, "old-pending": false, "new": true} {
		_, _, err := store.FindEvent(ctx, "acme", id)
		if got := err == nil; got != want {
			t.Errorf("event %s kept: got %v, want %v (err %v)", id, got, want, err)
		}
	}
	var attempts int
	if err := conn.GetContext(ctx, &attempts, `SELECT count(*) FROM attempts`); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 {
		t.Errorf("got %d attempts left, want 1 (the new delivery's)", attempts)
	}
}

func TestSigningSecrets(t *testing.T) {
	store, conn := newAcmeStore(t)
	ctx := context.Background()
	hook := webhooks.Webhook{ClientID: "acme", ID: "hook", URL: "https://example.com/h",
		MatchingEvents: []webhooks.EventName{webhooks.IncomingSmsReceived}, Active: true, Auth: webhooks.Auth{Type: webhooks.AuthNone}}
	if err := store.CreateWebhook(ctx, &hook); err != nil {
		t.Fatal(err)
	}
	first, err := store.SigningSecrets(ctx, hook.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Current) != len("whsec_")+44 || first.Previous != "" {
		t.Fatalf("got secrets %d chars, previous %q; want whsec_ + 44 base64 chars, no previous", len(first.Current), first.Previous)
	}
	var stored []byte
	if err := conn.GetContext(ctx, &stored, `SELECT signing_secret_enc FROM webhooks WHERE key = $1`, hook.Key); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte(first.Current[6:])) {
		t.Error("the stored row holds the secret in clear")
	}
	rotated, err := store.RotateSigningSecret(ctx, hook.Key)
	if err != nil {
		t.Fatal(err)
	}
	after, err := store.SigningSecrets(ctx, hook.Key)
	if err != nil {
		t.Fatal(err)
	}
	if after.Current != rotated || after.Previous != first.Current {
		t.Errorf("after rotation: got current=new %v, previous=old %v; want both true", after.Current == rotated, after.Previous == first.Current)
	}
	if d := time.Until(after.PreviousExpires); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("previous secret expires in %s, want about 24h", d)
	}
	if got := after.Active(time.Now()); len(got) != 2 || got[0] != rotated {
		t.Errorf("active now: got %d secrets, want 2, new first", len(got))
	}
	if got := after.Active(time.Now().Add(25 * time.Hour)); len(got) != 1 {
		t.Errorf("active after 25h: got %d secrets, want 1", len(got))
	}
	// A webhook from before signatures gets its secret on first use.
	if _, err := conn.ExecContext(ctx, `UPDATE webhooks SET signing_secret_enc = NULL, previous_secret_enc = NULL WHERE key = $1`, hook.Key); err != nil {
		t.Fatal(err)
	}
	lazy, err := store.SigningSecrets(ctx, hook.Key)
	if err != nil || lazy.Current == "" || lazy.Current == rotated {
		t.Errorf("lazy secret: got err %v, fresh %v; want a new secret", err, lazy.Current != rotated)
	}
	if _, err := store.SigningSecrets(ctx, 99999); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("unknown webhook: got %v, want ErrNotFound", err)
	}
}

// SPEC 3.5: a client has at most MAX_WEBHOOKS_PER_CLIENT webhooks, even
// when creates race.
func TestWebhookLimitHoldsUnderConcurrentCreates(t *testing.T) {
	store := dbtest.NewStore(t)
	store.LimitWebhooks(5)
	ctx := context.Background()
	if err := store.CreateClient(ctx, webhooks.Client{ID: "acme", Name: "Acme", KeyHash: webhooks.HashAPIKey("k")}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			hook := webhooks.Webhook{ClientID: "acme", ID: fmt.Sprintf("hook-%d", i), URL: "https://example.com/h",
				MatchingEvents: []webhooks.EventName{webhooks.IncomingSmsReceived}, Active: true, Auth: webhooks.Auth{Type: webhooks.AuthNone}}
			errs <- store.CreateWebhook(ctx, &hook)
		}()
	}
	created, limited := 0, 0
	for range 20 {
		switch err := <-errs; {
		case err == nil:
			created++
		case errors.Is(err, webhooks.ErrLimit) && errors.Is(err, webhooks.ErrConflict):
			limited++
		default:
			t.Errorf("create: %v", err)
		}
	}
	if created != 5 || limited != 15 {
		t.Errorf("got %d created and %d refused, want 5 and 15", created, limited)
	}
}

// A signing secret is sealed to its webhook: copied to another webhook's
// row of the same client, it does not open.
func TestSigningSecretIsBoundToItsWebhook(t *testing.T) {
	store, conn := newAcmeStore(t)
	ctx := context.Background()
	var keys []int64
	for _, id := range []string{"a", "b"} {
		hook := webhooks.Webhook{ClientID: "acme", ID: id, URL: "https://example.com/h",
			MatchingEvents: []webhooks.EventName{webhooks.IncomingSmsReceived}, Active: true, Auth: webhooks.Auth{Type: webhooks.AuthNone}}
		if err := store.CreateWebhook(ctx, &hook); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, hook.Key)
	}
	if _, err := store.SigningSecrets(ctx, keys[1]); err != nil {
		t.Fatalf("own secret: %v", err)
	}
	if _, err := conn.ExecContext(ctx, `UPDATE webhooks SET signing_secret_enc = (SELECT signing_secret_enc FROM webhooks WHERE key = $1) WHERE key = $2`, keys[0], keys[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SigningSecrets(ctx, keys[1]); !errors.Is(err, webhooks.ErrUndecryptable) {
		t.Errorf("a secret copied from another webhook: got %v, want ErrUndecryptable", err)
	}
}
