package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ocelot/webhooks"
)

// deliveryRow is a row of deliveries, with the webhook's current id when it
// still exists.
type deliveryRow struct {
	ID            string     `db:"id"`
	Seq           int64      `db:"seq"`
	ClientID      string     `db:"client_id"`
	EventID       string     `db:"event_id"`
	EventName     string     `db:"event_name"`
	OfficeID      *string    `db:"office_id"`
	WebhookKey    int64      `db:"webhook_key"`
	WebhookID     string     `db:"webhook_id"`
	WorkflowID    string     `db:"workflow_id"`
	State         string     `db:"state"`
	NextAttemptAt *time.Time `db:"next_attempt_at"`
	ResendOf      *string    `db:"resend_of"`
	CreatedAt     time.Time  `db:"created_at"`
	UpdatedAt     time.Time  `db:"updated_at"`
}

func (r deliveryRow) delivery() webhooks.Delivery {
	d := webhooks.Delivery{
		ID: r.ID, ClientID: r.ClientID, EventID: r.EventID, EventName: webhooks.EventName(r.EventName),
		WebhookKey: r.WebhookKey, WebhookID: r.WebhookID, State: webhooks.DeliveryState(r.State),
		WorkflowID: r.WorkflowID, Attempts: []webhooks.Attempt{},
		Created: r.CreatedAt.UTC(), Updated: r.UpdatedAt.UTC(),
	}
	if r.OfficeID != nil {
		d.OfficeID = *r.OfficeID
	}
	if r.NextAttemptAt != nil {
		t := r.NextAttemptAt.UTC()
		d.NextAttemptAt = &t
	}
	if r.ResendOf != nil {
		d.ResendOf = *r.ResendOf
	}
	return d
}

// attemptRow is a row of attempts.
type attemptRow struct {
	DeliveryID   string    `db:"delivery_id"`
	Attempt      int       `db:"attempt"`
	At           time.Time `db:"at"`
	URL          string    `db:"url"`
	StatusCode   *int      `db:"status_code"`
	Error        *string   `db:"error"`
	DurationMs   int64     `db:"duration_ms"`
	ResponseBody *string   `db:"response_body"`
}

