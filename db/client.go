package db

import (
	"context"
	"fmt"
	"time"

	"github.com/ocelot/webhooks"
)

// clientRow is a row of clients.
type clientRow struct {
	ID        string    `db:"id"`
	Name      string    `db:"name"`
	KeyHash   []byte    `db:"key_hash"`
	CreatedAt time.Time `db:"created_at"`
}

func (r clientRow) client() webhooks.Client {
	return webhooks.Client{ID: r.ID, Name: r.Name, KeyHash: r.KeyHash, Created: r.CreatedAt.UTC()}
}

// createdOrNow lets the database set created_at when the caller did not.
func createdOrNow(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

const createClientQuery = `
INSERT INTO clients (id, name, key_hash, created_at)
VALUES ($1, $2, $3, COALESCE($4, now()))`

// CreateClient stores a new client; ErrConflict when its id is taken.
func (s *Store) CreateClient(ctx context.Context, c webhooks.Client) error {
	if _, err := s.db.ExecContext(ctx, createClientQuery, c.ID, c.Name, c.KeyHash, createdOrNow(c.Created)); err != nil {
		return fmt.Errorf("create client %s: %w", c.ID, translate(err))
	}
	return nil
}

const upsertClientQuery = `
INSERT INTO clients (id, name, key_hash, created_at)
VALUES ($1, $2, $3, COALESCE($4, now()))
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, key_hash = EXCLUDED.key_hash`

// UpsertClient creates the client or updates its name and key hash, keeping
// its creation time (the dev stack's demo client).
func (s *Store) UpsertClient(ctx context.Context, c webhooks.Client) error {
	if _, err := s.db.ExecContext(ctx, upsertClientQuery, c.ID, c.Name, c.KeyHash, createdOrNow(c.Created)); err != nil {
		return fmt.Errorf("upsert client %s: %w", c.ID, translate(err))
	}
	return nil
}

const findClientQuery = `SELECT id, name, key_hash, created_at FROM clients WHERE id = $1`

// FindClient returns the client with id; ErrNotFound when there is none.
func (s *Store) FindClient(ctx context.Context, id string) (webhooks.Client, error) {
	var r clientRow
	// Every ingested event and every API request looks its client up.
	if err := s.getPrepared(ctx, &r, findClientQuery, id); err != nil {
		return webhooks.Client{}, fmt.Errorf("find client %s: %w", id, translate(err))
	}
	return r.client(), nil
}

const listClientsQuery = `SELECT id, name, key_hash, created_at FROM clients ORDER BY id`

// ListClients returns every client, ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]webhooks.Client, error) {
	var rows []clientRow
	if err := s.db.SelectContext(ctx, &rows, listClientsQuery); err != nil {
		return nil, fmt.Errorf("list clients: %w", translate(err))
	}
	clients := make([]webhooks.Client, len(rows))
	for i, r := range rows {
		clients[i] = r.client()
	}
	return clients, nil
}
