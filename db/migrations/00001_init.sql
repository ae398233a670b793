-- +goose Up

-- Ids are COLLATE "C" so that "ordered by id" is byte order on every server,
-- whatever the database's default locale, and the unique indexes serve it.
CREATE TABLE clients (
    id         text COLLATE "C" PRIMARY KEY,
    name       text        NOT NULL,
    key_hash   bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhooks (
    -- key is the immutable identity that deliveries in flight refer to; a
    -- rename changes id, never key.
    key               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id         text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    id                text COLLATE "C" NOT NULL,
    matching_events   text[]      NOT NULL,
    url               text        NOT NULL,
    auth_type         text        NOT NULL,
    auth_username     text        NOT NULL DEFAULT '',
    -- AES-256-GCM ciphertext of the Basic-auth password; NULL without one.
    auth_password_enc bytea,
    active            boolean     NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- This unique index also serves "webhooks of a client listening to an
    -- event": client_id leads it, and a client has tens of webhooks, so
    -- checking matching_events on those rows is cheaper than keeping a GIN
    -- index, which could only narrow by one of five event names across
    -- every client. Its id column also gives the "ordered by id" for free.
    UNIQUE (client_id, id)
);

CREATE TABLE webhook_office_overrides (
    webhook_key       bigint NOT NULL REFERENCES webhooks (key) ON DELETE CASCADE,
    -- position keeps the order the client gave the overrides in.
    position          integer NOT NULL,
    office_id         text    NOT NULL,
    -- NULL means "keep the webhook's own value".
    url               text,
    auth_type         text,
    auth_username     text,
    auth_password_enc bytea,
    active            boolean,
    PRIMARY KEY (webhook_key, office_id)
);

-- +goose Down
DROP TABLE webhook_office_overrides;
DROP TABLE webhooks;
DROP TABLE clients;