func nullable[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func valueOf[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// eventAAD binds a sealed payload to its event, so a ciphertext copied to
// another event's row does not open.
func eventAAD(clientID, eventID string) []byte {
	return []byte("event\x00" + clientID + "\x00" + eventID)
}

// createDeliveriesQuery records the event (kept if it exists) and a pending
// delivery to each webhook of the arrays ($8 ids, $9 keys, $10 webhook ids;
// a resend's delivery is written by CreateResend), in one statement: one round
// trip whatever the fan-out, atomic without an explicit transaction (the
// foreign key to the event is checked at the end of the statement). It
// returns the deliveries it made and those a previous call for the same
// workflow made; the second SELECT reads the snapshot from before the
// statement, so the two never overlap.
const createDeliveriesQuery = `
WITH event AS (
    INSERT INTO events (client_id, event_id, event_name, office_id, date_time, payload_enc)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (client_id, event_id) DO NOTHING
), made AS (
    INSERT INTO deliveries (id, client_id, event_id, event_name, office_id, webhook_key, webhook_id, workflow_id, state)
    SELECT h.id, $1, $2, $3, $4, h.webhook_key, h.webhook_id, $7, 'pending'
    FROM unnest($8::uuid[], $9::bigint[], $10::text[]) AS h (id, webhook_key, webhook_id)
    ON CONFLICT (workflow_id, webhook_key) DO NOTHING
    RETURNING id, webhook_key
)
SELECT id, webhook_key FROM made
UNION ALL
SELECT id, webhook_key FROM deliveries WHERE workflow_id = $7 AND webhook_key = ANY ($9)`

const deliveryIDsQuery = `SELECT id, webhook_key FROM deliveries WHERE workflow_id = $1 AND webhook_key = ANY ($2)`

// CreateDeliveries records the event (once, whatever the number of calls)
// and a pending delivery of it to each webhook of hooks made by the workflow
// workflowID. A second call for the same workflow returns the deliveries the
// first made, so a retried resolution never doubles the log. It returns the
// delivery ids in the order of hooks. Only their webhook key and id are
// used: a resend's delivery is written by CreateResend.
func (s *Store) CreateDeliveries(ctx context.Context, e webhooks.StoredEvent, workflowID string, hooks []webhooks.Delivery) ([]string, error) {
	sealed := s.cipher.Seal(e.Payload, eventAAD(e.ClientID, e.EventID))
	n := len(hooks)
	newIDs, keys, hookIDs := make(pq.StringArray, n), make(pq.Int64Array, n), make(pq.StringArray, n)
	for i, h := range hooks {
		newIDs[i], keys[i], hookIDs[i] = uuid.NewString(), h.WebhookKey, h.WebhookID
	}
	var rows []struct {
		ID  string `db:"id"`
		Key int64  `db:"webhook_key"`
	}
	if err := s.selectPrepared(ctx, &rows, createDeliveriesQuery, e.ClientID, e.EventID, string(e.EventName),
		nullable(e.OfficeID), e.DateTime, sealed, workflowID, newIDs, keys, hookIDs); err != nil {
		return nil, fmt.Errorf("create deliveries of %s: %w", e.EventID, translate(err))
	}
	if len(rows) < n {
		// Another call for the same workflow (a resolution retried while
		// the first still ran) committed a delivery after this statement's
		// snapshot was taken: it is there now.
		rows = rows[:0]
		if err := s.db.SelectContext(ctx, &rows, deliveryIDsQuery, workflowID, keys); err != nil {
			return nil, fmt.Errorf("create deliveries of %s: %w", e.EventID, translate(err))
		}
	}
	byKey := make(map[int64]string, len(rows))
	for _, r := range rows {
		byKey[r.Key] = r.ID
	}
	ids := make([]string, n)
	for i, h := range hooks {
		ids[i] = byKey[h.WebhookKey]
	}
	return ids, nil
}

// recordAttemptQuery sets the state a delivery is left in and writes its
// attempt ($4 = 0: none, the delivery ended without a request), in one
// statement. A delivery that is gone (pruned) gets no attempt: there is
// nothing to attach it to, and retrying could not change that. The attempt
// number is the key: an activity retried after its request rewrites its
// attempt rather than adding one.
const recordAttemptQuery = `
WITH delivery AS (
    UPDATE deliveries SET state = $2, next_attempt_at = $3, updated_at = now() WHERE id = $1 RETURNING id
)
INSERT INTO attempts (delivery_id, attempt, at, url, status_code, error, duration_ms, response_body)
SELECT id, $4::integer, $5::timestamptz, $6::text, $7::integer, $8::text, $9::bigint, $10::text
FROM delivery WHERE $4::integer > 0
ON CONFLICT (delivery_id, attempt) DO UPDATE
SET at = EXCLUDED.at, url = EXCLUDED.url, status_code = EXCLUDED.status_code, error = EXCLUDED.error,
    duration_ms = EXCLUDED.duration_ms, response_body = EXCLUDED.response_body`

// RecordAttempt writes one attempt of a delivery and the state it leaves the
// delivery in (nextAttemptAt while it waits for a retry), atomically.
func (s *Store) RecordAttempt(ctx context.Context, deliveryID string, a webhooks.Attempt, state webhooks.DeliveryState, nextAttemptAt *time.Time) error {
	if err := s.execPrepared(ctx, recordAttemptQuery, deliveryID, string(state), nextAttemptAt, a.Attempt, a.At, a.URL,
		nullable(a.StatusCode), nullable(a.Error), a.Duration.Milliseconds(), nullable(a.ResponseBody)); err != nil {
		return fmt.Errorf("record attempt %d of %s: %w", a.Attempt, deliveryID, translate(err))
	}
	return nil
}

// FinishDelivery sets the final state of a delivery that ends without an
// attempt (its workflow was cancelled); a delivery already final is kept.
func (s *Store) FinishDelivery(ctx context.Context, deliveryID string, state webhooks.DeliveryState) error {
	const q = `UPDATE deliveries SET state = $2, next_attempt_at = NULL, updated_at = now() WHERE id = $1 AND state = 'pending'`
	if _, err := s.db.ExecContext(ctx, q, deliveryID, string(state)); err != nil {
		return fmt.Errorf("finish delivery %s: %w", deliveryID, translate(err))
	}
	return nil
}

// selectDeliveries reads deliveries with the webhook's current id, or the
// recorded one when the webhook is gone.
const selectDeliveries = `
SELECT d.id, d.seq, d.client_id, d.event_id, d.event_name, d.office_id, d.webhook_key,
       COALESCE(w.id, d.webhook_id) AS webhook_id, d.workflow_id, d.state, d.next_attempt_at,
       d.resend_of, d.created_at, d.updated_at
FROM deliveries d
LEFT JOIN webhooks w ON w.key = d.webhook_key AND w.client_id = d.client_id
`

// The four shapes of a page of a webhook's log, one per filter combination:
// plain predicates let each use its index (see the migration) even as a
// cached generic plan, where "($2 = ” OR state = $2)" would use none
// (docs/delivery-log.md). The client_id predicate keeps another client's
// rows out whatever key is asked for; the extended statistics of the
// migration tell the planner it adds no selectivity to the key.
const (
	listDeliveriesQuery = selectDeliveries + `
WHERE d.webhook_key = $1 AND d.client_id = $2 AND d.seq < $3 ORDER BY d.seq DESC LIMIT $4`
	listDeliveriesByStateQuery = selectDeliveries + `
WHERE d.webhook_key = $1 AND d.client_id = $2 AND d.seq < $3 AND d.state = $5 ORDER BY d.seq DESC LIMIT $4`
	listDeliveriesByEventQuery = selectDeliveries + `
WHERE d.webhook_key = $1 AND d.client_id = $2 AND d.seq < $3 AND d.event_name = $5 ORDER BY d.seq DESC LIMIT $4`
	listDeliveriesByStateAndEventQuery = selectDeliveries + `
WHERE d.webhook_key = $1 AND d.client_id = $2 AND d.seq < $3 AND d.state = $5 AND d.event_name = $6 ORDER BY d.seq DESC LIMIT $4`
)

const attemptsQuery = `
SELECT delivery_id, attempt, at, url, status_code, error, duration_ms, response_body
FROM attempts WHERE delivery_id = ANY ($1) ORDER BY delivery_id, attempt`

// ListDeliveries returns one page of the client's deliveries to a webhook,
// newest first, with their attempts, and the cursor of the next page (0
// when this is the last). The cursor is a position in the log, not an
// offset: deliveries arriving while a client pages never shift a page.
func (s *Store) ListDeliveries(ctx context.Context, clientID string, f webhooks.DeliveryFilter) ([]webhooks.Delivery, int64, error) {
	before := f.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	query, args := listDeliveriesQuery, []any{f.WebhookKey, clientID, before, f.Limit + 1}
	switch {
	case f.State != "" && f.EventName != "":
		query, args = listDeliveriesByStateAndEventQuery, append(args, string(f.State), string(f.EventName))
	case f.State != "":
		query, args = listDeliveriesByStateQuery, append(args, string(f.State))
	case f.EventName != "":
		query, args = listDeliveriesByEventQuery, append(args, string(f.EventName))
	}
	list, next, err := s.deliveries(ctx, f.Limit, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list deliveries of webhook %d: %w", f.WebhookKey, err)
	}
	return list, next, nil
}

// deliveries reads the deliveries query selects, with their attempts. With
// limit > 0 it keeps the first limit rows and, when the query found more,
// returns the seq of the last one kept as next. Both queries run in one
// read-only REPEATABLE READ transaction: an attempt committed between them
// would otherwise show beside its delivery's earlier state (pending, no
// next attempt).
func (s *Store) deliveries(ctx context.Context, limit int, query string, args ...any) (list []webhooks.Delivery, next int64, err error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, 0, translate(err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to undo
	var rows []deliveryRow
	if err := tx.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, 0, translate(err)
	}
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
		next = rows[len(rows)-1].Seq
	}
	if list, err = withAttempts(ctx, tx, rows); err != nil {
		return nil, 0, err
	}
	return list, next, translate(tx.Commit())
}

// withAttempts converts rows and adds their attempts, read in one query.
func withAttempts(ctx context.Context, q sqlx.QueryerContext, rows []deliveryRow) ([]webhooks.Delivery, error) {
	list := make([]webhooks.Delivery, len(rows))
	index := make(map[string]int, len(rows))
	ids := make(pq.StringArray, len(rows))
	for i, r := range rows {
		list[i], index[r.ID], ids[i] = r.delivery(), i, r.ID
	}
	if len(rows) == 0 {
		return list, nil
	}
	var attempts []attemptRow
	if err := sqlx.SelectContext(ctx, q, &attempts, attemptsQuery, ids); err != nil {
		return nil, fmt.Errorf("read attempts: %w", translate(err))
	}
	for _, a := range attempts {
		d := &list[index[a.DeliveryID]]
		d.Attempts = append(d.Attempts, webhooks.Attempt{
			Attempt: a.Attempt, At: a.At.UTC(), URL: a.URL, StatusCode: valueOf(a.StatusCode),
			Error: valueOf(a.Error), Duration: time.Duration(a.DurationMs) * time.Millisecond,
			ResponseBody: valueOf(a.ResponseBody),
		})
	}
	return list, nil
}

const findDeliveryQuery = selectDeliveries + `WHERE d.id = $1 AND d.client_id = $2 AND d.webhook_key = $3`

// FindDelivery returns the client's delivery id to the webhook key, with
// its attempts; ErrNotFound otherwise (another client's included).
func (s *Store) FindDelivery(ctx context.Context, clientID string, webhookKey int64, id string) (webhooks.Delivery, error) {
	if uuid.Validate(id) != nil {
		return webhooks.Delivery{}, fmt.Errorf("find delivery %s: %w", id, webhooks.ErrNotFound)
	}
	list, _, err := s.deliveries(ctx, 0, findDeliveryQuery, id, clientID, webhookKey)
	if err == nil && len(list) == 0 {
		err = webhooks.ErrNotFound
	}
	if err != nil {
		return webhooks.Delivery{}, fmt.Errorf("find delivery %s: %w", id, err)
	}
	return list[0], nil
}

const findEventQuery = `
SELECT client_id, event_id, event_name, office_id, date_time, payload_enc, created_at
FROM events WHERE client_id = $1 AND event_id = $2`

const eventDeliveriesQuery = selectDeliveries + `WHERE d.client_id = $1 AND d.event_id = $2 ORDER BY d.seq`

// FindEvent returns the client's event with its exact payload and every
// delivery of it (oldest first); ErrNotFound when the client has none.
func (s *Store) FindEvent(ctx context.Context, clientID, eventID string) (webhooks.StoredEvent, []webhooks.Delivery, error) {
	e, err := s.FindEventPayload(ctx, clientID, eventID)
	if err != nil {
		return webhooks.StoredEvent{}, nil, err
	}
	list, _, err := s.deliveries(ctx, 0, eventDeliveriesQuery, clientID, eventID)
	if err != nil {
		return webhooks.StoredEvent{}, nil, fmt.Errorf("find event %s: %w", eventID, err)
	}
	return e, list, nil
}

// FindEventPayload returns the client's event with its exact payload,
// without its deliveries; ErrNotFound when the client has none.
func (s *Store) FindEventPayload(ctx context.Context, clientID, eventID string) (webhooks.StoredEvent, error) {
	var row struct {
		ClientID   string    `db:"client_id"`
		EventID    string    `db:"event_id"`
		EventName  string    `db:"event_name"`
		OfficeID   *string   `db:"office_id"`
		DateTime   string    `db:"date_time"`
		PayloadEnc []byte    `db:"payload_enc"`
		CreatedAt  time.Time `db:"created_at"`
	}
	err := s.db.GetContext(ctx, &row, findEventQuery, clientID, eventID)
	if err != nil {
		return webhooks.StoredEvent{}, fmt.Errorf("find event %s: %w", eventID, translate(err))
	}
	payload, err := s.cipher.Open(row.PayloadEnc, eventAAD(row.ClientID, row.EventID))
	if err != nil {
		return webhooks.StoredEvent{}, fmt.Errorf("find event %s: payload: %w: %w", eventID, webhooks.ErrUndecryptable, err)
	}
	return webhooks.StoredEvent{
		ClientID: row.ClientID, EventID: row.EventID, EventName: webhooks.EventName(row.EventName),
		OfficeID: valueOf(row.OfficeID), DateTime: row.DateTime, Payload: payload, Created: row.CreatedAt.UTC(),
	}, nil
}

const insertDeliveryQuery = `
INSERT INTO deliveries (id, client_id, event_id, event_name, office_id, webhook_key, webhook_id, workflow_id, state, resend_of)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9)
ON CONFLICT (workflow_id, webhook_key) DO NOTHING`

// CreateResend records the pending delivery id that resends original to
// its webhook, made by the workflow workflowID. The API writes it before
// starting the workflow, so the log shows the resend once it is accepted.
func (s *Store) CreateResend(ctx context.Context, original webhooks.Delivery, id, workflowID string) error {
	_, err := s.db.ExecContext(ctx, insertDeliveryQuery, id, original.ClientID, original.EventID,
		string(original.EventName), nullable(original.OfficeID), original.WebhookKey, original.WebhookID,
		workflowID, original.ID)
	if err != nil {
		return fmt.Errorf("create resend of %s: %w", original.ID, translate(err))
	}
	return nil
}

// DeleteDelivery removes a delivery that never started (its workflow could
// not be started).
func (s *Store) DeleteDelivery(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM deliveries WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete delivery %s: %w", id, translate(err))
	}
	return nil
}

