package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/ocelot/webhooks"
)

// fakeLog records what the activities write to the delivery log.
type fakeLog struct {
	DeliveryLog
	batches []int64 // what each PruneDeliveryLog call deletes
	calls   int
	cutoff  time.Time
	err     error
}

func (f *fakeLog) PruneDeliveryLog(_ context.Context, cutoff time.Time, batch int) (int64, error) {
	f.cutoff = cutoff
	if f.calls == len(f.batches) {
		return 0, f.err
	}
	n := f.batches[f.calls]
	f.calls++
	return n, nil
}

func TestPruneDeliveryLogRunsBatchesUntilNothingIsLeft(t *testing.T) {
	log := &fakeLog{batches: []int64{500, 500, 17}}
	a := &Activities{Log: log, Retention: 720 * time.Hour}
	got, err := a.PruneDeliveryLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Deleted != 1017 || log.calls != 3 {
		t.Errorf("got %d deleted in %d calls, want 1017 in 3", got.Deleted, log.calls)
	}
	if age := time.Since(log.cutoff); age < 719*time.Hour || age > 721*time.Hour {
		t.Errorf("got cutoff %s ago, want the retention, 720h", age)
	}
	log = &fakeLog{err: errors.New("database down")}
	if _, err := (&Activities{Log: log, Retention: time.Hour}).PruneDeliveryLog(context.Background()); err == nil {
		t.Error("got no error from a failing store, want it returned so Temporal retries")
	}
	if _, err := (&Activities{Retention: time.Hour}).PruneDeliveryLog(context.Background()); err != nil {
		t.Errorf("without a log: got %v, want nothing to do", err)
	}
}

func TestRetryDelay(t *testing.T) {
	for _, tt := range []struct{ scheduled, retryAfter, max, want time.Duration }{
		{5 * time.Second, 0, time.Hour, 5 * time.Second},
		{5 * time.Second, time.Minute, time.Hour, time.Minute},
		{5 * time.Second, 48 * time.Hour, time.Hour, time.Hour},
		{1500 * time.Microsecond, 0, time.Hour, 2 * time.Millisecond},
	} {
		if got := RetryDelay(tt.scheduled, tt.retryAfter, tt.max); got != tt.want {
			t.Errorf("RetryDelay(%v, %v, %v) = %v, want %v", tt.scheduled, tt.retryAfter, tt.max, got, tt.want)
		}
	}
}

func TestSignatureHeaderSignsWithEveryActiveSecretNewestFirst(t *testing.T) {
	at := time.Unix(1700000000, 0)
	current, previous := webhooks.NewSigningSecret(), webhooks.NewSigningSecret()
	one, err := signatureHeader(webhooks.SigningSecrets{Current: current}, "msg", at, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	two, err := signatureHeader(webhooks.SigningSecrets{Current: current, Previous: previous, PreviousExpires: at.Add(time.Hour)}, "msg", at, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := webhooks.Sign(previous, "msg", at, []byte(`{}`))
	if two != one+" "+old {
		t.Errorf("got %q, want the current signature then the previous one", two)
	}
	expired, _ := signatureHeader(webhooks.SigningSecrets{Current: current, Previous: previous, PreviousExpires: at}, "msg", at, []byte(`{}`))
	if expired != one {
		t.Errorf("after the overlap: got %q, want only the current signature", expired)
	}
}

// A webhook whose stored credentials do not decrypt (key changed, corrupt
// row) fails its own attempt with a clear error, as a result on the normal
// schedule, never as an activity error that Temporal would retry forever.
func TestPoisonedWebhookFailsOnlyItsOwnAttempts(t *testing.T) {
	poisoned := &fakeStore{err: fmt.Errorf("webhook x: %w: %w", webhooks.ErrUndecryptable, errors.New("decrypt: wrong key"))}
	a := newActivities(poisoned, HTTPOptions{AllowedNetworks: loopback})
	res, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
	if err != nil {
		t.Fatalf("got activity error %v, want a failed attempt", err)
	}
	if res.Outcome != OutcomeRetry || res.Error != errUndecryptable || res.Class != "" {
		t.Errorf("got %s %q class %q, want a retry with %q and no request", res.Outcome, res.Error, res.Class, errUndecryptable)
	}
	log := &recordingLog{}
	a.Log = log
	in := attemptInput(t, 1, testEvent(), "")
	in.DeliveryID, in.Attempt, in.MaxAttempts = "d-1", 8, 8
	if _, err := deliver(t, a, in); err != nil {
		t.Fatal(err)
	}
	if log.state != webhooks.DeliveryFailed || log.attempt.Error != errUndecryptable {
		t.Errorf("log: got %s with %q, want the last attempt failed with the reason", log.state, log.attempt.Error)
	}
}

// A credential that does not open fails the attempt only once the webhook
// is known to take the event: an inactive webhook is cancelled whatever its
// secrets. The same holds whether the attempt read the webhook itself or
// took resolution's read (the event's first attempt).
func TestUndecryptableCredentialsAfterResolution(t *testing.T) {
	undecryptable := fmt.Errorf("%w: wrong key", webhooks.ErrUndecryptable)
	var requests atomic.Int32
	rcv := newReceiver(t, func(http.ResponseWriter, *http.Request) { requests.Add(1) })
	active := testWebhook(1, "hook", rcv.URL)
	inactive := active
	inactive.Active = false
	tests := []struct {
		name                    string
		hook                    webhooks.Webhook
		passwordErr, signingErr error
		want                    Outcome
	}{
		{"password", active, undecryptable, nil, OutcomeRetry},
		{"signing secret", active, nil, undecryptable, OutcomeRetry},
		{"signing secret of an inactive webhook", inactive, nil, undecryptable, OutcomeCancelled},
	}
	for _, tt := range tests {
		for _, resolved := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, resolution's read %v", tt.name, resolved), func(t *testing.T) {
				store := &fakeStore{webhooks: []webhooks.Webhook{tt.hook}, passwordErr: tt.passwordErr, signingErr: tt.signingErr}
				a := newActivities(store, HTTPOptions{AllowedNetworks: loopback})
				var suite testsuite.WorkflowTestSuite
				env := suite.NewTestActivityEnvironment()
				env.RegisterActivity(a)
				if resolved {
					// What resolution's read would hand to attempt 1.
					a.resolved.put("default-test-run-id", []webhooks.AttemptWebhook{store.read(tt.hook)}, time.Now())
				}
				val, err := env.ExecuteActivity(a.DeliverAttempt, attemptInput(t, 1, testEvent(), ""))
				var res DeliverAttemptResult
				if err == nil {
					err = val.Get(&res)
				}
				if err != nil {
					t.Fatalf("got activity error %v, want a result", err)
				}
				if res.Outcome != tt.want || (tt.want == OutcomeRetry && res.Error != errUndecryptable) {
					t.Errorf("got %s %q, want %s", res.Outcome, res.Error, tt.want)
				}
				if wantReads := map[bool]int{false: 1, true: 0}[resolved]; store.finds != wantReads {
					t.Errorf("%d reads of the webhook, want %d", store.finds, wantReads)
				}
			})
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the receiver, want none", n)
	}
}

