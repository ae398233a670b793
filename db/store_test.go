package db_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	conn := dbtest.New(t) // already migrated once
	for i := range 2 {
		if err := db.Migrate(t.Context(), conn.DB); err != nil {
			t.Fatalf("Migrate #%d: %v", i+2, err)
		}
	}
	var tables []string
	const q = `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'goose%' ORDER BY table_name`
	if err := conn.SelectContext(t.Context(), &tables, q); err != nil {
		t.Fatal(err)
	}
	want := []string{"attempts", "clients", "deliveries", "events", "webhook_office_overrides", "webhooks"}
	if len(tables) != len(want) {
		t.Fatalf("got tables %v, want %v", tables, want)
	}
	for i := range want {
		if tables[i] != want[i] {
			t.Errorf("got tables %v, want %v", tables, want)
		}
	}
}

func TestUnavailable(t *testing.T) {
	c, _ := db.NewCipher(dbtest.TestKey())
	closed := dbtest.New(t)
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	// sqlx.Open does not dial, so the store meets the dead port on first use.
	unreachable, err := sqlx.Open("postgres", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unreachable.Close() })

	tests := []struct {
		name  string
		store *db.Store
	}{
		{"closed pool", db.NewStore(closed, c)},
		{"port 1", db.NewStore(unreachable, c)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := tt.store.Ping(ctx); !errors.Is(err, webhooks.ErrUnavailable) {
				t.Errorf("Ping: got %v, want ErrUnavailable", err)
			}
			if _, err := tt.store.FindClient(ctx, "a"); !errors.Is(err, webhooks.ErrUnavailable) {
				t.Errorf("FindClient: got %v, want ErrUnavailable", err)
			}
			if _, err := tt.store.ListWebhooksForEvent(ctx, "a", webhooks.IncomingSmsReceived); !errors.Is(err, webhooks.ErrUnavailable) {
				t.Errorf("ListWebhooksForEvent: got %v, want ErrUnavailable", err)
			}
		})
	}

	t.Run("Open", func(t *testing.T) {
		conn, err := db.Open(t.Context(), "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
		if !errors.Is(err, webhooks.ErrUnavailable) {
			t.Errorf("got %v, %v; want ErrUnavailable", conn, err)
		}
	})
}

func TestCreateDatabase(t *testing.T) {
	admin := dbtest.New(t) // any database on the test server will do
	name := fmt.Sprintf("createdb_%d", time.Now().UnixNano())
	u, err := url.Parse(dbtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	for i := range 2 { // the second call finds it there
		if err := db.CreateDatabase(t.Context(), u.String()); err != nil {
			t.Fatalf("CreateDatabase #%d: %v", i+1, err)
		}
	}
	conn, err := db.Open(t.Context(), u.String())
	if err != nil {
		t.Fatalf("open the created database: %v", err)
	}
	_ = conn.Close()

	err = db.CreateDatabase(t.Context(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, webhooks.ErrUnavailable) {
		t.Errorf("unreachable server: got %v, want ErrUnavailable", err)
	}
	if err := db.CreateDatabase(t.Context(), "host=localhost dbname=x"); err == nil {
		t.Errorf("key=value DSN: got nil, want an error")
	}
}

// A burst of as many concurrent queries as the pool allows leaves every
// connection idle for the next one: none is closed on release and reopened
// (each new connection costs PostgreSQL a backend and a fresh parse and plan
// of every prepared statement).
func TestPoolKeepsConnectionsAcrossBursts(t *testing.T) {
	conn := dbtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	burst := func() {
		t.Helper()
		// Each query holds its connection until all have one, so the burst
		// really uses MaxOpenConnections at once.
		n := conn.Stats().MaxOpenConnections
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := conn.ExecContext(ctx, "SELECT pg_sleep(0.2)")
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	burst()
	opened := conn.Stats().OpenConnections
	burst()
	stats := conn.Stats()
	if stats.MaxIdleClosed != 0 {
		t.Errorf("%d connections closed on release for exceeding the idle limit, want 0", stats.MaxIdleClosed)
	}
	if stats.OpenConnections != opened || opened != stats.MaxOpenConnections {
		t.Errorf("open connections %d after the first burst, %d after the second, want %d both times", opened, stats.OpenConnections, stats.MaxOpenConnections)
	}
}