// pruneDeliveriesQuery deletes one batch of deliveries (their attempts
// cascade) untouched since the cutoff, whatever their state: one left
// pending by a terminated workflow must go too. A small batch per statement
// holds few row locks for a short time, so deliveries in progress never
// wait on the pruner.
const pruneDeliveriesQuery = `
DELETE FROM deliveries WHERE id IN (
    SELECT id FROM deliveries WHERE updated_at < $1 ORDER BY updated_at LIMIT $2)`

// pruneEventsQuery deletes one batch of events older than the cutoff that
// no delivery refers to any more.
const pruneEventsQuery = `
DELETE FROM events WHERE (client_id, event_id) IN (
    SELECT e.client_id, e.event_id FROM events e
    WHERE e.created_at < $1
      -- OFFSET 0 keeps this a probe of deliveries_event per old event;
      -- without it the planner hashes the whole deliveries table.
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.client_id = e.client_id AND d.event_id = e.event_id OFFSET 0)
    ORDER BY e.created_at LIMIT $2)`

// PruneDeliveryLog deletes at most batch finished deliveries, then at most
// batch events, older than cutoff, and returns how many rows went. The
// caller repeats it until it returns 0.
func (s *Store) PruneDeliveryLog(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	var total int64
	for _, q := range []string{pruneDeliveriesQuery, pruneEventsQuery} {
		res, err := s.db.ExecContext(ctx, q, cutoff, batch)
		if err != nil {
			return total, fmt.Errorf("prune delivery log: %w", translate(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("prune delivery log: %w", translate(err))
		}
		total += n
	}
	return total, nil
}

// CountWaitingDeliveries counts deliveries waiting for a retry (a metric).
func (s *Store) CountWaitingDeliveries(ctx context.Context) (int64, error) {
	var n int64
	const q = `SELECT count(*) FROM deliveries WHERE state = 'pending' AND next_attempt_at IS NOT NULL`
	if err := s.db.GetContext(ctx, &n, q); err != nil {
		return 0, fmt.Errorf("count waiting deliveries: %w", translate(err))
	}
	return n, nil
}

// signingAAD binds a sealed signing secret to its webhook (client and
// internal key) and purpose: a ciphertext copied to another webhook's row,
// even of the same client, does not open.
func signingAAD(clientID string, key int64) []byte {
	return []byte("signing-secret\x00" + clientID + "\x00" + strconv.FormatInt(key, 10))
}

const secretsQuery = `
SELECT client_id, signing_secret_enc, previous_secret_enc, previous_secret_expires_at
FROM webhooks WHERE key = $1`

const setSecretQuery = `UPDATE webhooks SET signing_secret_enc = $2 WHERE key = $1 AND signing_secret_enc IS NULL`

// SigningSecrets returns the signing secrets of the webhook key, creating
// its secret first when it has none (a webhook made before signatures).
// ErrNotFound once the webhook is deleted.
func (s *Store) SigningSecrets(ctx context.Context, key int64) (webhooks.SigningSecrets, error) {
	_, secrets, err := s.signingSecrets(ctx, key)
	return secrets, err
}

// sealedSecrets are a webhook's signing secrets as stored.
type sealedSecrets struct {
	Current         []byte     `db:"signing_secret_enc"`
	Previous        []byte     `db:"previous_secret_enc"`
	PreviousExpires *time.Time `db:"previous_secret_expires_at"`
}

// openSigningSecrets opens the secrets of the webhook key of clientID; an
// error wraps ErrUndecryptable.
func (s *Store) openSigningSecrets(clientID string, key int64, sealed sealedSecrets) (webhooks.SigningSecrets, error) {
	var out webhooks.SigningSecrets
	current, err := s.cipher.Open(sealed.Current, signingAAD(clientID, key))
	if err != nil {
		return webhooks.SigningSecrets{}, fmt.Errorf("signing secrets of webhook %d: %w: %w", key, webhooks.ErrUndecryptable, err)
	}
	out.Current = string(current)
	if sealed.Previous != nil && sealed.PreviousExpires != nil {
		previous, err := s.cipher.Open(sealed.Previous, signingAAD(clientID, key))
		if err != nil {
			return webhooks.SigningSecrets{}, fmt.Errorf("signing secrets of webhook %d: %w: %w", key, webhooks.ErrUndecryptable, err)
		}
		out.Previous, out.PreviousExpires = string(previous), sealed.PreviousExpires.UTC()
	}
	return out, nil
}

// signingSecrets is SigningSecrets with the webhook's client, which seals
// its secrets.
func (s *Store) signingSecrets(ctx context.Context, key int64) (string, webhooks.SigningSecrets, error) {
	for range 2 {
		var row struct {
			ClientID string `db:"client_id"`
			sealedSecrets
		}
		if err := s.getPrepared(ctx, &row, secretsQuery, key); err != nil {
			return "", webhooks.SigningSecrets{}, fmt.Errorf("signing secrets of webhook %d: %w", key, translate(err))
		}
		if row.Current == nil {
			// Two callers may race here; the IS NULL guard keeps the first
			// secret and the loop reads it back.
			sealed := s.cipher.Seal([]byte(webhooks.NewSigningSecret()), signingAAD(row.ClientID, key))
			if _, err := s.db.ExecContext(ctx, setSecretQuery, key, sealed); err != nil {
				return "", webhooks.SigningSecrets{}, fmt.Errorf("signing secrets of webhook %d: %w", key, translate(err))
			}
			continue
		}
		out, err := s.openSigningSecrets(row.ClientID, key, row.sealedSecrets)
		return row.ClientID, out, err
	}
	return "", webhooks.SigningSecrets{}, fmt.Errorf("signing secrets of webhook %d: %w", key, errors.New("secret not created"))
}

const rotateSecretQuery = `
UPDATE webhooks
SET previous_secret_enc = signing_secret_enc, previous_secret_expires_at = $3, signing_secret_enc = $2
WHERE key = $1`

// RotateSigningSecret gives the webhook key a new signing secret and keeps
// the current one signing beside it for webhooks.SecretRotationOverlap.
// It returns the new secret.
func (s *Store) RotateSigningSecret(ctx context.Context, key int64) (string, error) {
	// Reading the secrets first makes sure a current one exists to be kept
	// as the previous one, and gives the client that seals the new one.
	clientID, _, err := s.signingSecrets(ctx, key)
	if err != nil {
		return "", fmt.Errorf("rotate signing secret: %w", err)
	}
	secret := webhooks.NewSigningSecret()
	sealed := s.cipher.Seal([]byte(secret), signingAAD(clientID, key))
	res, err := s.db.ExecContext(ctx, rotateSecretQuery, key, sealed, time.Now().Add(webhooks.SecretRotationOverlap))
	if err != nil {
		return "", fmt.Errorf("rotate signing secret of webhook %d: %w", key, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", fmt.Errorf("rotate signing secret of webhook %d: %w", key, webhooks.ErrNotFound)
	}
	return secret, nil
}