type recordingLog struct {
	DeliveryLog
	attempt webhooks.Attempt
	state   webhooks.DeliveryState
}

func (l *recordingLog) RecordAttempt(_ context.Context, _ string, a webhooks.Attempt, state webhooks.DeliveryState, _ *time.Time) error {
	l.attempt, l.state = a, state
	return nil
}

// loggedEvents is a DeliveryLog holding one event's payload, or failing.
type loggedEvents struct {
	recordingLog
	event   webhooks.StoredEvent
	findErr error
}

func (l *loggedEvents) FindEventPayload(_ context.Context, clientID, eventID string) (webhooks.StoredEvent, error) {
	if l.findErr != nil {
		return webhooks.StoredEvent{}, l.findErr
	}
	if clientID != l.event.ClientID || eventID != l.event.EventID {
		return webhooks.StoredEvent{}, fmt.Errorf("event %s: %w", eventID, webhooks.ErrNotFound)
	}
	return l.event, nil
}

// A retry reads the exact payload from the delivery log, not its input;
// a pruned event cancels the delivery, an unreadable one fails the attempt
// on the normal schedule, and a database error is the activity's (retried).
func TestDeliverLoggedAttemptReadsThePayloadFromTheLog(t *testing.T) {
	var got [][]byte
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, body)
	}))
	defer rcv.Close()
	in := attemptInput(t, 1, testEvent(), "")
	stored := []byte(in.Payload)
	in.Payload, in.DeliveryID, in.Attempt, in.MaxAttempts = "", "d-1", 2, 8
	store := &fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}}
	run := func(log *loggedEvents) (DeliverAttemptResult, error) {
		a := newActivities(store, HTTPOptions{AllowedNetworks: loopback})
		a.Log = log
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(a)
		val, err := env.ExecuteActivity(a.DeliverLoggedAttempt, in)
		var res DeliverAttemptResult
		if err == nil {
			err = val.Get(&res)
		}
		return res, err
	}
	event := webhooks.StoredEvent{ClientID: testClient, EventID: in.EventID, Payload: stored}

	res, err := run(&loggedEvents{event: event})
	if err != nil || res.Outcome != OutcomeDelivered || len(got) != 1 || !bytes.Equal(got[0], stored) {
		t.Fatalf("from the log: got %v %+v, body %q; want delivered with the stored bytes %q", err, res, got, stored)
	}
	res, err = run(&loggedEvents{findErr: fmt.Errorf("event: %w", webhooks.ErrNotFound)})
	if err != nil || res.Outcome != OutcomeCancelled || len(got) != 1 {
		t.Errorf("pruned event: got %v %+v after %d requests, want cancelled without a request", err, res, len(got))
	}
	log := &loggedEvents{findErr: fmt.Errorf("event: %w", webhooks.ErrUndecryptable)}
	res, err = run(log)
	if err != nil || res.Outcome != OutcomeRetry || !strings.Contains(res.Error, "cannot be decrypted") || len(got) != 1 {
		t.Errorf("unreadable event: got %v %+v, want a failed attempt without a request", err, res)
	}
	if log.state != webhooks.DeliveryPending || log.attempt.Attempt != 2 {
		t.Errorf("unreadable event: logged %s attempt %d, want attempt 2 recorded, delivery pending", log.state, log.attempt.Attempt)
	}
	if _, err := run(&loggedEvents{findErr: errors.New("connection refused")}); err == nil {
		t.Error("database error: got no activity error, want one (Temporal retries it)")
	}
}
