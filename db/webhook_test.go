package db_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
)

func ptr[T any](v T) *T { return &v }

// addClients creates one client per id.
func addClients(t testing.TB, s *db.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.CreateClient(t.Context(), webhooks.Client{ID: id, Name: id, KeyHash: webhooks.HashAPIKey(id)}); err != nil {
			t.Fatalf("CreateClient(%s): %v", id, err)
		}
	}
}

// hook returns an active webhook without auth or overrides.
func hook(clientID, id string, events ...webhooks.EventName) *webhooks.Webhook {
	return &webhooks.Webhook{
		ClientID:       clientID,
		ID:             id,
		MatchingEvents: events,
		URL:            "https://example.com/" + id,
		Auth:           webhooks.Auth{Type: webhooks.AuthNone},
		Active:         true,
	}
}

func create(t testing.TB, s *db.Store, w *webhooks.Webhook) *webhooks.Webhook {
	t.Helper()
	if err := s.CreateWebhook(t.Context(), w); err != nil {
		t.Fatalf("CreateWebhook(%s/%s): %v", w.ClientID, w.ID, err)
	}
	return w
}

// checkSame fails unless got equals want, times compared as instants and
// no overrides equal to an empty list.
func checkSame(t *testing.T, got, want webhooks.Webhook) {
	t.Helper()
	if !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) {
		t.Errorf("got created/updated %v/%v, want %v/%v", got.Created, got.Updated, want.Created, want.Updated)
	}
	if got.Created.Location() != time.UTC || got.Updated.Location() != time.UTC {
		t.Errorf("got locations %v/%v, want UTC", got.Created.Location(), got.Updated.Location())
	}
	got.Created, got.Updated, want.Created, want.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if want.PerOfficeOverrides == nil {
		want.PerOfficeOverrides = []webhooks.OfficeOverride{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %s\nwant %s", show(got), show(want))
	}
}

// show prints a webhook with its override pointers followed.
func show(w webhooks.Webhook) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Key:%d ClientID:%s ID:%s Events:%v URL:%s Auth:%+v Active:%v Overrides:[", w.Key, w.ClientID, w.ID, w.MatchingEvents, w.URL, w.Auth, w.Active)
	for _, o := range w.PerOfficeOverrides {
		fmt.Fprintf(&b, " {%s", o.OfficeID)
		if o.URL != nil {
			fmt.Fprintf(&b, " url=%s", *o.URL)
		}
		if o.Auth != nil {
			fmt.Fprintf(&b, " auth=%+v", *o.Auth)
		}
		if o.Active != nil {
			fmt.Fprintf(&b, " active=%v", *o.Active)
		}
		b.WriteString("}")
	}
	b.WriteString(" ]}")
	return b.String()
}

func ids(list []webhooks.Webhook) []string {
	out := make([]string, len(list))
	for i, w := range list {
		out[i] = w.ClientID + "/" + w.ID
	}
	return out
}

