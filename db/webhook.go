package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ocelot/webhooks"
)

// webhookRow is a row of webhooks.
type webhookRow struct {
	Key             int64          `db:"key"`
	ClientID        string         `db:"client_id"`
	ID              string         `db:"id"`
	MatchingEvents  pq.StringArray `db:"matching_events"`
	URL             string         `db:"url"`
	AuthType        string         `db:"auth_type"`
	AuthUsername    string         `db:"auth_username"`
	AuthPasswordEnc []byte         `db:"auth_password_enc"`
	Active          bool           `db:"active"`
	CreatedAt       time.Time      `db:"created_at"`
	UpdatedAt       time.Time      `db:"updated_at"`
}

// overrideRow is a row of webhook_office_overrides; a NULL column keeps the
// webhook's own value.
type overrideRow struct {
	WebhookKey      int64   `db:"webhook_key"`
	Position        int     `db:"position"`
	OfficeID        string  `db:"office_id"`
	URL             *string `db:"url"`
	AuthType        *string `db:"auth_type"`
	AuthUsername    *string `db:"auth_username"`
	AuthPasswordEnc []byte  `db:"auth_password_enc"`
	Active          *bool   `db:"active"`
}

// joinedRow is a webhook with one of its overrides, or with none when
// OfficeID is nil: reading both in one query gives one consistent snapshot
// in one round trip.
type joinedRow struct {
	webhookRow
	OfficeID             *string `db:"o_office_id"`
	OverrideURL          *string `db:"o_url"`
	OverrideAuthType     *string `db:"o_auth_type"`
	OverrideAuthUsername *string `db:"o_auth_username"`
	OverridePasswordEnc  []byte  `db:"o_auth_password_enc"`
	OverrideActive       *bool   `db:"o_active"`
}

// Receiver passwords are sealed to their row: the client, the webhook's
// internal key (which a rename does not change) and, for an override, its
// office. A purpose label comes first, so that a webhook's password never
// opens as an override's (nor as a signing secret or an event), then each
// field as a netstring ("<length>:<bytes>,"), so that no two different
// field lists give the same bytes: ("a", "bc") and ("ab", "c") differ.

// passwordAAD is the additional data of the receiver password of the
// webhook key of clientID.
func passwordAAD(clientID string, key int64) []byte {
	return boundAAD("webhook-password", clientID, strconv.FormatInt(key, 10))
}

// officePasswordAAD is the additional data of the receiver password of the
// override for officeID of the webhook key of clientID.
func officePasswordAAD(clientID string, key int64, officeID string) []byte {
	return boundAAD("office-password", clientID, strconv.FormatInt(key, 10), officeID)
}

// boundAAD is purpose, a NUL, then each field as a netstring.
func boundAAD(purpose string, fields ...string) []byte {
	b := append([]byte(purpose), 0)
	for _, f := range fields {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, ',')
	}
	return b
}

// legacyPasswordAAD is what passwords were sealed to before they were bound
// to their row: the client alone. It is only ever tried to open, never to
// seal.
func legacyPasswordAAD(clientID string) []byte {
	return []byte(clientID)
}

// seal encrypts a password bound to aad; no password stores NULL.
func (s *Store) seal(password string, aad []byte) []byte {
	if password == "" {
		return nil
	}
	return s.cipher.Seal([]byte(password), aad)
}

// open decrypts a password sealed to aad or, for a row written before
// passwords were bound to their row, to its client alone (legacy reports
// which). A ciphertext that opens with neither is ErrUndecryptable; the
// error never holds the password.
//
// A legacy row is re-sealed when its webhook is next written (UpdateWebhook
// seals every password afresh) or by ResealLegacyPasswords, not here: reads
// run outside any transaction, on the worker's path of every delivery and
// behind GET requests, which should not write, and a failed write there
// would have to be swallowed or fail a read that did succeed. Until it is
// re-sealed, a legacy ciphertext still opens on any row of its client.
func (s *Store) open(enc, aad []byte, clientID string) (password string, legacy bool, err error) {
	if enc == nil {
		return "", false, nil
	}
	plain, err := s.cipher.Open(enc, aad)
	if err == nil {
		return string(plain), false, nil
	}
	if plain, legacyErr := s.cipher.Open(enc, legacyPasswordAAD(clientID)); legacyErr == nil {
		return string(plain), true, nil
	}
	return "", false, fmt.Errorf("%w: %w", webhooks.ErrUndecryptable, err)
}

