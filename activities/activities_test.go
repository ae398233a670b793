package activities

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/ocelot/webhooks"
)

const (
	testClient = "client-1"
	// Distinctive, so that a leak anywhere is found by a plain search.
	testUser     = "receiver-user"
	testPassword = "pw-Zq8!never-in-history"
)

// testSecrets are what must never appear in a result or an error.
var testSecrets = []string{
	testPassword,
	base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword)),
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// fakeStore is an in-memory WebhookStore.
type fakeStore struct {
	mu       sync.Mutex
	webhooks []webhooks.Webhook
	err      error // returned by every call when set
	finds    int   // calls of FindAttemptWebhook
	// passwordErr and signingErr are what opening every webhook's
	// credentials gives (webhooks.AttemptWebhook's Err and SigningErr).
	passwordErr, signingErr error
}

func (s *fakeStore) read(w webhooks.Webhook) webhooks.AttemptWebhook {
	return webhooks.AttemptWebhook{Webhook: w, Err: s.passwordErr, SigningErr: s.signingErr}
}

func (s *fakeStore) ListWebhooksForEvent(_ context.Context, clientID string, name webhooks.EventName) ([]webhooks.AttemptWebhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	var list []webhooks.AttemptWebhook
	for _, w := range s.webhooks {
		if w.ClientID == clientID && w.Listens(name) {
			list = append(list, s.read(w))
		}
	}
	slices.SortFunc(list, func(a, b webhooks.AttemptWebhook) int { return strings.Compare(a.Webhook.ID, b.Webhook.ID) })
	return list, nil
}

func (s *fakeStore) FindAttemptWebhook(_ context.Context, key int64) (webhooks.AttemptWebhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finds++
	if s.err != nil {
		return webhooks.AttemptWebhook{}, s.err
	}
	for _, w := range s.webhooks {
		if w.Key == key {
			return s.read(w), nil
		}
	}
	return webhooks.AttemptWebhook{}, fmt.Errorf("webhook key %d: %w", key, webhooks.ErrNotFound)
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is an httptest server that records requests and answers with
// handler (200 when nil).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
	conns    atomic.Int64
}

func newReceiver(t testing.TB, handler http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, received{Header: req.Header.Clone(), Body: body, At: time.Now()})
		r.mu.Unlock()
		if handler != nil {
			handler(w, req)
		}
	}))
	r.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			r.conns.Add(1)
		}
	}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) hits() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

func (r *receiver) last(t *testing.T) received {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.requests) == 0 {
		t.Fatal("receiver got no request, want one")
	}
	return r.requests[len(r.requests)-1]
}

func basicAuth() webhooks.Auth {
	return webhooks.Auth{Type: webhooks.AuthBasic, Username: testUser, Password: testPassword}
}

func ptr[T any](v T) *T { return &v }

// testWebhook is an active Basic-auth webhook of testClient listening to
// every event name.
func testWebhook(key int64, id, url string) webhooks.Webhook {
	return webhooks.Webhook{
		Key:            key,
		ClientID:       testClient,
		ID:             id,
		MatchingEvents: slices.Clone(webhooks.EventNames),
		URL:            url,
		Auth:           basicAuth(),
		Active:         true,
	}
}

func testEvent() webhooks.Event {
	return webhooks.Event{
		Name:        webhooks.IncomingSmsReceived,
		EventID:     "evt-1",
		To:          "+15550001",
		From:        "+15550002",
		TriggerType: "Inbound",
		Message:     "hello",
		DateTime:    "2026-11-26T10:00:00Z",
	}
}

func attemptInput(t testing.TB, key int64, e webhooks.Event, officeID string) DeliverAttemptInput {
	t.Helper()
	payload, err := e.Payload()
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	return DeliverAttemptInput{
		ClientID:   testClient,
		WebhookKey: key,
		EventName:  string(e.Name),
		OfficeID:   officeID,
		EventID:    e.EventID,
		Payload:    string(payload),
		Attempt:    1,
	}
}

func newActivities(store WebhookStore, opts HTTPOptions) *Activities {
	return &Activities{Store: store, HTTP: NewHTTPClient(opts)}
}

// deliver runs DeliverAttempt in Temporal's test activity environment, so
// that its input and result go through the data converter as on a worker,
// and checks that no secret leaked into either the result or the error.
func deliver(t *testing.T, a *Activities, in DeliverAttemptInput) (DeliverAttemptResult, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	val, err := env.ExecuteActivity(a.DeliverAttempt, in)
	var res DeliverAttemptResult
	if err == nil {
		if err := val.Get(&res); err != nil {
			t.Fatalf("decode result: %v", err)
		}
	}
	assertNoSecret(t, res, err)
	return res, err
}

