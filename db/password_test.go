package db_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
)

// newSealingStore is a store on a fresh database with the client "a", its
// connection for SQL and its cipher, to seal rows the legacy way.
func newSealingStore(t *testing.T) (*db.Store, *sqlx.DB, *db.Cipher) {
	t.Helper()
	conn := dbtest.New(t)
	c, err := db.NewCipher(dbtest.TestKey())
	if err != nil {
		t.Fatal(err)
	}
	s := db.NewStore(conn, c)
	addClients(t, s, "a")
	return s, conn, c
}

// basicHook is a webhook of client "a" with a password and overrides for
// offices o1 and o2 with passwords of their own, and o3 without auth; every
// password starts with prefix.
func basicHook(id, prefix string) *webhooks.Webhook {
	w := hook("a", id, webhooks.IncomingSmsReceived)
	w.Auth = webhooks.Auth{Type: webhooks.AuthBasic, Username: "u", Password: prefix + "-webhook"}
	w.PerOfficeOverrides = []webhooks.OfficeOverride{
		{OfficeID: "o1", Auth: &webhooks.Auth{Type: webhooks.AuthBasic, Username: "u1", Password: prefix + "-o1"}},
		{OfficeID: "o2", Auth: &webhooks.Auth{Type: webhooks.AuthBasic, Username: "u2", Password: prefix + "-o2"}},
		{OfficeID: "o3", URL: ptr("https://example.com/o3")},
	}
	return w
}

// checkPasswords fails unless got has the passwords basicHook(_, prefix) gave.
func checkPasswords(t *testing.T, got webhooks.Webhook, prefix string) {
	t.Helper()
	if len(got.PerOfficeOverrides) != 3 || got.PerOfficeOverrides[2].Auth != nil {
		t.Fatalf("got overrides %s, want o1, o2 and o3 without auth", show(got))
	}
	want := []string{prefix + "-webhook", prefix + "-o1", prefix + "-o2"}
	have := []string{got.Auth.Password, got.PerOfficeOverrides[0].Auth.Password, got.PerOfficeOverrides[1].Auth.Password}
	if strings.Join(have, " ") != strings.Join(want, " ") {
		t.Errorf("got passwords %q, want %q", have, want)
	}
}

func TestPasswordsRoundTrip(t *testing.T) {
	s, _, _ := newSealingStore(t)
	ctx := t.Context()
	w := create(t, s, basicHook("w", "pw"))
	create(t, s, basicHook("v", "other"))

	got, err := s.FindWebhook(ctx, "a", "w")
	if err != nil {
		t.Fatal(err)
	}
	checkPasswords(t, got, "pw")
	if got, err = findByKey(ctx, s, w.Key); err != nil {
		t.Fatal(err)
	}
	checkPasswords(t, got, "pw")
	list, err := s.ListWebhooks(ctx, "a")
	if err != nil || len(list) != 2 {
		t.Fatalf("list: got %d webhooks, %v; want 2", len(list), err)
	}
	checkPasswords(t, list[0], "other")
	checkPasswords(t, list[1], "pw")

	// An update seals them again, to the same row.
	w.PerOfficeOverrides[0].Auth.Password = "pw2-o1"
	if err := s.UpdateWebhook(ctx, "a", "w", w); err != nil {
		t.Fatal(err)
	}
	if got, err = s.FindWebhook(ctx, "a", "w"); err != nil {
		t.Fatal(err)
	}
	if p := got.PerOfficeOverrides[0].Auth.Password; p != "pw2-o1" {
		t.Errorf("after update: got o1 password %q, want pw2-o1", p)
	}
}