// toRows converts w into the rows that store it under clientID, passwords
// not yet sealed: they are sealed to the webhook's key (sealRows), which a
// new webhook has only once its row exists.
func (s *Store) toRows(clientID string, w *webhooks.Webhook) (webhookRow, []overrideRow) {
	events := make(pq.StringArray, len(w.MatchingEvents))
	for i, name := range w.MatchingEvents {
		events[i] = string(name)
	}
	row := webhookRow{
		ClientID:       clientID,
		ID:             w.ID,
		MatchingEvents: events,
		URL:            w.URL,
		AuthType:       string(w.Auth.Type),
		AuthUsername:   w.Auth.Username,
		Active:         w.Active,
	}
	overrides := make([]overrideRow, len(w.PerOfficeOverrides))
	for i, o := range w.PerOfficeOverrides {
		r := overrideRow{Position: i, OfficeID: o.OfficeID, URL: o.URL, Active: o.Active}
		if o.Auth != nil {
			authType := string(o.Auth.Type)
			r.AuthType, r.AuthUsername = &authType, &o.Auth.Username
		}
		overrides[i] = r
	}
	return row, overrides
}

// sealRows seals the passwords of w into row and overrides (made from w by
// toRows), bound to the webhook key.
func (s *Store) sealRows(key int64, w *webhooks.Webhook, row *webhookRow, overrides []overrideRow) {
	row.Key = key
	row.AuthPasswordEnc = s.seal(w.Auth.Password, passwordAAD(row.ClientID, key))
	for i, o := range w.PerOfficeOverrides {
		overrides[i].WebhookKey = key
		if o.Auth != nil {
			overrides[i].AuthPasswordEnc = s.seal(o.Auth.Password, officePasswordAAD(row.ClientID, key, o.OfficeID))
		}
	}
}

// collect groups joined rows, ordered by webhook then override position,
// into webhooks with their overrides.
func (s *Store) collect(rows []joinedRow) ([]webhooks.Webhook, error) {
	out := make([]webhooks.Webhook, 0, len(rows))
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].Key != r.Key {
			w, err := s.toWebhook(r.webhookRow)
			if err != nil {
				return nil, err
			}
			out = append(out, w)
		}
		if r.OfficeID == nil {
			continue
		}
		w := &out[len(out)-1]
		o := webhooks.OfficeOverride{OfficeID: *r.OfficeID, URL: r.OverrideURL, Active: r.OverrideActive}
		if r.OverrideAuthType != nil {
			password, _, err := s.open(r.OverridePasswordEnc, officePasswordAAD(r.ClientID, r.Key, o.OfficeID), r.ClientID)
			if err != nil {
				return nil, fmt.Errorf("webhook %s office %s: %w", r.ID, o.OfficeID, err)
			}
			o.Auth = &webhooks.Auth{Type: webhooks.AuthType(*r.OverrideAuthType), Password: password}
			if r.OverrideAuthUsername != nil {
				o.Auth.Username = *r.OverrideAuthUsername
			}
		}
		w.PerOfficeOverrides = append(w.PerOfficeOverrides, o)
	}
	return out, nil
}

func (s *Store) toWebhook(r webhookRow) (webhooks.Webhook, error) {
	password, _, err := s.open(r.AuthPasswordEnc, passwordAAD(r.ClientID, r.Key), r.ClientID)
	if err != nil {
		return webhooks.Webhook{}, fmt.Errorf("webhook %s: %w", r.ID, err)
	}
	events := make([]webhooks.EventName, len(r.MatchingEvents))
	for i, name := range r.MatchingEvents {
		events[i] = webhooks.EventName(name)
	}
	return webhooks.Webhook{
		Key:                r.Key,
		ClientID:           r.ClientID,
		ID:                 r.ID,
		MatchingEvents:     events,
		URL:                r.URL,
		Auth:               webhooks.Auth{Type: webhooks.AuthType(r.AuthType), Username: r.AuthUsername, Password: password},
		Active:             r.Active,
		PerOfficeOverrides: []webhooks.OfficeOverride{},
		Created:            r.CreatedAt.UTC(),
		Updated:            r.UpdatedAt.UTC(),
	}, nil
}

// webhookColumns are the columns of a joinedRow.
const webhookColumns = `
SELECT w.key, w.client_id, w.id, w.matching_events, w.url, w.auth_type, w.auth_username,
       w.auth_password_enc, w.active, w.created_at, w.updated_at,
       o.office_id AS o_office_id, o.url AS o_url, o.auth_type AS o_auth_type,
       o.auth_username AS o_auth_username, o.auth_password_enc AS o_auth_password_enc,
       o.active AS o_active`