func TestWebhookCRUD(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := t.Context()
	addClients(t, s, "a", "b", "empty")

	// "Hook-C" sorts first in byte order, last in most locales.
	hookB := create(t, s, hook("a", "hook-b", webhooks.IncomingSmsReceived))
	hookA := create(t, s, hook("a", "hook-a", webhooks.OutboundSmsDelivered, webhooks.IncomingSmsReceived))
	create(t, s, hook("a", "Hook-C", webhooks.PhoneNumberOptedIn))
	create(t, s, hook("b", "hook-a", webhooks.IncomingSmsReceived))

	t.Run("create sets key and times", func(t *testing.T) {
		if hookA.Key == 0 || hookA.Key == hookB.Key {
			t.Errorf("got keys %d and %d, want distinct non-zero", hookA.Key, hookB.Key)
		}
		if !hookA.Created.Equal(hookA.Updated) || hookA.Created.Location() != time.UTC {
			t.Errorf("got created %v updated %v, want equal, in UTC", hookA.Created, hookA.Updated)
		}
		if since := time.Since(hookA.Created); since < 0 || since > time.Minute {
			t.Errorf("got created %v, want about now", hookA.Created)
		}
	})

	t.Run("find", func(t *testing.T) {
		got, err := s.FindWebhook(ctx, "a", "hook-a")
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, got, *hookA)
	})

	t.Run("duplicate", func(t *testing.T) {
		err := s.CreateWebhook(ctx, hook("a", "hook-a", webhooks.IncomingSmsReceived))
		if !errors.Is(err, webhooks.ErrConflict) {
			t.Errorf("got %v, want ErrConflict", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		tests := []struct {
			client string
			want   []string
		}{
			{"a", []string{"a/Hook-C", "a/hook-a", "a/hook-b"}},
			{"b", []string{"b/hook-a"}},
			{"empty", []string{}},
			{"nobody", []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.client, func(t *testing.T) {
				got, err := s.ListWebhooks(ctx, tt.client)
				if err != nil {
					t.Fatal(err)
				}
				if got == nil {
					t.Errorf("got nil, want a non-nil slice")
				}
				if !reflect.DeepEqual(ids(got), tt.want) {
					t.Errorf("got %v, want %v", ids(got), tt.want)
				}
			})
		}
	})

	t.Run("update", func(t *testing.T) {
		w := &webhooks.Webhook{
			ID:             "hook-b",
			MatchingEvents: []webhooks.EventName{webhooks.PhoneNumberOptedOut},
			URL:            "https://other.example.com/in",
			Auth:           webhooks.Auth{Type: webhooks.AuthBasic, Username: "u", Password: "p"},
			Active:         false,
			PerOfficeOverrides: []webhooks.OfficeOverride{
				{OfficeID: "o1", Active: ptr(true)},
			},
		}
		if err := s.UpdateWebhook(ctx, "a", "hook-b", w); err != nil {
			t.Fatal(err)
		}
		if w.Key != hookB.Key || !w.Created.Equal(hookB.Created) || w.ClientID != "a" {
			t.Errorf("got key %d created %v client %q, want %d %v a", w.Key, w.Created, w.ClientID, hookB.Key, hookB.Created)
		}
		if !w.Updated.After(hookB.Updated) {
			t.Errorf("got updated %v, want after %v", w.Updated, hookB.Updated)
		}
		got, err := s.FindWebhook(ctx, "a", "hook-b")
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, got, *w)
	})

	t.Run("rename", func(t *testing.T) {
		w := hook("", "hook-z", webhooks.IncomingSmsReceived)
		if err := s.UpdateWebhook(ctx, "a", "hook-a", w); err != nil {
			t.Fatal(err)
		}
		if w.Key != hookA.Key || !w.Created.Equal(hookA.Created) {
			t.Errorf("got key %d created %v, want %d %v", w.Key, w.Created, hookA.Key, hookA.Created)
		}
		if _, err := s.FindWebhook(ctx, "a", "hook-a"); !errors.Is(err, webhooks.ErrNotFound) {
			t.Errorf("find old id: got %v, want ErrNotFound", err)
		}
		got, err := s.FindWebhook(ctx, "a", "hook-z")
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, got, *w)
		// The other client's hook-a is not touched by a's rename.
		if _, err := s.FindWebhook(ctx, "b", "hook-a"); err != nil {
			t.Errorf("find b/hook-a: got %v, want nil", err)
		}
	})

	t.Run("rename onto a taken id", func(t *testing.T) {
		before, err := s.FindWebhook(ctx, "a", "hook-z")
		if err != nil {
			t.Fatal(err)
		}
		w := hook("", "hook-b", webhooks.OutboundSmsDeliveryFailed)
		w.PerOfficeOverrides = []webhooks.OfficeOverride{{OfficeID: "x", URL: ptr("https://x.example.com")}}
		if err := s.UpdateWebhook(ctx, "a", "hook-z", w); !errors.Is(err, webhooks.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
		after, err := s.FindWebhook(ctx, "a", "hook-z")
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, after, before)
	})

	t.Run("update missing", func(t *testing.T) {
		err := s.UpdateWebhook(ctx, "a", "no-such-hook", hook("", "no-such-hook", webhooks.IncomingSmsReceived))
		if !errors.Is(err, webhooks.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})

	t.Run("another client's webhook", func(t *testing.T) {
		tests := []struct {
			name string
			call func() error
		}{
			{"find", func() error { _, err := s.FindWebhook(ctx, "b", "hook-b"); return err }},
			{"update", func() error {
				return s.UpdateWebhook(ctx, "b", "hook-b", hook("", "hook-b", webhooks.IncomingSmsReceived))
			}},
			{"delete", func() error { return s.DeleteWebhook(ctx, "b", "hook-b") }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(); !errors.Is(err, webhooks.ErrNotFound) {
					t.Errorf("got %v, want ErrNotFound", err)
				}
			})
		}
		got, err := s.FindWebhook(ctx, "a", "hook-b")
		if err != nil || got.URL != "https://other.example.com/in" {
			t.Errorf("a/hook-b after b's attempts: got %s, %v; want it unchanged", show(got), err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := s.DeleteWebhook(ctx, "a", "hook-b"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindWebhook(ctx, "a", "hook-b"); !errors.Is(err, webhooks.ErrNotFound) {
			t.Errorf("find: got %v, want ErrNotFound", err)
		}
		if _, err := findByKey(ctx, s, hookB.Key); !errors.Is(err, webhooks.ErrNotFound) {
			t.Errorf("find by key: got %v, want ErrNotFound", err)
		}
		if err := s.DeleteWebhook(ctx, "a", "hook-b"); !errors.Is(err, webhooks.ErrNotFound) {
			t.Errorf("delete again: got %v, want ErrNotFound", err)
		}
	})
}

func TestFindAttemptWebhookAfterRename(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := t.Context()
	addClients(t, s, "a")
	w := create(t, s, hook("a", "before", webhooks.IncomingSmsReceived))
	key := w.Key
	renamed := hook("", "after", webhooks.IncomingSmsReceived)
	if err := s.UpdateWebhook(ctx, "a", "before", renamed); err != nil {
		t.Fatal(err)
	}
	got, err := findByKey(ctx, s, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "after" || got.Key != key || got.ClientID != "a" {
		t.Errorf("got %s/%s key %d, want a/after key %d", got.ClientID, got.ID, got.Key, key)
	}
	if _, err := findByKey(ctx, s, key+1000); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("unknown key: got %v, want ErrNotFound", err)
	}
}

func TestOfficeOverridesRoundTrip(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := t.Context()
	addClients(t, s, "a")
	overrides := []webhooks.OfficeOverride{
		{OfficeID: "z-first", Active: ptr(false)},
		{OfficeID: "a-second", URL: ptr("https://a.example.com/x")},
		{OfficeID: "basic", Auth: &webhooks.Auth{Type: webhooks.AuthBasic, Username: "ou", Password: "op"}},
		{OfficeID: "none", Auth: &webhooks.Auth{Type: webhooks.AuthNone}},
		{OfficeID: "everything", URL: ptr("https://e.example.com"), Auth: &webhooks.Auth{Type: webhooks.AuthBasic, Username: "eu", Password: "ep"}, Active: ptr(true)},
		{OfficeID: "bare"},
	}
	w := hook("a", "w", webhooks.IncomingSmsReceived)
	w.Auth = webhooks.Auth{Type: webhooks.AuthBasic, Username: "wu", Password: "wp"}
	w.PerOfficeOverrides = overrides
	create(t, s, w)

	tests := []struct {
		name      string
		overrides []webhooks.OfficeOverride
	}{
		{"as created", overrides},
		{"reversed and fewer", []webhooks.OfficeOverride{overrides[4], overrides[2], overrides[0]}},
		{"none", nil},
		{"again", overrides},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "as created" {
				w.PerOfficeOverrides = tt.overrides
				if err := s.UpdateWebhook(ctx, "a", "w", w); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.FindWebhook(ctx, "a", "w")
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, got, *w)
			list, err := s.ListWebhooks(ctx, "a")
			if err != nil || len(list) != 1 {
				t.Fatalf("list: got %d webhooks, %v; want 1", len(list), err)
			}
			checkSame(t, list[0], *w)
		})
	}
}