func assertNoSecret(t *testing.T, res any, err error) {
	t.Helper()
	encoded, jerr := json.Marshal(res)
	if jerr != nil {
		t.Fatalf("encode result: %v", jerr)
	}
	text := string(encoded)
	if err != nil {
		text += "\n" + err.Error() + "\n" + fmt.Sprintf("%+v", err)
	}
	for _, s := range testSecrets {
		if strings.Contains(text, s) {
			t.Fatalf("result or error carries the credential %q:\n%s", s, text)
		}
	}
}

func TestResolveWebhooks(t *testing.T) {
	other := testWebhook(9, "other-client", "https://example.com/9")
	other.ClientID = "client-2"
	notListening := testWebhook(7, "sms-only", "https://example.com/7")
	notListening.MatchingEvents = []webhooks.EventName{webhooks.OutboundSmsDelivered}
	inactive := testWebhook(2, "inactive", "https://example.com/2")
	inactive.Active = false
	reactivated := testWebhook(3, "reactivated", "https://example.com/3")
	reactivated.Active = false
	reactivated.PerOfficeOverrides = []webhooks.OfficeOverride{{OfficeID: "north", Active: ptr(true)}}
	officeOff := testWebhook(4, "office-off", "https://example.com/4")
	officeOff.PerOfficeOverrides = []webhooks.OfficeOverride{{OfficeID: "north", Active: ptr(false)}}
	store := &fakeStore{webhooks: []webhooks.Webhook{
		testWebhook(5, "b-active", "https://example.com/5"),
		testWebhook(1, "a-active", "https://example.com/1"),
		inactive, reactivated, officeOff, other, notListening,
	}}
	a := &Activities{Store: store}

	tests := []struct {
		name     string
		officeID string
		want     []ResolvedWebhook
	}{
		{"no office", "", []ResolvedWebhook{{1, "a-active"}, {5, "b-active"}, {4, "office-off"}}},
		{"office without override", "south", []ResolvedWebhook{{1, "a-active"}, {5, "b-active"}, {4, "office-off"}}},
		{"office north", "north", []ResolvedWebhook{{1, "a-active"}, {5, "b-active"}, {3, "reactivated"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(a)
			val, err := env.ExecuteActivity(a.ResolveWebhooks, ResolveWebhooksInput{
				ClientID: testClient, EventName: string(webhooks.IncomingSmsReceived), OfficeID: tt.officeID,
			})
			if err != nil {
				t.Fatalf("ResolveWebhooks: %v", err)
			}
			var got ResolveWebhooksResult
			if err := val.Get(&got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !slices.Equal(got.Webhooks, tt.want) {
				t.Errorf("got %v, want %v", got.Webhooks, tt.want)
			}
			// Keys and ids only: no URL, no credential in history.
			encoded, _ := json.Marshal(got)
			for _, s := range append([]string{"example.com", testUser}, testSecrets...) {
				if strings.Contains(string(encoded), s) {
					t.Errorf("result %s carries %q, want keys and ids only", encoded, s)
				}
			}
		})
	}
}

func TestResolveWebhooksErrors(t *testing.T) {
	t.Run("store unavailable", func(t *testing.T) {
		a := &Activities{Store: &fakeStore{err: fmt.Errorf("list webhooks: %w", webhooks.ErrUnavailable)}}
		_, err := a.ResolveWebhooks(context.Background(), ResolveWebhooksInput{ClientID: testClient, EventName: string(webhooks.PhoneNumberOptedIn)})
		if err == nil {
			t.Fatal("got nil error, want the store's error so Temporal retries")
		}
	})
	t.Run("unknown event name", func(t *testing.T) {
		a := &Activities{Store: &fakeStore{}}
		_, err := a.ResolveWebhooks(context.Background(), ResolveWebhooksInput{ClientID: testClient, EventName: "Nope"})
		assertNonRetryable(t, err)
	})
	t.Run("no webhook", func(t *testing.T) {
		a := &Activities{Store: &fakeStore{}}
		got, err := a.ResolveWebhooks(context.Background(), ResolveWebhooksInput{ClientID: testClient, EventName: string(webhooks.PhoneNumberOptedIn)})
		if err != nil || len(got.Webhooks) != 0 {
			t.Errorf("got %v, %v, want no webhook and no error", got.Webhooks, err)
		}
	})
}
