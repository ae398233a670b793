package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/workflows"
)

// The clients every DB-backed test starts with.
const (
	aliceID  = "alice"
	aliceKey = "whk_alice-secret-key-0123456789"
	bobID    = "bob"
	bobKey   = "whk_bob-secret-key-9876543210"

	ingestUser     = "ingest"
	ingestPassword = "ingest-secret-password"
)

var testSchedule = []time.Duration{0, time.Second, 2 * time.Second}

// testAPI is the real router on a fresh PostgreSQL database.
type testAPI struct {
	store   *db.Store
	events  *fakeStarter
	handler http.Handler
}

func newTestAPI(t testing.TB, logger *slog.Logger) *testAPI {
	t.Helper()
	store := dbtest.NewStore(t)
	ctx := context.Background()
	for id, key := range map[string]string{aliceID: aliceKey, bobID: bobKey} {
		if err := store.CreateClient(ctx, webhooks.Client{ID: id, Name: id, KeyHash: webhooks.HashAPIKey(key)}); err != nil {
			t.Fatalf("create client %s: %v", id, err)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	events := &fakeStarter{}
	return &testAPI{
		store:  store,
		events: events,
		handler: NewServer(Config{
			Store: store, Events: events,
			IngestUsername: ingestUser, IngestPassword: ingestPassword,
			RetrySchedule: testSchedule, Logger: logger,
		}),
	}
}

// newRequest returns a request with a JSON body (when body is not empty)
// and the Basic credential user:key (when user is not empty).
func newRequest(method, path, user, key, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, key)
	}
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// as sends a request as alice.
func (a *testAPI) as(method, path, body string) *httptest.ResponseRecorder {
	return serve(a.handler, newRequest(method, path, aliceID, aliceKey, body))
}

// mustCreate creates a webhook of alice from body.
func (a *testAPI) mustCreate(t testing.TB, body string) webhookJSON {
	t.Helper()
	rec := a.as(http.MethodPost, "/api/v1/webhooks", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create webhook: got status %d, want 201; body %s", rec.Code, rec.Body)
	}
	return decodeJSON[webhookJSON](t, rec)
}

func decodeJSON[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", got)
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, rec.Body, err)
	}
	return v
}