// A ciphertext copied to another row of the same client (another webhook,
// another office, or between a webhook and an override) does not open there.
func TestPasswordCopiedToAnotherRowDoesNotOpen(t *testing.T) {
	s, conn, _ := newSealingStore(t)
	ctx := t.Context()
	const (
		webhookPassword = `SELECT auth_password_enc FROM webhooks WHERE key = $1`
		officePassword  = `SELECT auth_password_enc FROM webhook_office_overrides WHERE webhook_key = $1 AND office_id = $2`
		toWebhook       = `UPDATE webhooks SET auth_password_enc = $2 WHERE key = $1`
		toOffice        = `UPDATE webhook_office_overrides SET auth_password_enc = $3 WHERE webhook_key = $1 AND office_id = $2`
	)
	tests := []struct {
		name string
		// from reads the ciphertext, to writes it; a and b are the keys of
		// two webhooks of the client. victim is the key that no longer reads.
		from   func(a, b int64) (string, []any)
		to     func(a, b int64) (string, []any)
		victim func(a, b int64) int64
	}{
		{"webhook to another webhook",
			func(a, b int64) (string, []any) { return webhookPassword, []any{a} },
			func(a, b int64) (string, []any) { return toWebhook, []any{b} },
			func(a, b int64) int64 { return b }},
		{"office to another office of the webhook",
			func(a, b int64) (string, []any) { return officePassword, []any{a, "o1"} },
			func(a, b int64) (string, []any) { return toOffice, []any{a, "o2"} },
			func(a, b int64) int64 { return a }},
		{"office to the same office of another webhook",
			func(a, b int64) (string, []any) { return officePassword, []any{a, "o1"} },
			func(a, b int64) (string, []any) { return toOffice, []any{b, "o1"} },
			func(a, b int64) int64 { return b }},
		{"webhook to its override",
			func(a, b int64) (string, []any) { return webhookPassword, []any{a} },
			func(a, b int64) (string, []any) { return toOffice, []any{a, "o1"} },
			func(a, b int64) int64 { return a }},
		{"override to its webhook",
			func(a, b int64) (string, []any) { return officePassword, []any{a, "o1"} },
			func(a, b int64) (string, []any) { return toWebhook, []any{a} },
			func(a, b int64) int64 { return a }},
		{"webhook to another webhook's override",
			func(a, b int64) (string, []any) { return webhookPassword, []any{a} },
			func(a, b int64) (string, []any) { return toOffice, []any{b, "o2"} },
			func(a, b int64) int64 { return b }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := create(t, s, basicHook(fmt.Sprintf("a%d", i), "pa"))
			b := create(t, s, basicHook(fmt.Sprintf("b%d", i), "pb"))
			query, args := tt.from(a.Key, b.Key)
			var enc []byte
			if err := conn.GetContext(ctx, &enc, query, args...); err != nil {
				t.Fatal(err)
			}
			query, args = tt.to(a.Key, b.Key)
			res, err := conn.ExecContext(ctx, query, append(args, enc)...)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("copy changed %d rows, want 1", n)
			}
			victim := tt.victim(a.Key, b.Key)
			got, err := findByKey(ctx, s, victim)
			if !errors.Is(err, webhooks.ErrUndecryptable) {
				t.Fatalf("got %v (passwords %s), want ErrUndecryptable", err, show(got))
			}
			for _, p := range []string{"pa-webhook", "pa-o1", "pa-o2", "pb-webhook", "pb-o1", "pb-o2"} {
				if strings.Contains(err.Error(), p) {
					t.Errorf("got error %q, want it without the password %q", err, p)
				}
			}
			other, prefix := a, "pa"
			if victim == a.Key {
				other, prefix = b, "pb"
			}
			got, err = findByKey(ctx, s, other.Key)
			if err != nil {
				t.Fatalf("the webhook copied from: %v", err)
			}
			checkPasswords(t, got, prefix)
		})
	}
}

// sealLegacy rewrites the passwords of the webhook key the way they were
// sealed before they were bound to their row: to the client alone.
func sealLegacy(t *testing.T, conn *sqlx.DB, c *db.Cipher, w *webhooks.Webhook) {
	t.Helper()
	ctx := t.Context()
	if _, err := conn.ExecContext(ctx, `UPDATE webhooks SET auth_password_enc = $2 WHERE key = $1`,
		w.Key, c.Seal([]byte(w.Auth.Password), []byte(w.ClientID))); err != nil {
		t.Fatal(err)
	}
	for _, o := range w.PerOfficeOverrides {
		if o.Auth == nil {
			continue
		}
		if _, err := conn.ExecContext(ctx, `UPDATE webhook_office_overrides SET auth_password_enc = $3 WHERE webhook_key = $1 AND office_id = $2`,
			w.Key, o.OfficeID, c.Seal([]byte(o.Auth.Password), []byte(w.ClientID))); err != nil {
			t.Fatal(err)
		}
	}
}