const fromWebhooks = `
FROM webhooks w
LEFT JOIN webhook_office_overrides o ON o.webhook_key = w.key
`

// selectWebhooks starts every read of webhooks: each webhook comes once per
// override (once with NULL o_ columns when it has none).
const selectWebhooks = webhookColumns + fromWebhooks

// selectAttemptWebhooks is selectWebhooks with the signing secrets: the
// reads of attemptWebhookRow.
const selectAttemptWebhooks = webhookColumns + `,
       w.signing_secret_enc, w.previous_secret_enc, w.previous_secret_expires_at` + fromWebhooks

// attemptWebhookRow is a joinedRow with its webhook's sealed signing secrets.
type attemptWebhookRow struct {
	joinedRow
	sealedSecrets
}

// insertWebhookQuery leaves auth_password_enc NULL: setSealedQuery sets it
// once the key is known.
const insertWebhookQuery = `
INSERT INTO webhooks (client_id, id, matching_events, url, auth_type, auth_username, auth_password_enc, active)
VALUES (:client_id, :id, :matching_events, :url, :auth_type, :auth_username, NULL, :active)
RETURNING key, created_at, updated_at`

const setSealedQuery = `UPDATE webhooks SET auth_password_enc = $2, signing_secret_enc = $3 WHERE key = $1`

// CreateWebhook stores w with its overrides and sets w.Key, w.Created and
// w.Updated; ErrConflict when the client already has a webhook w.ID.
func (s *Store) CreateWebhook(ctx context.Context, w *webhooks.Webhook) error {
	row, overrides := s.toRows(w.ClientID, w)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, translate(err))
	}
	// Rolling back after Commit is a no-op.
	defer func() { _ = tx.Rollback() }()
	if err := s.checkWebhookLimit(ctx, tx, w.ClientID); err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, err)
	}
	query, args, err := tx.BindNamed(insertWebhookQuery, row)
	if err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, err)
	}
	if err := tx.QueryRowxContext(ctx, query, args...).Scan(&row.Key, &row.CreatedAt, &row.UpdatedAt); err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, translate(err))
	}
	// The password and the signing secret every webhook is created with
	// (SPEC 11) are sealed to its key, which exists only once the row does.
	s.sealRows(row.Key, w, &row, overrides)
	sealed := s.cipher.Seal([]byte(webhooks.NewSigningSecret()), signingAAD(w.ClientID, row.Key))
	if _, err := tx.ExecContext(ctx, setSealedQuery, row.Key, row.AuthPasswordEnc, sealed); err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, translate(err))
	}
	if err := insertOverrides(ctx, tx, overrides); err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, translate(err))
	}
	w.Key, w.Created, w.Updated = row.Key, row.CreatedAt.UTC(), row.UpdatedAt.UTC()
	return nil
}

const insertOverridesQuery = `
INSERT INTO webhook_office_overrides (webhook_key, position, office_id, url, auth_type, auth_username, auth_password_enc, active)
VALUES (:webhook_key, :position, :office_id, :url, :auth_type, :auth_username, :auth_password_enc, :active)`

// overridesPerInsert keeps one multi-row INSERT under PostgreSQL's 65535
// parameters (8 per row) however many overrides a 1 MiB body holds.
const overridesPerInsert = 1000

// insertOverrides adds overrides, sealed by sealRows, inside the caller's
// transaction, many rows per statement rather than one round trip each.
func insertOverrides(ctx context.Context, tx *sqlx.Tx, overrides []overrideRow) error {
	for chunk := range slices.Chunk(overrides, overridesPerInsert) {
		if _, err := tx.NamedExecContext(ctx, insertOverridesQuery, chunk); err != nil {
			return fmt.Errorf("insert office overrides: %w", translate(err))
		}
	}
	return nil
}

// checkWebhookLimit fails with ErrLimit when the client has its maximum of
// webhooks. Locking the client's row makes concurrent creates of one client
// take turns, so that they cannot together pass the limit.
func (s *Store) checkWebhookLimit(ctx context.Context, tx *sqlx.Tx, clientID string) error {
	if s.maxWebhooks <= 0 {
		return nil
	}
	// Two statements: under READ COMMITTED the count must take its snapshot
	// after the lock is granted, to see the webhook the previous holder added.
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM clients WHERE id = $1 FOR UPDATE`, clientID); err != nil {
		return translate(err)
	}
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM webhooks WHERE client_id = $1`, clientID); err != nil {
		return translate(err)
	}
	if n >= s.maxWebhooks {
		return fmt.Errorf("%w: the client has %d webhooks, the most allowed", webhooks.ErrLimit, n)
	}
	return nil
}

