package db_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db/dbtest"
)

func TestClients(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := t.Context()
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	b := webhooks.Client{ID: "b", Name: "Bot B", KeyHash: webhooks.HashAPIKey("kb"), Created: created}
	a := webhooks.Client{ID: "a", Name: "Bot A", KeyHash: webhooks.HashAPIKey("ka")}
	for _, c := range []webhooks.Client{b, a} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(%s): %v", c.ID, err)
		}
	}

	t.Run("find", func(t *testing.T) {
		got, err := s.FindClient(ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != b.ID || got.Name != b.Name || !bytes.Equal(got.KeyHash, b.KeyHash) || !got.Created.Equal(created) {
			t.Errorf("got %+v, want %+v", got, b)
		}
		if got.Created.Location() != time.UTC {
			t.Errorf("got location %v, want UTC", got.Created.Location())
		}
		if !got.KeyMatches("kb") {
			t.Errorf("got KeyMatches(kb) false, want true")
		}
	})

	t.Run("created by the database", func(t *testing.T) {
		got, err := s.FindClient(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if since := time.Since(got.Created); since < 0 || since > time.Minute {
			t.Errorf("got Created %v, want about now", got.Created)
		}
	})

	t.Run("duplicate", func(t *testing.T) {
		err := s.CreateClient(ctx, webhooks.Client{ID: "a", Name: "again", KeyHash: []byte{1}})
		if !errors.Is(err, webhooks.ErrConflict) {
			t.Errorf("got %v, want ErrConflict", err)
		}
	})

	t.Run("missing", func(t *testing.T) {
		_, err := s.FindClient(ctx, "nobody")
		if !errors.Is(err, webhooks.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})

	t.Run("list ordered by id", func(t *testing.T) {
		got, err := s.ListClients(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
			t.Errorf("got %+v, want a then b", got)
		}
	})

	t.Run("upsert", func(t *testing.T) {
		demo := webhooks.Client{ID: "demo", Name: "Demo", KeyHash: webhooks.HashAPIKey("k1")}
		if err := s.UpsertClient(ctx, demo); err != nil {
			t.Fatalf("UpsertClient (create): %v", err)
		}
		first, err := s.FindClient(ctx, "demo")
		if err != nil {
			t.Fatal(err)
		}
		demo.Name, demo.KeyHash = "Demo 2", webhooks.HashAPIKey("k2")
		if err := s.UpsertClient(ctx, demo); err != nil {
			t.Fatalf("UpsertClient (update): %v", err)
		}
		got, err := s.FindClient(ctx, "demo")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Demo 2" || !got.KeyMatches("k2") || got.KeyMatches("k1") {
			t.Errorf("got %+v, want name Demo 2 and key k2", got)
		}
		if !got.Created.Equal(first.Created) {
			t.Errorf("got Created %v, want %v (kept)", got.Created, first.Created)
		}
	})
}
