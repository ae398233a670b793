package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
)

func TestClientCommands(t *testing.T) {
	databaseURL := dbtest.URL(t)
	t.Setenv("DATABASE_URL", databaseURL)
	key := base64.StdEncoding.EncodeToString(dbtest.TestKey())
	t.Setenv("ENCRYPTION_KEY", key)
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