func TestListWebhooksForEvent(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := t.Context()
	addClients(t, s, "a", "b")
	create(t, s, hook("a", "w3", webhooks.OutboundSmsDelivered))
	inactive := hook("a", "w2", webhooks.PhoneNumberOptedOut, webhooks.IncomingSmsReceived)
	inactive.Active = false
	inactive.PerOfficeOverrides = []webhooks.OfficeOverride{{OfficeID: "o1", Active: ptr(true)}, {OfficeID: "o2", URL: ptr("https://o2.example.com")}}
	create(t, s, inactive)
	w1 := create(t, s, hook("a", "w1", webhooks.IncomingSmsReceived))
	create(t, s, hook("b", "w1", webhooks.IncomingSmsReceived))

	tests := []struct {
		client string
		name   webhooks.EventName
		want   []string
	}{
		{"a", webhooks.IncomingSmsReceived, []string{"a/w1", "a/w2"}},
		{"a", webhooks.OutboundSmsDelivered, []string{"a/w3"}},
		{"a", webhooks.PhoneNumberOptedOut, []string{"a/w2"}},
		{"a", webhooks.PhoneNumberOptedIn, []string{}},
		{"b", webhooks.IncomingSmsReceived, []string{"b/w1"}},
		{"nobody", webhooks.IncomingSmsReceived, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.client+" "+string(tt.name), func(t *testing.T) {
			got, err := s.ListWebhooksForEvent(ctx, tt.client, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(hooksOf(got)), tt.want) {
				t.Errorf("got %v, want %v", ids(hooksOf(got)), tt.want)
			}
		})
	}

	t.Run("overrides included", func(t *testing.T) {
		got, err := s.ListWebhooksForEvent(ctx, "a", webhooks.IncomingSmsReceived)
		if err != nil || len(got) != 2 {
			t.Fatalf("got %d webhooks, %v; want 2", len(got), err)
		}
		checkSame(t, got[0].Webhook, *w1)
		checkSame(t, got[1].Webhook, *inactive)
		// As an attempt reads them (FindAttemptWebhook): the event's first
		// attempts use this read.
		for i, w := range got {
			if w.Err != nil || w.SigningErr != nil || w.Signing.Current == "" {
				t.Errorf("webhook %d: err %v, signing err %v, signing secret set %v; want no errors and a secret", i, w.Err, w.SigningErr, w.Signing.Current != "")
			}
			byKey, err := s.FindAttemptWebhook(ctx, w.Webhook.Key)
			if err != nil || !reflect.DeepEqual(byKey, w) {
				t.Errorf("webhook %d: listed %+v, found by key %+v, %v", i, w, byKey, err)
			}
		}
	})
}