const findWebhookQuery = selectWebhooks + `WHERE w.client_id = $1 AND w.id = $2 ORDER BY o.position`

// FindWebhook returns the client's webhook id; ErrNotFound when the client
// has none (another client's webhook of that id included).
func (s *Store) FindWebhook(ctx context.Context, clientID, id string) (webhooks.Webhook, error) {
	var rows []joinedRow
	if err := s.db.SelectContext(ctx, &rows, findWebhookQuery, clientID, id); err != nil {
		return webhooks.Webhook{}, fmt.Errorf("find webhook %s: %w", id, translate(err))
	}
	return s.one(rows, "find webhook "+id)
}

const findAttemptWebhookQuery = selectAttemptWebhooks + `WHERE w.key = $1 ORDER BY o.position`

// FindAttemptWebhook reads, in one statement, what a delivery attempt needs
// of the webhook whose internal key is key, whatever its id now is: the
// webhook and its signing secrets, creating them when it has none (a
// webhook made before signatures). ErrNotFound once it is deleted; a
// credential that does not open is reported in the result, not as the
// error (webhooks.AttemptWebhook).
func (s *Store) FindAttemptWebhook(ctx context.Context, key int64) (webhooks.AttemptWebhook, error) {
	var rows []attemptWebhookRow
	if err := s.selectPrepared(ctx, &rows, findAttemptWebhookQuery, key); err != nil {
		return webhooks.AttemptWebhook{}, fmt.Errorf("find webhook key %d: %w", key, translate(err))
	}
	if len(rows) == 0 {
		return webhooks.AttemptWebhook{}, fmt.Errorf("find webhook key %d: %w", key, webhooks.ErrNotFound)
	}
	list, err := s.attemptWebhooks(ctx, rows)
	if err != nil {
		return webhooks.AttemptWebhook{}, fmt.Errorf("find webhook key %d: %w", key, err)
	}
	return list[0], nil
}

