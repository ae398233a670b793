package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/workflows"
)

// Store is what the API needs of the webhook store. Errors carry the
// domain's kinds: webhooks.ErrNotFound, ErrConflict, ErrUnavailable.
type Store interface {
	Ping(ctx context.Context) error
	FindClient(ctx context.Context, id string) (webhooks.Client, error)
	// CreateWebhook sets w's Key, Created and Updated.
	CreateWebhook(ctx context.Context, w *webhooks.Webhook) error
	FindWebhook(ctx context.Context, clientID, id string) (webhooks.Webhook, error)
	// ListWebhooks returns the client's webhooks ordered by id.
	ListWebhooks(ctx context.Context, clientID string) ([]webhooks.Webhook, error)
	// UpdateWebhook replaces the webhook currentID with w, renaming it when
	// w.ID differs; Created is kept.
	UpdateWebhook(ctx context.Context, clientID, currentID string, w *webhooks.Webhook) error
	DeleteWebhook(ctx context.Context, clientID, id string) error
}

// EventStarter durably starts the DeliverEvent workflow of an event. A
// duplicate (same client and eventId) returns the same workflow id and nil.
// An unreachable Temporal returns an error wrapping webhooks.ErrUnavailable.
type EventStarter interface {
	StartDeliverEvent(ctx context.Context, in workflows.DeliverEventInput) (workflowID string, err error)
}

// IngestMetrics counts the answers to ingestion requests (SPEC 12).
// eventName is the event's name as sent ("" when the body has none); answer
// is one of "accepted", "invalid", "unknown_client", "unavailable", "error".
type IngestMetrics interface {
	EventIngested(eventName, answer string)
}

// Config is what NewServer needs.
type Config struct {
	Store  Store
	Events EventStarter
	// IngestUsername and IngestPassword are the Basic credential of
	// POST /api/v1/events. When either is empty, ingestion refuses everyone.
	IngestUsername string
	IngestPassword string
	// RetrySchedule is copied into every DeliverEventInput; empty means
	// workflows.DefaultRetrySchedule.
	RetrySchedule []time.Duration
	// Log serves the delivery log and signing secrets (SPEC 10, 11), and
	// Resends starts resends and test events; both are required.
	Log     LogStore
	Resends DeliveryStarter
	// MaxWebhooksPerClient is only quoted in the 409 of a create beyond
	// it; the store enforces it.
	MaxWebhooksPerClient int
	// Logger receives one line per request; nil means slog.Default().
	Logger *slog.Logger
	// Metrics counts ingestion answers; nil counts nothing.
	Metrics IngestMetrics
}

// maxBodyBytes is the largest request body accepted (SPEC 3.5).
const maxBodyBytes = 1 << 20

type server struct {
	store          Store
	events         EventStarter
	ingestUsername string
	ingestPassword string
	retrySchedule  []time.Duration
	logStore       LogStore
	maxWebhooks    int
	resends        DeliveryStarter
	log            *slog.Logger
	metrics        IngestMetrics
}

// NewServer returns the HTTP handler of the management API, event ingestion,
// health checks and the OpenAPI document.
func NewServer(cfg Config) http.Handler {
	s := newServer(cfg)
	return s.logRequests(s.router())
}

