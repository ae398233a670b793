-- +goose Up

-- Signing secrets (SPEC 11), sealed like receiver passwords. A webhook made
-- before this migration gets its secret on first use (EnsureSigningSecret).
ALTER TABLE webhooks
    ADD COLUMN signing_secret_enc          bytea,
    ADD COLUMN previous_secret_enc         bytea,
    ADD COLUMN previous_secret_expires_at  timestamptz;

-- The delivery log (SPEC 10). events keeps the exact payload bytes, sealed;
-- deliveries and attempts are written by the worker as they happen.
CREATE TABLE events (
    client_id   text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    event_id    text COLLATE "C" NOT NULL,
    event_name  text        NOT NULL,
    office_id   text,
    date_time   text        NOT NULL,
    payload_enc bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, event_id)
);

CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    -- seq orders the log newest first and is the keyset cursor: unique and
    -- never reused, unlike a timestamp.
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    client_id       text COLLATE "C" NOT NULL,
    event_id        text COLLATE "C" NOT NULL,
    event_name      text        NOT NULL,
    office_id       text,
    -- No foreign key: a deleted webhook's deliveries stay visible through
    -- their event. webhook_id is the id when the delivery was made, shown
    -- once the webhook is gone; a rename keeps key.
    webhook_key     bigint      NOT NULL,
    webhook_id      text COLLATE "C" NOT NULL,
    workflow_id     text        NOT NULL,
    state           text        NOT NULL,
    next_attempt_at timestamptz,
    resend_of       uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (client_id, event_id) REFERENCES events (client_id, event_id) ON DELETE CASCADE,
    -- A workflow makes one delivery per webhook: a retried resolution
    -- finds the row it made before instead of adding one.
    UNIQUE (workflow_id, webhook_key)
);

-- A webhook's log, newest first, and its filters: each is a range scan of
-- one index that stops after a page (docs/delivery-log.md has the plans).
CREATE INDEX deliveries_webhook_seq ON deliveries (webhook_key, seq DESC);
CREATE INDEX deliveries_webhook_state_seq ON deliveries (webhook_key, state, seq DESC);
CREATE INDEX deliveries_webhook_event_seq ON deliveries (webhook_key, event_name, seq DESC);
-- An event's deliveries (GET /events/{id}) and the cascade from events.
CREATE INDEX deliveries_event ON deliveries (client_id, event_id);
-- Pruning and the "waiting to retry" gauge.
CREATE INDEX deliveries_updated ON deliveries (updated_at);
CREATE INDEX deliveries_waiting ON deliveries (next_attempt_at) WHERE state = 'pending' AND next_attempt_at IS NOT NULL;
CREATE INDEX events_created ON events (created_at);
-- A webhook's deliveries all belong to one client: without this the planner
-- multiplies the two predicates' selectivities and expects about one row,
-- and scans and sorts a busy webhook's whole log (docs/delivery-log.md).
CREATE STATISTICS deliveries_webhook_client (dependencies) ON webhook_key, client_id FROM deliveries;

CREATE TABLE attempts (
    delivery_id   uuid    NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    -- (delivery_id, attempt) is the idempotency key: an activity retried
    -- after its POST rewrites its attempt instead of adding one.
    attempt       integer NOT NULL,
    at            timestamptz NOT NULL,
    url           text    NOT NULL,
    status_code   integer,
    error         text,
    duration_ms   bigint  NOT NULL,
    response_body text,
    PRIMARY KEY (delivery_id, attempt)
);

-- +goose Down
DROP STATISTICS deliveries_webhook_client;
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;
ALTER TABLE webhooks
    DROP COLUMN signing_secret_enc,
    DROP COLUMN previous_secret_enc,
    DROP COLUMN previous_secret_expires_at;