// attemptWebhooks groups rows, ordered by webhook then override position,
// into webhooks as attempts read them, opening every credential.
func (s *Store) attemptWebhooks(ctx context.Context, rows []attemptWebhookRow) ([]webhooks.AttemptWebhook, error) {
	var out []webhooks.AttemptWebhook
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].Key == rows[start].Key {
			end++
		}
		group := make([]joinedRow, 0, end-start)
		for _, r := range rows[start:end] {
			group = append(group, r.joinedRow)
		}
		first := rows[start]
		start = end

		var w webhooks.AttemptWebhook
		list, err := s.collect(group)
		if err != nil {
			// A password that does not open fails this webhook's attempts
			// only; the rest of it still resolves.
			w.Err = err
			for i := range group {
				group[i].AuthPasswordEnc, group[i].OverridePasswordEnc = nil, nil
			}
			if list, err = s.collect(group); err != nil {
				return nil, err
			}
		}
		w.Webhook = list[0]
		if first.Current == nil {
			_, w.Signing, err = s.signingSecrets(ctx, first.Key)
		} else {
			w.Signing, err = s.openSigningSecrets(first.ClientID, first.Key, first.sealedSecrets)
		}
		if errors.Is(err, webhooks.ErrUndecryptable) {
			w.SigningErr, err = err, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// one returns the single webhook in rows, or ErrNotFound.
func (s *Store) one(rows []joinedRow, what string) (webhooks.Webhook, error) {
	if len(rows) == 0 {
		return webhooks.Webhook{}, fmt.Errorf("%s: %w", what, webhooks.ErrNotFound)
	}
	list, err := s.collect(rows)
	if err != nil {
		return webhooks.Webhook{}, fmt.Errorf("%s: %w", what, err)
	}
	return list[0], nil
}

const listWebhooksQuery = selectWebhooks + `WHERE w.client_id = $1 ORDER BY w.id, o.position`

// ListWebhooks returns every webhook of the client, active or not, ordered
// by id, with their overrides; an empty slice when there is none.
func (s *Store) ListWebhooks(ctx context.Context, clientID string) ([]webhooks.Webhook, error) {
	var rows []joinedRow
	if err := s.db.SelectContext(ctx, &rows, listWebhooksQuery, clientID); err != nil {
		return nil, fmt.Errorf("list webhooks of %s: %w", clientID, translate(err))
	}
	list, err := s.collect(rows)
	if err != nil {
		return nil, fmt.Errorf("list webhooks of %s: %w", clientID, err)
	}
	return list, nil
}

const listWebhooksForEventQuery = selectAttemptWebhooks + `WHERE w.client_id = $1 AND $2 = ANY (w.matching_events) ORDER BY w.id, o.position`

// ListWebhooksForEvent returns the client's webhooks that listen to name,
// ordered by id, with their overrides, as attempts read them (FindAttemptWebhook),
// so that the event's first attempts need not read them again. Inactive
// ones are included: an office override may activate one for its events. A
// credential that does not open fails only that webhook's attempts, never
// the resolution of the others. It runs once per ingested event, so it is
// a single query.
func (s *Store) ListWebhooksForEvent(ctx context.Context, clientID string, name webhooks.EventName) ([]webhooks.AttemptWebhook, error) {
	var rows []attemptWebhookRow
	if err := s.selectPrepared(ctx, &rows, listWebhooksForEventQuery, clientID, string(name)); err != nil {
		return nil, fmt.Errorf("list webhooks of %s for %s: %w", clientID, name, translate(err))
	}
	list, err := s.attemptWebhooks(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("list webhooks of %s for %s: %w", clientID, name, err)
	}
	return list, nil
}

const updateWebhookQuery = `
UPDATE webhooks
SET id = :id, matching_events = :matching_events, url = :url, auth_type = :auth_type,
    auth_username = :auth_username, auth_password_enc = :auth_password_enc, active = :active,
    updated_at = now()
WHERE key = :key AND client_id = :client_id
RETURNING created_at, updated_at`

// lockWebhookQuery finds the key that UpdateWebhook seals to, and holds the
// row until the update commits.
const lockWebhookQuery = `SELECT key FROM webhooks WHERE client_id = $1 AND id = $2 FOR UPDATE`

const deleteOverridesQuery = `DELETE FROM webhook_office_overrides WHERE webhook_key = $1`

// UpdateWebhook replaces the client's webhook currentID with w, overrides
// included; w.ID differing from currentID renames it. Key and Created are
// kept, Updated is now; w.Key, w.Created and w.Updated are set from the row.
// ErrNotFound when the client has no webhook currentID, ErrConflict when
// w.ID is taken (and then nothing changes).
func (s *Store) UpdateWebhook(ctx context.Context, clientID, currentID string, w *webhooks.Webhook) error {
	row, overrides := s.toRows(clientID, w)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update webhook %s: %w", currentID, translate(err))
	}
	// Rolling back after Commit is a no-op.
	defer func() { _ = tx.Rollback() }()
	var key int64
	if err := tx.GetContext(ctx, &key, lockWebhookQuery, clientID, currentID); err != nil {
		return fmt.Errorf("update webhook %s: %w", currentID, translate(err))
	}
	// Every password is sealed afresh, which also moves a row sealed the
	// legacy way (to its client alone) to the row-bound additional data.
	s.sealRows(key, w, &row, overrides)
	query, args, err := tx.BindNamed(updateWebhookQuery, row)
	if err != nil {
		return fmt.Errorf("update webhook %s: %w", currentID, err)
	}
	if err := tx.QueryRowxContext(ctx, query, args...).Scan(&row.CreatedAt, &row.UpdatedAt); err != nil {
		return fmt.Errorf("update webhook %s: %w", currentID, translate(err))
	}
	// Overrides are replaced as a whole, like the rest of the webhook.
	if _, err := tx.ExecContext(ctx, deleteOverridesQuery, row.Key); err != nil {
		return fmt.Errorf("update webhook %s: %w", currentID, translate(err))
	}
	if err := insertOverrides(ctx, tx, overrides); err != nil {
		return fmt.Errorf("update webhook %s: %w", currentID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update webhook %s: %w", currentID, translate(err))
	}
	w.ClientID, w.Key, w.Created, w.Updated = clientID, row.Key, row.CreatedAt.UTC(), row.UpdatedAt.UTC()
	return nil
}

const deleteWebhookQuery = `DELETE FROM webhooks WHERE client_id = $1 AND id = $2`

// DeleteWebhook removes the client's webhook id and its overrides;
// ErrNotFound when the client has none.
func (s *Store) DeleteWebhook(ctx context.Context, clientID, id string) error {
	res, err := s.db.ExecContext(ctx, deleteWebhookQuery, clientID, id)
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, translate(err))
	}
	if n == 0 {
		return fmt.Errorf("delete webhook %s: %w", id, webhooks.ErrNotFound)
	}
	return nil
}