func newServer(cfg Config) *server {
	s := &server{
		store:          cfg.Store,
		events:         cfg.Events,
		ingestUsername: cfg.IngestUsername,
		ingestPassword: cfg.IngestPassword,
		retrySchedule:  slices.Clone(cfg.RetrySchedule),
		logStore:       cfg.Log,
		maxWebhooks:    cfg.MaxWebhooksPerClient,
		resends:        cfg.Resends,
		log:            cfg.Logger,
		metrics:        cfg.Metrics,
	}
	if len(s.retrySchedule) == 0 {
		s.retrySchedule = slices.Clone(workflows.DefaultRetrySchedule)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// router lists every route. The OpenAPI test walks it.
func (s *server) router() *mux.Router {
	r := mux.NewRouter()
	// An API does not redirect: "//" or "/../" in a path is simply not found.
	r.SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(s.handleNotFound)
	r.MethodNotAllowedHandler = s.methodNotAllowed(r)
	r.Use(recordRoute)

	r.HandleFunc("/healthz", s.handleHealthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.handleReadyz).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/openapi.yaml", handleOpenAPI).Methods(http.MethodGet)
	r.Handle("/api/v1/events", s.ingestAuth(http.HandlerFunc(s.handleIngestEvent))).Methods(http.MethodPost)

	// No subrouter: in mux 1.8.1 a subrouter's prefix match forgets an
	// earlier method mismatch, turning DELETE /api/v1/webhooks into 404.
	client := func(h http.HandlerFunc) http.Handler { return s.clientAuth(h) }
	r.Handle("/api/v1/webhooks", client(s.handleListWebhooks)).Methods(http.MethodGet)
	r.Handle("/api/v1/webhooks", client(s.handleCreateWebhook)).Methods(http.MethodPost)
	r.Handle("/api/v1/webhooks/{webhookId}", client(s.handleGetWebhook)).Methods(http.MethodGet)
	r.Handle("/api/v1/webhooks/{webhookId}", client(s.handleUpdateWebhook)).Methods(http.MethodPut)
	r.Handle("/api/v1/webhooks/{webhookId}", client(s.handleDeleteWebhook)).Methods(http.MethodDelete)
	r.Handle("/api/v1/webhooks/{webhookId}/deliveries", client(s.handleListDeliveries)).Methods(http.MethodGet)
	r.Handle("/api/v1/webhooks/{webhookId}/deliveries/{deliveryId}/resend", client(s.handleResendDelivery)).Methods(http.MethodPost)
	r.Handle("/api/v1/webhooks/{webhookId}/test", client(s.handleTestWebhook)).Methods(http.MethodPost)
	r.Handle("/api/v1/webhooks/{webhookId}/secret", client(s.handleGetSecret)).Methods(http.MethodGet)
	r.Handle("/api/v1/webhooks/{webhookId}/secret/rotate", client(s.handleRotateSecret)).Methods(http.MethodPost)
	r.Handle("/api/v1/events/{eventId}", client(s.handleGetEvent)).Methods(http.MethodGet)
	return r
}

func (s *server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	// A probe must answer quickly even when PostgreSQL hangs.
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.writeError(w, r, fmt.Errorf("readiness: %w: %w", webhooks.ErrUnavailable, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, public(webhooks.ErrNotFound, "no route for %s %s", r.Method, r.URL.Path))
}

// methodNotAllowed answers 405 with the Allow header RFC 9110 asks for,
// found by asking router which methods it would serve at the same path.
func (s *server) methodNotAllowed(router *mux.Router) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			var match mux.RouteMatch
			if router.Match(probe, &match) && match.MatchErr == nil {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.writeError(w, r, public(errMethodNotAllowed, "method %s is not allowed here", r.Method))
	})
}

// requestInfo is filled while a request is served and read by the request
// log once it is done.
type requestInfo struct {
	route    string
	clientID string
}

type requestInfoKey struct{}

func infoOf(r *http.Request) *requestInfo {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{} // outside logRequests (never in NewServer's handler)
}

// recordRoute notes the matched route's template for the request log:
// mux.CurrentRoute works only inside the router, the log line is written
// outside it (so that 404, 405 and panics are logged too).
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route := mux.CurrentRoute(r); route != nil {
			if tpl, err := route.GetPathTemplate(); err == nil {
				infoOf(r).route = tpl
			}
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (rec *statusRecorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *statusRecorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (rec *statusRecorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// logRequests writes one log line per request and turns a panic into a 500.
// It never logs headers, so no credential reaches the log.
func (s *server) logRequests(router *mux.Router) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p) // the server's way to abort a response quietly
				}
				if rec.status == 0 {
					s.writeError(rec, r, fmt.Errorf("panic: %v", p))
				} else {
					s.log.ErrorContext(r.Context(), "panic after response started", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				}
			}
			route := info.route
			if route == "" {
				route = "unmatched"
			}
			attrs := []any{
				"method", r.Method,
				"route", route,
				"status", rec.status,
				"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
			}
			if info.clientID != "" {
				attrs = append(attrs, "client_id", info.clientID)
			}
			s.log.InfoContext(r.Context(), "request", attrs...)
		}()
		router.ServeHTTP(rec, r)
	})
}

// writeJSON answers v as JSON. HTML escaping is off so that URLs read as
// they were sent.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	w.Header().Set("Content-Type", "application/json")
	if err := enc.Encode(v); err != nil {
		// Only our own response types reach here; they always encode.
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"statusCode":500,"error":"Internal Server Error","message":"internal server error"}`)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// readObject reads a JSON object request body of at most maxBodyBytes and
// splits it into its fields, so that each can be decoded on its own and every
// invalid one reported at once.
func readObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return nil, public(errUnsupportedMediaType, "the request body must be application/json")
	}
	if charset, ok := params["charset"]; ok && !strings.EqualFold(charset, "utf-8") {
		return nil, public(errUnsupportedMediaType, "the request body must be UTF-8 encoded JSON")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, public(err, "the request body must be at most %d bytes", maxBodyBytes)
	case err != nil:
		return nil, public(fmt.Errorf("%w: %w", errMalformedRequest, err), "the request body could not be read")
	case len(bytes.TrimSpace(body)) == 0:
		return nil, public(errMalformedRequest, "the request body is empty; a JSON object is expected")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, public(errMalformedRequest, "%s", jsonProblem(err))
	}
	return fields, nil
}

// jsonProblem describes why a body is not a JSON object, without echoing it.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Sprintf("the request body is not valid JSON: %s (at byte %d)", syntax.Error(), syntax.Offset)
	}
	return "the request body must be a JSON object"
}