// findByKey reads webhook key as an attempt does, with an error opening its
// passwords as the error.
func findByKey(ctx context.Context, s *db.Store, key int64) (webhooks.Webhook, error) {
	w, err := s.FindAttemptWebhook(ctx, key)
	if err == nil {
		err = w.Err
	}
	return w.Webhook, err
}

// hooksOf returns the webhooks of an attempt read.
func hooksOf(list []webhooks.AttemptWebhook) []webhooks.Webhook {
	out := make([]webhooks.Webhook, len(list))
	for i := range list {
		out[i] = list[i].Webhook
	}
	return out
}

func TestPasswordsEncryptedAtRest(t *testing.T) {
	conn := dbtest.New(t)
	c, err := db.NewCipher(dbtest.TestKey())
	if err != nil {
		t.Fatal(err)
	}
	s := db.NewStore(conn, c)
	ctx := t.Context()
	addClients(t, s, "a", "b")
	const webhookPassword, overridePassword = "webhook-secret-pw-1", "override-secret-pw-2"
	w := hook("a", "w", webhooks.IncomingSmsReceived)
	w.Auth = webhooks.Auth{Type: webhooks.AuthBasic, Username: "user", Password: webhookPassword}
	w.PerOfficeOverrides = []webhooks.OfficeOverride{{OfficeID: "o", Auth: &webhooks.Auth{Type: webhooks.AuthBasic, Username: "ou", Password: overridePassword}}}
	create(t, s, w)

	tests := []struct {
		name     string
		query    string
		password string
	}{
		{"webhook", `SELECT t::text FROM webhooks t`, webhookPassword},
		{"override", `SELECT t::text FROM webhook_office_overrides t`, overridePassword},
		{"webhook bytes", `SELECT auth_password_enc FROM webhooks`, webhookPassword},
		{"override bytes", `SELECT auth_password_enc FROM webhook_office_overrides`, overridePassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rows [][]byte
			if err := conn.SelectContext(ctx, &rows, tt.query); err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 {
				t.Fatalf("got %d rows, want 1", len(rows))
			}
			for _, needle := range []string{tt.password, hex.EncodeToString([]byte(tt.password))} {
				if bytes.Contains(rows[0], []byte(needle)) {
					t.Errorf("got row %q, want it without %q", rows[0], needle)
				}
			}
		})
	}

	t.Run("read back", func(t *testing.T) {
		got, err := s.FindWebhook(ctx, "a", "w")
		if err != nil {
			t.Fatal(err)
		}
		if got.Auth.Password != webhookPassword || got.PerOfficeOverrides[0].Auth.Password != overridePassword {
			t.Errorf("got passwords %q and %q, want %q and %q", got.Auth.Password, got.PerOfficeOverrides[0].Auth.Password, webhookPassword, overridePassword)
		}
	})

	t.Run("other key", func(t *testing.T) {
		other, _ := db.NewCipher(dbtest.TestKey())
		_, err := db.NewStore(conn, other).FindWebhook(ctx, "a", "w")
		if err == nil || strings.Contains(err.Error(), webhookPassword) {
			t.Errorf("got %v, want an error without the password", err)
		}
	})

	t.Run("ciphertext moved to another client", func(t *testing.T) {
		create(t, s, hook("b", "w", webhooks.IncomingSmsReceived))
		const steal = `UPDATE webhooks SET auth_type = 'Basic', auth_username = 'user',
			auth_password_enc = (SELECT auth_password_enc FROM webhooks WHERE client_id = 'a' AND id = 'w')
			WHERE client_id = 'b' AND id = 'w'`
		if _, err := conn.ExecContext(ctx, steal); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindWebhook(ctx, "b", "w")
		if err == nil {
			t.Errorf("got password %q, want an error", got.Auth.Password)
		}
	})
}