// resealBatch is how many rows ResealLegacyPasswords reads at a time.
const resealBatch = 500

const legacyWebhookPasswordsQuery = `
SELECT key, client_id, auth_password_enc FROM webhooks
WHERE key > $1 AND auth_password_enc IS NOT NULL
ORDER BY key LIMIT $2`

const resealWebhookPasswordQuery = `
UPDATE webhooks SET auth_password_enc = $3 WHERE key = $1 AND auth_password_enc = $2`

const legacyOfficePasswordsQuery = `
SELECT o.webhook_key, o.office_id, w.client_id, o.auth_password_enc
FROM webhook_office_overrides o JOIN webhooks w ON w.key = o.webhook_key
WHERE (o.webhook_key, o.office_id) > ($1, $2) AND o.auth_password_enc IS NOT NULL
ORDER BY o.webhook_key, o.office_id LIMIT $3`

const resealOfficePasswordQuery = `
UPDATE webhook_office_overrides SET auth_password_enc = $4
WHERE webhook_key = $1 AND office_id = $2 AND auth_password_enc = $3`

// ResealLegacyPasswords seals to their row the receiver passwords still
// sealed to their client alone (written before passwords were bound to their
// row), which a write of their webhook would otherwise do, so that none can
// be moved to another row of its client any more. It returns how many it
// re-sealed. A password that opens with neither additional data is left as
// it is (reads report it ErrUndecryptable); one already bound is not
// touched. It may run beside the API and the worker, and again: a row is
// replaced only while it still holds the ciphertext that was read.
//
// It cannot tell a legacy ciphertext copied to another row of its client
// before it ran from one written there: that is what binding to the row now
// prevents.
func (s *Store) ResealLegacyPasswords(ctx context.Context) (int, error) {
	n := 0
	for after := int64(0); ; {
		var rows []struct {
			Key      int64  `db:"key"`
			ClientID string `db:"client_id"`
			Enc      []byte `db:"auth_password_enc"`
		}
		if err := s.db.SelectContext(ctx, &rows, legacyWebhookPasswordsQuery, after, resealBatch); err != nil {
			return n, fmt.Errorf("reseal passwords: %w", translate(err))
		}
		for _, r := range rows {
			after = r.Key
			aad := passwordAAD(r.ClientID, r.Key)
			password, legacy, err := s.open(r.Enc, aad, r.ClientID)
			if err != nil || !legacy {
				continue
			}
			ok, err := s.exec(ctx, resealWebhookPasswordQuery, r.Key, r.Enc, s.seal(password, aad))
			if err != nil {
				return n, fmt.Errorf("reseal password of webhook %d: %w", r.Key, err)
			}
			if ok {
				n++
			}
		}
		if len(rows) < resealBatch {
			break
		}
	}
	for afterKey, afterOffice := int64(0), ""; ; {
		var rows []struct {
			Key      int64  `db:"webhook_key"`
			OfficeID string `db:"office_id"`
			ClientID string `db:"client_id"`
			Enc      []byte `db:"auth_password_enc"`
		}
		if err := s.db.SelectContext(ctx, &rows, legacyOfficePasswordsQuery, afterKey, afterOffice, resealBatch); err != nil {
			return n, fmt.Errorf("reseal passwords: %w", translate(err))
		}
		for _, r := range rows {
			afterKey, afterOffice = r.Key, r.OfficeID
			aad := officePasswordAAD(r.ClientID, r.Key, r.OfficeID)
			password, legacy, err := s.open(r.Enc, aad, r.ClientID)
			if err != nil || !legacy {
				continue
			}
			ok, err := s.exec(ctx, resealOfficePasswordQuery, r.Key, r.OfficeID, r.Enc, s.seal(password, aad))
			if err != nil {
				return n, fmt.Errorf("reseal password of webhook %d office %s: %w", r.Key, r.OfficeID, err)
			}
			if ok {
				n++
			}
		}
		if len(rows) < resealBatch {
			break
		}
	}
	return n, nil
}

// exec runs query and reports whether it changed a row.
func (s *Store) exec(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return false, translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, translate(err)
	}
	return n > 0, nil
}
