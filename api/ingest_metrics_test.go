package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/ocelot/webhooks"
)

// ingestCounts records EventIngested calls.
type ingestCounts struct {
	mu    sync.Mutex
	calls [][2]string
}

func (c *ingestCounts) EventIngested(eventName, answer string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, [2]string{eventName, answer})
}

func TestIngestMetrics(t *testing.T) {
	valid := `{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+15550003","triggerType":"Manual"}}`
	storeDown := newFakeStore()
	storeDown.findErr = fmt.Errorf("find client alice: %w: dial tcp: connection refused", webhooks.ErrUnavailable)
	tests := []struct {
		name       string
		store      Store
		starterErr error
		user       string
		body       string
		want       [][2]string
	}{
		{"accepted", newFakeStore(), nil, ingestUser, valid, [][2]string{{"PhoneNumber.optedIn", "accepted"}}},
		{"invalid event", newFakeStore(), nil, ingestUser,
			`{"clientId":"alice","event":{"name":"https://example.com/x","phoneNumber":"+15550003"}}`, [][2]string{{"", "invalid"}}},
		{"malformed body", newFakeStore(), nil, ingestUser, `{"clientId":`, [][2]string{{"", "invalid"}}},
		{"unknown client", newFakeStore(), nil, ingestUser,
			`{"clientId":"nobody","event":{"name":"IncomingSms.received","to":"+1","from":"+2","triggerType":"Inbound","message":"m"}}`,
			[][2]string{{"IncomingSms.received", "unknown_client"}}},
		{"store unavailable", storeDown, nil, ingestUser, valid, [][2]string{{"PhoneNumber.optedIn", "unavailable"}}},
		{"Temporal unavailable", newFakeStore(), fmt.Errorf("start: %w", webhooks.ErrUnavailable), ingestUser, valid,
			[][2]string{{"PhoneNumber.optedIn", "unavailable"}}},
		{"starter fails otherwise", newFakeStore(), errors.New("internal"), ingestUser, valid,
			[][2]string{{"PhoneNumber.optedIn", "error"}}},
		// A request the ingest credential does not authenticate never
		// reaches the handler: it is no ingestion answer.
		{"unauthenticated", newFakeStore(), nil, "someone", valid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := &ingestCounts{}
			h := NewServer(Config{
				Store: tt.store, Events: &fakeStarter{err: tt.starterErr},
				IngestUsername: ingestUser, IngestPassword: ingestPassword,
				RetrySchedule: testSchedule, Logger: slog.New(slog.DiscardHandler),
				Metrics: counts,
			})
			serve(h, newRequest(http.MethodPost, "/api/v1/events", tt.user, ingestPassword, tt.body))
			if !slices.Equal(counts.calls, tt.want) {
				t.Errorf("got %v, want %v", counts.calls, tt.want)
			}
		})
	}
}

func TestIngestWithoutMetrics(t *testing.T) {
	h := newFakeServer(newFakeStore(), &fakeStarter{}, nil) // Config.Metrics nil
	rec := serve(h, ingest(`{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Manual"}}`))
	if rec.Code != http.StatusAccepted {
		t.Errorf("got status %d, want 202", rec.Code)
	}
}
