package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
)

func TestClientCommands(t *testing.T) {
	databaseURL := dbtest.URL(t)
	t.Setenv("DATABASE_URL", databaseURL)
	// Client commands need no encryption key: they touch nothing sealed.
	t.Setenv("ENCRYPTION_KEY", "")
	ctx := context.Background()

	var out bytes.Buffer
	if err := run(ctx, []string{"client", "create", "Acme chatbot", "acme"}, &out); err != nil {
		t.Fatalf("client create: %v", err)
	}
	m := regexp.MustCompile(`client id:\s+(\S+)\napi key:\s+(\S+)`).FindStringSubmatch(out.String())
	if m == nil || m[1] != "acme" {
		t.Fatalf("got output %q, want the id acme and a key", out.String())
	}
	if err := run(ctx, []string{"client", "create", "Again", "acme"}, &out); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second create of acme: got %v, want an 'exists' error", err)
	}
	out.Reset()
	if err := run(ctx, []string{"client", "create", "Generated"}, &out); err != nil {
		t.Fatalf("client create with a generated id: %v", err)
	}
	if err := run(ctx, []string{"client", "create", "Bad", "a:b"}, &out); err == nil {
		t.Error("client id with ':': got no error, want one")
	}

	// The printed key authenticates: only its hash is stored.
	conn, err := db.Open(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cipher, _ := db.NewCipher(dbtest.TestKey())
	c, err := db.NewStore(conn, cipher).FindClient(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !c.KeyMatches(m[2]) || bytes.Contains(c.KeyHash, []byte(m[2])) {
		t.Error("the printed key does not match the stored hash, or is stored as is")
	}

	out.Reset()
	if err := run(ctx, []string{"client", "list"}, &out); err != nil {
		t.Fatalf("client list: %v", err)
	}
	if !strings.Contains(out.String(), "acme") || !strings.Contains(out.String(), "Generated") || strings.Count(out.String(), "\n") != 3 {
		t.Errorf("client list: got %q, want a header and the two clients", out.String())
	}
}

func TestUsageAndBadConfiguration(t *testing.T) {
	if err := run(context.Background(), nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no arguments: got %v, want the usage", err)
	}
	t.Setenv("RETRY_SCHEDULE", "soon")
	if err := run(context.Background(), []string{"migrate"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "RETRY_SCHEDULE") {
		t.Errorf("bad RETRY_SCHEDULE: got %v, want an error naming it", err)
	}
}

// TestReadmeClientCommands runs the README's `go run ./cmd/webhooks client …`
// lines as written, in the environment `make run` leaves: a database, no
// ENCRYPTION_KEY, no PAYLOAD_KEYS.
func TestReadmeClientCommands(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^go run \./cmd/webhooks (client [^#\n]*)`)
	matches := line.FindAllStringSubmatch(string(readme), -1)
	if len(matches) < 2 {
		t.Fatalf("got %d client command lines in the README, want the create and list examples", len(matches))
	}
	t.Setenv("DATABASE_URL", dbtest.URL(t))
	t.Setenv("ENCRYPTION_KEY", "")
	t.Setenv("PAYLOAD_KEYS", "")
	var out bytes.Buffer
	for _, m := range matches {
		args := shellWords(t, strings.TrimSpace(m[1]))
		if err := run(context.Background(), args, &out); err != nil {
			t.Errorf("webhooks %s: %v", m[1], err)
		}
	}
	if !strings.Contains(out.String(), "api key:") || !strings.Contains(out.String(), "Acme chatbot") {
		t.Errorf("got output %q, want a created client's key and the list naming it", out.String())
	}
}

// shellWords splits a README command line as a shell would, for the
// double-quoted words the README uses.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	for _, m := range regexp.MustCompile(`"([^"]*)"|(\S+)`).FindAllStringSubmatch(line, -1) {
		if m[2] != "" && strings.ContainsAny(m[2], `'"$\`) {
			t.Fatalf("README command %q: quoting this test does not handle", line)
		}
		words = append(words, m[1]+m[2])
	}
	return words
}

func TestServeAndWorkerRequireEncryptionKey(t *testing.T) {
	t.Setenv("ENCRYPTION_KEY", "")
	t.Setenv("INGEST_PASSWORD", "set")
	for _, command := range []string{"serve", "worker"} {
		t.Run(command, func(t *testing.T) {
			err := run(context.Background(), []string{command}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), "ENCRYPTION_KEY: required") {
				t.Errorf("got %v, want an error saying ENCRYPTION_KEY is required", err)
			}
		})
	}
}

func TestRetryRegistration(t *testing.T) {
	sched := retrySchedule{First: time.Millisecond, Max: 4 * time.Millisecond, Limit: time.Second}
	logger := slog.New(slog.DiscardHandler)
	notReady := serviceerror.NewUnavailable("connection refused")
	tests := []struct {
		name      string
		errs      []error // returned by the calls in turn; nil after them
		sched     retrySchedule
		wantCalls int
		wantErr   string
	}{
		{"ready at once", nil, sched, 1, ""},
		{"server starting", []error{notReady, notReady, notReady}, sched, 4, ""},
		{"namespace not registered yet", []error{serviceerror.NewNamespaceNotFound("default")}, sched, 2, ""},
		{"wrapped as the registration does", []error{fmt.Errorf("list search attributes: %w", notReady)}, sched, 2, ""},
		{"another type: no retry", []error{errors.New(`search attribute "WebhookIds" exists as Keyword, want KeywordList`)}, sched, 1, "exists as Keyword"},
		{"permission denied: no retry", []error{serviceerror.NewPermissionDenied("no", "")}, sched, 1, "no"},
		{"never ready: bounded", slices.Repeat([]error{notReady}, 1000),
			retrySchedule{First: time.Millisecond, Max: 2 * time.Millisecond, Limit: 20 * time.Millisecond}, -1, "not ready after 20ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := retryRegistration(context.Background(), tt.sched, logger, func(ctx context.Context) error {
				calls++
				if _, ok := ctx.Deadline(); !ok {
					t.Error("registration call without a deadline")
				}
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %v, want error %q", err, tt.wantErr)
			}
			if tt.wantCalls >= 0 && calls != tt.wantCalls {
				t.Errorf("got %d calls, want %d", calls, tt.wantCalls)
			}
			if tt.wantCalls < 0 && (calls < 2 || calls >= len(tt.errs)) {
				t.Errorf("got %d calls, want a few retries and then an end", calls)
			}
		})
	}
}
