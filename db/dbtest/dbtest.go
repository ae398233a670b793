// Package dbtest gives tests a fresh, migrated PostgreSQL database of their
// own, dropped when the test ends. Tests that need PostgreSQL fail (never
// skip) when it cannot be reached, so that CI cannot pass without it.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ocelot/webhooks/db"
)

// DefaultAdminURL is used when TEST_DATABASE_URL is unset: the local server
// of the dev stack.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

const startHint = "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` " +
	"(or `make run`), or set TEST_DATABASE_URL to a server where this user may CREATE DATABASE"

// AdminURL is where test databases are created and dropped: env
// TEST_DATABASE_URL, or DefaultAdminURL.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// URL creates a fresh migrated database and returns its URL, for tests that
// hand it to another process. The database is dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	u := create(t)
	conn := open(t, u)
	defer conn.Close()
	return u
}

// New returns a connection pool on a fresh migrated database, closed and
// dropped when t ends.
func New(t testing.TB) *sqlx.DB {
	t.Helper()
	conn := open(t, create(t))
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// NewStore returns a Store on a fresh database, encrypting with a random key.
func NewStore(t testing.TB) *db.Store {
	t.Helper()
	c, err := db.NewCipher(TestKey())
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return db.NewStore(New(t), c)
}

// TestKey returns a new random encryption key on every call.
func TestKey() []byte {
	key := make([]byte, db.KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	return key
}

// open connects to the database at u and migrates it.
func open(t testing.TB, u string) *sqlx.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := db.Open(ctx, u)
	if err != nil {
		t.Fatalf("dbtest: open test database: %v", err)
	}
	if err := db.Migrate(ctx, conn.DB); err != nil {
		_ = conn.Close()
		t.Fatalf("dbtest: %v", err)
	}
	return conn
}

// create makes an empty database with a unique name, registers its drop and
// returns its URL.
func create(t testing.TB) string {
	t.Helper()
	admin := AdminURL()
	parsed, err := url.Parse(admin)
	if err != nil || (parsed.Scheme != "postgres" && parsed.Scheme != "postgresql") {
		t.Fatalf("dbtest: TEST_DATABASE_URL must be a postgres:// URL")
	}
	shown := parsed.Redacted()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adminDB, err := sql.Open("postgres", admin)
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", shown, err)
	}
	if err := adminDB.PingContext(ctx); err != nil {
		_ = adminDB.Close()
		t.Fatalf("dbtest: PostgreSQL is not reachable at %s: %v\n%s", shown, err, startHint)
	}

	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	// Identifiers cannot be parameters; the name is ours and quoted anyway.
	if _, err := adminDB.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		_ = adminDB.Close()
		t.Fatalf("dbtest: create database %s on %s: %v", name, shown, err)
	}
	t.Cleanup(func() {
		defer adminDB.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE ends connections a test left open, such as a leaked pool.
		if _, err := adminDB.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})

	parsed.Path = "/" + name
	return parsed.String()
}