// storedPasswords returns the ciphertexts of the webhook key: its own, then
// its overrides' in position order (NULL ones included).
func storedPasswords(t *testing.T, conn *sqlx.DB, key int64) [][]byte {
	t.Helper()
	var enc [][]byte
	const q = `SELECT auth_password_enc FROM (
		SELECT 0 AS n, auth_password_enc FROM webhooks WHERE key = $1
		UNION ALL SELECT 1 + position, auth_password_enc FROM webhook_office_overrides WHERE webhook_key = $1) t
		ORDER BY n`
	if err := conn.SelectContext(t.Context(), &enc, q, key); err != nil {
		t.Fatal(err)
	}
	return enc
}

// checkNotLegacy fails if a password of the webhook key still opens with
// the client alone as additional data.
func checkNotLegacy(t *testing.T, conn *sqlx.DB, c *db.Cipher, key int64, clientID string) {
	t.Helper()
	for i, enc := range storedPasswords(t, conn, key) {
		if enc == nil {
			continue
		}
		if _, err := c.Open(enc, []byte(clientID)); err == nil {
			t.Errorf("password %d of webhook %d still opens with the client alone", i, key)
		}
	}
}

func TestLegacyPasswords(t *testing.T) {
	s, conn, c := newSealingStore(t)
	ctx := t.Context()
	w := create(t, s, basicHook("w", "legacy"))
	sealLegacy(t, conn, c, w)
	legacy := storedPasswords(t, conn, w.Key)

	t.Run("still open", func(t *testing.T) {
		got, err := s.FindWebhook(ctx, "a", "w")
		if err != nil {
			t.Fatal(err)
		}
		checkPasswords(t, got, "legacy")
	})

	t.Run("rename in SQL keeps them readable", func(t *testing.T) {
		if _, err := conn.ExecContext(ctx, `UPDATE webhooks SET id = 'renamed' WHERE key = $1`, w.Key); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindWebhook(ctx, "a", "renamed")
		if err != nil {
			t.Fatal(err)
		}
		checkPasswords(t, got, "legacy")
	})

	t.Run("re-sealed on the next write", func(t *testing.T) {
		got, err := s.FindWebhook(ctx, "a", "renamed")
		if err != nil {
			t.Fatal(err)
		}
		got.ID = "w"
		if err := s.UpdateWebhook(ctx, "a", "renamed", &got); err != nil {
			t.Fatal(err)
		}
		checkNotLegacy(t, conn, c, w.Key, "a")
		if got, err = s.FindWebhook(ctx, "a", "w"); err != nil {
			t.Fatal(err)
		}
		checkPasswords(t, got, "legacy")

		// Now bound to its row: copied to another webhook it no longer opens.
		other := create(t, s, basicHook("other", "other"))
		if _, err := conn.ExecContext(ctx, `UPDATE webhooks SET auth_password_enc = (SELECT auth_password_enc FROM webhooks WHERE key = $1) WHERE key = $2`, w.Key, other.Key); err != nil {
			t.Fatal(err)
		}
		if _, err := findByKey(ctx, s, other.Key); !errors.Is(err, webhooks.ErrUndecryptable) {
			t.Errorf("copied after re-sealing: got %v, want ErrUndecryptable", err)
		}
	})

	t.Run("the old ciphertext written back is still legacy", func(t *testing.T) {
		// Restoring the legacy bytes (a backup) must read as before.
		if _, err := conn.ExecContext(ctx, `UPDATE webhooks SET auth_password_enc = $2 WHERE key = $1`, w.Key, legacy[0]); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindWebhook(ctx, "a", "w")
		if err != nil {
			t.Fatal(err)
		}
		if got.Auth.Password != "legacy-webhook" {
			t.Errorf("got password %q, want legacy-webhook", got.Auth.Password)
		}
	})

	t.Run("opening with neither is poison", func(t *testing.T) {
		addClients(t, s, "b")
		for _, enc := range [][]byte{
			c.Seal([]byte("legacy-webhook"), []byte("b")), // another client's legacy row
			c.Seal([]byte("legacy-webhook"), []byte("")),
			[]byte("not a ciphertext at all, but long enough"),
		} {
			if _, err := conn.ExecContext(ctx, `UPDATE webhooks SET auth_password_enc = $2 WHERE key = $1`, w.Key, enc); err != nil {
				t.Fatal(err)
			}
			_, err := s.FindWebhook(ctx, "a", "w")
			if !errors.Is(err, webhooks.ErrUndecryptable) || strings.Contains(err.Error(), "legacy-") {
				t.Errorf("got %v, want ErrUndecryptable without the password", err)
			}
		}
	})
}