func TestConcurrentCreateWebhook(t *testing.T) {
	s := dbtest.NewStore(t)
	addClients(t, s, "a")
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w := hook("a", "same", webhooks.IncomingSmsReceived)
			w.PerOfficeOverrides = []webhooks.OfficeOverride{{OfficeID: fmt.Sprint(i)}}
			errs[i] = s.CreateWebhook(t.Context(), w)
		})
	}
	wg.Wait()
	created, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, webhooks.ErrConflict):
			conflicts++
		default:
			t.Errorf("got %v, want nil or ErrConflict", err)
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Errorf("got %d created and %d conflicts, want 1 and %d", created, conflicts, n-1)
	}
	got, err := s.FindWebhook(t.Context(), "a", "same")
	if err != nil || len(got.PerOfficeOverrides) != 1 {
		t.Errorf("got %s, %v; want the one webhook with its one override", show(got), err)
	}
}

func BenchmarkListWebhooksForEvent(b *testing.B) {
	s := dbtest.NewStore(b)
	addClients(b, s, "a")
	for i := range 10 {
		w := hook("a", fmt.Sprintf("w%02d", i), webhooks.IncomingSmsReceived)
		w.Auth = webhooks.Auth{Type: webhooks.AuthBasic, Username: "u", Password: "p"}
		w.PerOfficeOverrides = []webhooks.OfficeOverride{
			{OfficeID: "o1", URL: ptr("https://o1.example.com")},
			{OfficeID: "o2", Auth: &webhooks.Auth{Type: webhooks.AuthBasic, Username: "ou", Password: "op"}, Active: ptr(false)},
		}
		create(b, s, w)
	}
	ctx := b.Context()
	for b.Loop() {
		got, err := s.ListWebhooksForEvent(ctx, "a", webhooks.IncomingSmsReceived)
		if err != nil || len(got) != 10 {
			b.Fatalf("got %d webhooks, %v; want 10", len(got), err)
		}
	}
}

