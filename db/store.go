// Package db stores clients and webhooks in PostgreSQL through sqlx and
// lib/pq. It owns the SQL schema (embedded migrations), the row types and the
// translation of driver errors into the domain's error kinds; receiver
// passwords are encrypted before they reach a row.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/ocelot/webhooks"
)

// maxConns bounds a process's connections to PostgreSQL.
const maxConns = 20

// Open connects to the PostgreSQL database at databaseURL and checks that it
// answers. An unreachable server is an error wrapping webhooks.ErrUnavailable.
func Open(ctx context.Context, databaseURL string) (*sqlx.DB, error) {
	// Parsed here, once, rather than by the driver at each connection: its
	// parse errors quote the whole connection string, password included.
	connector, err := pq.NewConnector(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: DATABASE_URL is not a valid connection string: %s", redactDSN(err, databaseURL))
	}
	db := sqlx.NewDb(sql.OpenDB(connector), "postgres")
	db.SetMaxOpenConns(maxConns)
	// As many idle as open: with fewer, every burst past the idle limit
	// closes connections on release and opens new ones on the next burst,
	// and each new one costs PostgreSQL a backend process, its catalog
	// caches and a fresh parse and plan of every prepared statement
	// (docs/performance.md measured 172 backends in 5 s of load with 10).
	db.SetMaxIdleConns(maxConns)
	// Give idle connections back to the server after a burst.
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open database: %w", translate(err))
	}
	return db, nil
}

// kvPassword finds the password of a key=value connection string.
var kvPassword = regexp.MustCompile(`password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// redactDSN describes a connection string's parse error without the
// password: net/url's errors quote the whole URL, so only their cause is
// kept; any other text has the string and its password cut out.
func redactDSN(err error, dsn string) string {
	if urlErr, ok := errors.AsType[*url.Error](err); ok {
		return urlErr.Err.Error()
	}
	msg := strings.ReplaceAll(err.Error(), dsn, "[REDACTED]")
	var secrets []string
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		secrets = append(secrets, m[1], strings.Trim(m[1], "'"))
	}
	for _, secret := range secrets {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[REDACTED]")
		}
	}
	return msg
}

// CreateDatabase creates the database named in databaseURL (a postgres://
// URL) unless it exists, so that the dev stack runs on a fresh server. It
// connects to the server's "postgres" database to create it.
func CreateDatabase(ctx context.Context, databaseURL string) error {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("create database: the database URL must be a postgres:// URL")
	}
	name := strings.TrimPrefix(u.Path, "/")
	conn, err := Open(ctx, databaseURL)
	if err == nil {
		return conn.Close()
	}
	if pq.As(err, pqerror.InvalidCatalogName) == nil || name == "" {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/postgres"
	admin, err := Open(ctx, u.String())
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	defer admin.Close()
	// An identifier cannot be a parameter: quoting is what keeps this safe.
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	if err != nil && pq.As(err, pqerror.DuplicateDatabase) == nil {
		return fmt.Errorf("create database %s: %w", name, translate(err))
	}
	return nil
}

// Store reads and writes clients and webhooks.
type Store struct {
	db          *sqlx.DB
	cipher      *Cipher
	maxWebhooks int

	mu    sync.Mutex
	stmts map[string]*sqlx.Stmt
}

// NewStore returns a Store on db that encrypts receiver passwords with c.
func NewStore(db *sqlx.DB, c *Cipher) *Store {
	return &Store{db: db, cipher: c, stmts: map[string]*sqlx.Stmt{}}
}

// prepared returns query as a prepared statement, made on first use. The
// statements of the delivery path (an event's client lookup, resolution,
// the log's writes, an attempt's read of its webhook) go through it:
// database/sql prepares one once per connection (again after a
// reconnect), and PostgreSQL then neither parses it again nor, after a few
// runs, plans it again: about a third less PostgreSQL CPU per event
// (docs/performance.md). Each finds
// its rows by a key, so a generic plan is as good as a custom one; the
// log's list reads are not prepared (docs/delivery-log.md).
func (s *Store) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	s.mu.Lock()
	stmt, ok := s.stmts[query]
	s.mu.Unlock()
	if ok {
		return stmt, nil
	}
	// Prepared without the lock: while PostgreSQL is slow or unreachable,
	// each caller waits on its own context, not behind another's.
	stmt, err := s.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if first, ok := s.stmts[query]; ok {
		_ = stmt.Close()
		return first, nil
	}
	s.stmts[query] = stmt
	return stmt, nil
}

// getPrepared, selectPrepared and execPrepared run query as prepared.
func (s *Store) getPrepared(ctx context.Context, dest any, query string, args ...any) error {
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return err
	}
	return stmt.GetContext(ctx, dest, args...)
}

func (s *Store) selectPrepared(ctx context.Context, dest any, query string, args ...any) error {
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return err
	}
	return stmt.SelectContext(ctx, dest, args...)
}

func (s *Store) execPrepared(ctx context.Context, query string, args ...any) error {
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return err
	}
	_, err = stmt.ExecContext(ctx, args...)
	return err
}

// LimitWebhooks caps a client's webhooks at n (SPEC 3.5); 0 means no cap.
func (s *Store) LimitWebhooks(n int) {
	s.maxWebhooks = n
}

// Ping reports whether the database answers (for readiness checks).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", translate(err))
	}
	return nil
}

// translate is the one place where driver errors become the domain's error
// kinds. The cause stays wrapped beside the kind for logs.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return webhooks.ErrNotFound
	case pq.As(err, pqerror.UniqueViolation) != nil:
		return fmt.Errorf("%w: %w", webhooks.ErrConflict, err)
	case unavailable(err):
		return fmt.Errorf("%w: %w", webhooks.ErrUnavailable, err)
	}
	return err
}

// unavailable reports whether err means the server cannot be reached right
// now, so that the caller answers 503 or retries instead of failing for good.
func unavailable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	if pqErr := pq.As(err); pqErr != nil {
		switch pqErr.Code {
		case pqerror.AdminShutdown, pqerror.CrashShutdown, pqerror.CannotConnectNow,
			// Too many connections passes once others are returned.
			pqerror.TooManyConnections:
			return true
		}
		return pqErr.Code.Class() == pqerror.ClassConnectionException
	}
	// database/sql does not export its "database is closed" error, and some
	// dial failures reach us as text only.
	msg := err.Error()
	return strings.Contains(msg, "sql: database is closed") || strings.Contains(msg, "connection refused")
}