func TestRenameKeepsPasswordsReadable(t *testing.T) {
	s, conn, _ := newSealingStore(t)
	ctx := t.Context()
	w := create(t, s, basicHook("before", "pw"))
	sealed := storedPasswords(t, conn, w.Key)

	// A rename that does not seal again: the id is not in the additional data.
	if _, err := conn.ExecContext(ctx, `UPDATE webhooks SET id = 'middle' WHERE key = $1`, w.Key); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindWebhook(ctx, "a", "middle")
	if err != nil {
		t.Fatal(err)
	}
	checkPasswords(t, got, "pw")

	got.ID = "after"
	if err := s.UpdateWebhook(ctx, "a", "middle", &got); err != nil {
		t.Fatal(err)
	}
	if got.Key != w.Key {
		t.Errorf("got key %d after rename, want %d", got.Key, w.Key)
	}
	for _, find := range []func() (webhooks.Webhook, error){
		func() (webhooks.Webhook, error) { return s.FindWebhook(ctx, "a", "after") },
		func() (webhooks.Webhook, error) { return findByKey(ctx, s, w.Key) },
	} {
		got, err := find()
		if err != nil {
			t.Fatal(err)
		}
		checkPasswords(t, got, "pw")
	}
	if now := storedPasswords(t, conn, w.Key); string(now[0]) == string(sealed[0]) {
		t.Error("UpdateWebhook kept the old ciphertext, want one sealed afresh")
	}
}

func TestResealLegacyPasswords(t *testing.T) {
	s, conn, c := newSealingStore(t)
	ctx := t.Context()
	old := create(t, s, basicHook("old", "old"))
	sealLegacy(t, conn, c, old)
	current := create(t, s, basicHook("current", "current"))
	currentEnc := storedPasswords(t, conn, current.Key)
	poison := create(t, s, basicHook("poison", "poison"))
	garbage := c.Seal([]byte("poison-webhook"), []byte("someone else"))
	if _, err := conn.ExecContext(ctx, `UPDATE webhooks SET auth_password_enc = $2 WHERE key = $1`, poison.Key, garbage); err != nil {
		t.Fatal(err)
	}
	var updatedBefore time.Time
	if err := conn.GetContext(ctx, &updatedBefore, `SELECT updated_at FROM webhooks WHERE key = $1`, old.Key); err != nil {
		t.Fatal(err)
	}

	n, err := s.ResealLegacyPasswords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("got %d re-sealed, want 3 (a webhook and two overrides)", n)
	}
	checkNotLegacy(t, conn, c, old.Key, "a")
	got, err := s.FindWebhook(ctx, "a", "old")
	if err != nil {
		t.Fatal(err)
	}
	checkPasswords(t, got, "old")
	if !got.Updated.Equal(updatedBefore) {
		t.Errorf("got updated %v, want %v: re-sealing is no change of the webhook", got.Updated, updatedBefore)
	}
	for i, enc := range storedPasswords(t, conn, current.Key) {
		if string(enc) != string(currentEnc[i]) {
			t.Errorf("password %d of a bound webhook was rewritten", i)
		}
	}
	if stored := storedPasswords(t, conn, poison.Key); string(stored[0]) != string(garbage) {
		t.Error("an undecryptable password was rewritten")
	}
	if _, err := s.FindWebhook(ctx, "a", "poison"); !errors.Is(err, webhooks.ErrUndecryptable) {
		t.Errorf("poison: got %v, want ErrUndecryptable", err)
	}

	if n, err := s.ResealLegacyPasswords(ctx); n != 0 || err != nil {
		t.Errorf("again: got %d, %v; want 0, nil", n, err)
	}
}