// An attempt's read opens every credential, but a webhook whose password or
// signing secret does not open keeps that error to itself: resolution still
// lists it (and the client's other webhooks) with its configuration, and a
// webhook made before signatures gets its secret on the read.
func TestAttemptWebhookKeepsOpenErrors(t *testing.T) {
	s, conn := newAcmeStore(t)
	ctx := t.Context()
	acmeHook := func(id, prefix string) *webhooks.Webhook {
		w := basicHook(id, prefix)
		w.ClientID = "acme"
		return create(t, s, w)
	}
	healthy := acmeHook("healthy", "h")
	badPassword := acmeHook("bad-password", "p")
	badSigning := acmeHook("bad-signing", "s")
	unsigned := acmeHook("unsigned", "u")
	for _, q := range []struct {
		sql  string
		args []any
	}{
		// Each ciphertext is bound to its own row: copied, it does not open.
		{`UPDATE webhooks SET auth_password_enc = (SELECT auth_password_enc FROM webhooks WHERE key = $1) WHERE key = $2`, []any{healthy.Key, badPassword.Key}},
		{`UPDATE webhooks SET signing_secret_enc = (SELECT signing_secret_enc FROM webhooks WHERE key = $1) WHERE key = $2`, []any{healthy.Key, badSigning.Key}},
		{`UPDATE webhooks SET signing_secret_enc = NULL WHERE key = $1`, []any{unsigned.Key}},
	} {
		if _, err := conn.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}

	list, err := s.ListWebhooksForEvent(ctx, "acme", webhooks.IncomingSmsReceived)
	if err != nil {
		t.Fatalf("one bad row failed the whole resolution: %v", err)
	}
	byID := map[string]webhooks.AttemptWebhook{}
	for _, w := range list {
		byID[w.Webhook.ID] = w
	}
	for _, tt := range []struct {
		hook                    *webhooks.Webhook
		passwordErr, signingErr bool
	}{
		{healthy, false, false},
		{badPassword, true, false},
		{badSigning, false, true},
		{unsigned, false, false},
	} {
		found, err := s.FindAttemptWebhook(ctx, tt.hook.Key)
		if err != nil {
			t.Fatalf("%s: %v", tt.hook.ID, err)
		}
		for how, w := range map[string]webhooks.AttemptWebhook{"listed": byID[tt.hook.ID], "found by key": found} {
			if w.Webhook.Key != tt.hook.Key || w.Webhook.URL != tt.hook.URL || len(w.Webhook.PerOfficeOverrides) != 3 {
				t.Errorf("%s %s: got %s, want its configuration", how, tt.hook.ID, show(w.Webhook))
			}
			if got := errors.Is(w.Err, webhooks.ErrUndecryptable); got != tt.passwordErr {
				t.Errorf("%s %s: password error %v, want one: %v", how, tt.hook.ID, w.Err, tt.passwordErr)
			}
			if !tt.passwordErr && w.Webhook.Auth.Password != tt.hook.Auth.Password {
				t.Errorf("%s %s: password not opened", how, tt.hook.ID)
			}
			if tt.passwordErr && w.Webhook.Auth.Password != "" {
				t.Errorf("%s %s: a password came with the error", how, tt.hook.ID)
			}
			if got := errors.Is(w.SigningErr, webhooks.ErrUndecryptable); got != tt.signingErr {
				t.Errorf("%s %s: signing error %v, want one: %v", how, tt.hook.ID, w.SigningErr, tt.signingErr)
			}
			if !tt.signingErr && w.Signing.Current == "" {
				t.Errorf("%s %s: no signing secret", how, tt.hook.ID)
			}
		}
	}
	// The secret made for the unsigned webhook is the one it keeps.
	again, err := s.FindAttemptWebhook(ctx, unsigned.Key)
	if err != nil || again.Signing != byID["unsigned"].Signing {
		t.Errorf("unsigned webhook's secret changed between reads: %v", err)
	}
	if _, err := s.FindAttemptWebhook(ctx, unsigned.Key+1000); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("unknown key: got %v, want ErrNotFound", err)
	}
}