// checkError checks that rec is the JSON error body of status.
func checkError(t testing.TB, rec *httptest.ResponseRecorder, status int) errorBody {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("got status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	body := decodeJSON[errorBody](t, rec)
	if body.StatusCode != status || body.Error != http.StatusText(status) || body.Message == "" {
		t.Errorf("got error body %+v, want statusCode %d, error %q and a message", body, status, http.StatusText(status))
	}
	if status == http.StatusUnauthorized {
		if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="webhooks"` {
			t.Errorf("WWW-Authenticate: got %q, want %q", got, `Basic realm="webhooks"`)
		}
	}
	return body
}

// hasDetail reports whether body lists field as invalid.
func hasDetail(body errorBody, field string) bool {
	for _, d := range body.Details {
		if d.Field == field {
			return true
		}
	}
	return false
}

// fakeStarter records the workflows it is asked to start.
type fakeStarter struct {
	mu     sync.Mutex
	inputs []workflows.DeliverEventInput
	err    error
}

func (f *fakeStarter) StartDeliverEvent(ctx context.Context, in workflows.DeliverEventInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	f.inputs = append(f.inputs, in)
	return workflows.WorkflowID(in.ClientID, in.EventID), nil
}

func (f *fakeStarter) last(t testing.TB) workflows.DeliverEventInput {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.inputs) == 0 {
		t.Fatalf("got no started workflow, want one")
	}
	return f.inputs[len(f.inputs)-1]
}

// fakeStore knows clients only. Its other methods are the nil embedded
// interface's: calling one panics, which the panic test relies on.
type fakeStore struct {
	Store
	clients  map[string]webhooks.Client
	findErr  error
	pingErr  error
	panicMsg string
}

func (s *fakeStore) Ping(ctx context.Context) error { return s.pingErr }

func (s *fakeStore) FindClient(ctx context.Context, id string) (webhooks.Client, error) {
	if s.panicMsg != "" {
		panic(s.panicMsg)
	}
	if s.findErr != nil {
		return webhooks.Client{}, s.findErr
	}
	c, ok := s.clients[id]
	if !ok {
		return webhooks.Client{}, fmt.Errorf("find client %s: %w", id, webhooks.ErrNotFound)
	}
	return c, nil
}

func newFakeStore() *fakeStore {
	return &fakeStore{clients: map[string]webhooks.Client{
		aliceID: {ID: aliceID, KeyHash: webhooks.HashAPIKey(aliceKey)},
	}}
}

func newFakeServer(store Store, events EventStarter, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return NewServer(Config{
		Store: store, Events: events,
		IngestUsername: ingestUser, IngestPassword: ingestPassword,
		RetrySchedule: testSchedule, Logger: logger,
	})
}

func TestHealth(t *testing.T) {
	down := newFakeStore()
	down.pingErr = errors.New("dial tcp 127.0.0.1:5432: connection refused")
	tests := []struct {
		name       string
		store      Store
		path       string
		wantStatus int
	}{
		{"healthz", newFakeStore(), "/healthz", http.StatusOK},
		{"healthz with the store down", down, "/healthz", http.StatusOK},
		{"readyz", newFakeStore(), "/readyz", http.StatusOK},
		{"readyz with the store down", down, "/readyz", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(newFakeServer(tt.store, &fakeStarter{}, nil), newRequest(http.MethodGet, tt.path, "", "", ""))
			if tt.wantStatus != http.StatusOK {
				body := checkError(t, rec, tt.wantStatus)
				if strings.Contains(body.Message, "refused") {
					t.Errorf("got message %q, want no internal detail", body.Message)
				}
				return
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("got status %d, want 200", rec.Code)
			}
			if got := decodeJSON[map[string]string](t, rec)["status"]; got != "ok" {
				t.Errorf("got status %q, want ok", got)
			}
		})
	}
}

func TestReadyzRealStore(t *testing.T) {
	a := newTestAPI(t, nil)
	if rec := serve(a.handler, newRequest(http.MethodGet, "/readyz", "", "", "")); rec.Code != http.StatusOK {
		t.Errorf("got status %d, want 200", rec.Code)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	h := newFakeServer(newFakeStore(), &fakeStarter{}, nil)
	tests := []struct {
		method, path string
		wantStatus   int
		wantAllow    string
	}{
		{http.MethodGet, "/nope", http.StatusNotFound, ""},
		{http.MethodGet, "/api/v1/webhooks/a/b", http.StatusNotFound, ""},
		{http.MethodGet, "/api/v1//webhooks", http.StatusNotFound, ""},
		{http.MethodGet, "/api/v1/webhooks/", http.StatusNotFound, ""},
		{http.MethodPatch, "/api/v1/webhooks/x", http.StatusMethodNotAllowed, "GET, PUT, DELETE"},
		{http.MethodDelete, "/api/v1/webhooks", http.StatusMethodNotAllowed, "GET, POST"},
		{http.MethodGet, "/api/v1/events", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := serve(h, newRequest(tt.method, tt.path, aliceID, aliceKey, ""))
			checkError(t, rec, tt.wantStatus)
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow: got %q, want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestPanicBecomes500(t *testing.T) {
	var logs bytes.Buffer
	store := newFakeStore()
	store.panicMsg = "boom: internal detail"
	h := newFakeServer(store, &fakeStarter{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	rec := serve(h, newRequest(http.MethodGet, "/api/v1/webhooks", aliceID, aliceKey, ""))
	body := checkError(t, rec, http.StatusInternalServerError)
	if strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("got body %s, want no panic text", rec.Body)
	}
	if body.Message != "internal server error" {
		t.Errorf("got message %q, want %q", body.Message, "internal server error")
	}
	if !strings.Contains(logs.String(), "boom: internal detail") {
		t.Errorf("got log %s, want the panic logged", logs.String())
	}
}

func TestInternalErrorHidden(t *testing.T) {
	store := newFakeStore()
	store.findErr = errors.New("pq: password authentication failed for user secretuser")
	rec := serve(newFakeServer(store, &fakeStarter{}, nil), newRequest(http.MethodGet, "/api/v1/webhooks", aliceID, aliceKey, ""))
	checkError(t, rec, http.StatusInternalServerError)
	if strings.Contains(rec.Body.String(), "secretuser") {
		t.Errorf("got body %s, want no internal error text", rec.Body)
	}
}

// TestLogs checks the request log line's attributes, and that no credential
// (API key, receiver password, ingest password) reaches the log.
func TestLogs(t *testing.T) {
	var logs syncBuffer
	a := newTestAPI(t, slog.New(slog.NewJSONHandler(&logs, nil)))
	const receiverPassword = "receiver-secret-pw"
	a.mustCreate(t, `{"id":"logged","matchingEvents":["IncomingSms.received"],"url":"https://example.com/h",
		"auth":{"type":"Basic","username":"u","password":"`+receiverPassword+`"}}`)
	a.as(http.MethodGet, "/api/v1/webhooks/logged", "")
	serve(a.handler, newRequest(http.MethodGet, "/api/v1/webhooks", aliceID, "wrong-"+aliceKey, ""))
	ingest := newRequest(http.MethodPost, "/api/v1/events", ingestUser, ingestPassword,
		`{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Manual"}}`)
	serve(a.handler, ingest)

	out := logs.String()
	for _, secret := range []string{aliceKey, receiverPassword, ingestPassword, "Authorization", "Basic "} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 4 {
		t.Fatalf("got %d log lines, want 4:\n%s", len(lines), out)
	}
	want := []struct {
		route, client string
		status        float64
	}{
		{"/api/v1/webhooks", aliceID, 201},
		{"/api/v1/webhooks/{webhookId}", aliceID, 200},
		{"/api/v1/webhooks", "", 401},
		{"/api/v1/events", aliceID, 202},
	}
	for i, w := range want {
		l := lines[i]
		if l["level"] != "INFO" || l["route"] != w.route || l["status"] != w.status || l["duration_ms"] == nil {
			t.Errorf("line %d: got %v, want level INFO, route %s, status %v and duration_ms", i, l, w.route, w.status)
		}
		if got, _ := l["client_id"].(string); got != w.client {
			t.Errorf("line %d: got client_id %q, want %q", i, got, w.client)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
