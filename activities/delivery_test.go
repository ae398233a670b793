package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"

	"github.com/ocelot/webhooks"
)

func assertNonRetryable(t *testing.T, err error) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Fatalf("got error %v, want a non-retryable application error", err)
	}
}

func TestDeliverAttemptRequest(t *testing.T) {
	const dt = "2026-11-26T10:00:00+01:00"
	events := []webhooks.Event{
		// "<", "&" and U+2028 check that the bytes survive Temporal's JSON
		// converter, which HTML-escapes a json.RawMessage.
		{Name: webhooks.IncomingSmsReceived, EventID: "evt-in", To: "+15550001", From: "+15550002", TriggerType: "Inbound", Message: `Tom & Jerry <b>"hi"</b> é 😀 ` + "\u2028", DateTime: dt},
		{Name: webhooks.OutboundSmsDelivered, EventID: "evt-out", To: "+15550002", From: "+15550001", TriggerType: "Outbound", Message: "delivered", DateTime: dt},
		{Name: webhooks.OutboundSmsDeliveryFailed, EventID: "evt-fail", To: "+15550002", From: "+15550001", TriggerType: "Outbound", Message: "failed", FailureReason: "Opted out", DateTime: dt},
		{Name: webhooks.PhoneNumberOptedOut, EventID: "evt-optout", PhoneNumber: "+1 (555) 000-1", TriggerType: "Manual", DateTime: dt},
		{Name: webhooks.PhoneNumberOptedIn, EventID: "evt-optin", PhoneNumber: "0555 0001", TriggerType: "Inbound", DateTime: dt},
	}
	auths := []struct {
		name string
		auth webhooks.Auth
	}{
		{"basic", basicAuth()},
		{"none", webhooks.Auth{Type: webhooks.AuthNone}},
	}
	for _, e := range events {
		for _, au := range auths {
			t.Run(string(e.Name)+"/"+au.name, func(t *testing.T) {
				rcv := newReceiver(t, nil)
				w := testWebhook(1, "hook", rcv.URL+"/in?x=1")
				w.Auth = au.auth
				a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{w}}, HTTPOptions{AllowedNetworks: loopback})
				in := attemptInput(t, 1, e, "")
				in.Attempt = 3
				before := time.Now()
				res, err := deliver(t, a, in)
				if err != nil {
					t.Fatalf("DeliverAttempt: %v", err)
				}
				if res.Outcome != OutcomeDelivered || res.StatusCode != 200 {
					t.Fatalf("got %s %d (%s), want delivered 200", res.Outcome, res.StatusCode, res.Error)
				}
				if res.Attempt != 3 || res.WebhookID != "hook" || res.URL != rcv.URL+"/in?x=1" || res.Duration <= 0 {
					t.Errorf("got attempt %d, webhook %q, URL %q, duration %v; want 3, hook, %s/in?x=1, > 0",
						res.Attempt, res.WebhookID, res.URL, res.Duration, rcv.URL)
				}
				got := rcv.last(t)
				want, _ := e.Payload()
				if !bytes.Equal(got.Body, want) {
					t.Errorf("got body\n%s\nwant\n%s", got.Body, want)
				}
				h := got.Header
				for name, want := range map[string]string{
					"Content-Type": "application/json",
					"User-Agent":   webhooks.UserAgent,
					"webhook-id":   e.EventID,
				} {
					if got := h.Get(name); got != want {
						t.Errorf("got %s %q, want %q", name, got, want)
					}
				}
				ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
				if err != nil || ts < before.Unix()-2 || ts > time.Now().Unix()+2 {
					t.Errorf("got webhook-timestamp %q, want Unix seconds of now (%d)", h.Get("webhook-timestamp"), before.Unix())
				}
				req := &http.Request{Header: h}
				user, pass, ok := req.BasicAuth()
				switch au.auth.Type {
				case webhooks.AuthBasic:
					if !ok || user != testUser || pass != testPassword {
						t.Errorf("got Basic %q:%q (present %v), want %q:%q", user, pass, ok, testUser, testPassword)
					}
				default:
					if v := h.Get("Authorization"); v != "" {
						t.Errorf("got Authorization %q, want none", v)
					}
				}
			})
		}
	}
}

func TestDeliverAttemptOfficeOverride(t *testing.T) {
	main, north := newReceiver(t, nil), newReceiver(t, nil)
	const northPassword = "north-pw-also-secret"
	w := testWebhook(1, "hook", main.URL)
	w.PerOfficeOverrides = []webhooks.OfficeOverride{{
		OfficeID: "north",
		URL:      ptr(north.URL + "/north"),
		Auth:     &webhooks.Auth{Type: webhooks.AuthBasic, Username: "north-user", Password: northPassword},
	}}
	a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{w}}, HTTPOptions{AllowedNetworks: loopback})

	tests := []struct {
		office   string
		rcv      *receiver
		url      string
		user     string
		password string
	}{
		{"north", north, north.URL + "/north", "north-user", northPassword},
		{"south", main, main.URL, testUser, testPassword},
		{"", main, main.URL, testUser, testPassword},
	}
	for _, tt := range tests {
		t.Run("office="+tt.office, func(t *testing.T) {
			hits := tt.rcv.hits()
			res, err := deliver(t, a, attemptInput(t, 1, testEvent(), tt.office))
			if err != nil || res.Outcome != OutcomeDelivered {
				t.Fatalf("got %+v, %v, want delivered", res, err)
			}
			if res.URL != tt.url {
				t.Errorf("got URL %q, want %q", res.URL, tt.url)
			}
			if got := tt.rcv.hits(); got != hits+1 {
				t.Fatalf("got %d requests at the office's receiver, want %d", got, hits+1)
			}
			user, pass, _ := (&http.Request{Header: tt.rcv.last(t).Header}).BasicAuth()
			if user != tt.user || pass != tt.password {
				t.Errorf("got Basic %q:%q, want %q:%q", user, pass, tt.user, tt.password)
			}
			if strings.Contains(fmt.Sprintf("%+v", res), northPassword) {
				t.Errorf("result carries the office's password: %+v", res)
			}
		})
	}
}

func TestDeliverAttemptStatus(t *testing.T) {
	httpDate := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name          string
		status        int
		retryAfter    string
		body          string
		want          Outcome
		wantRetryMin  time.Duration
		wantRetryMax  time.Duration
		wantBody      string
		wantErrSubstr string
	}{
		{name: "200", status: 200, body: `{"ok":true}`, want: OutcomeDelivered, wantBody: `{"ok":true}`},
		{name: "204", status: 204, want: OutcomeDelivered},
		{name: "202", status: 202, want: OutcomeDelivered},
		{name: "500", status: 500, body: "boom", want: OutcomeRetry, wantBody: "boom"},
		{name: "500 ignores Retry-After", status: 500, retryAfter: "30", want: OutcomeRetry},
		{name: "404", status: 404, want: OutcomeRetry},
		{name: "410", status: 410, body: "gone for good", want: OutcomeGone, wantBody: "gone for good"},
		{name: "429 seconds", status: 429, retryAfter: "120", want: OutcomeRetry, wantRetryMin: 120 * time.Second, wantRetryMax: 120 * time.Second},
		{name: "429 HTTP-date", status: 429, retryAfter: httpDate, want: OutcomeRetry, wantRetryMin: 80 * time.Second, wantRetryMax: 91 * time.Second},
		{name: "503 seconds", status: 503, retryAfter: "7", want: OutcomeRetry, wantRetryMin: 7 * time.Second, wantRetryMax: 7 * time.Second},
		{name: "503 garbage", status: 503, retryAfter: "soon-ish", want: OutcomeRetry},
		{name: "503 negative", status: 503, retryAfter: "-5", want: OutcomeRetry},
		{name: "304", status: 304, want: OutcomeRetry, wantErrSubstr: "redirect not followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}}, HTTPOptions{AllowedNetworks: loopback})
			res, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
			if err != nil {
				t.Fatalf("DeliverAttempt: %v", err)
			}
			if res.Outcome != tt.want || res.StatusCode != tt.status {
				t.Errorf("got %s %d, want %s %d", res.Outcome, res.StatusCode, tt.want, tt.status)
			}
			if time.Duration(res.RetryAfter) < tt.wantRetryMin || time.Duration(res.RetryAfter) > tt.wantRetryMax {
				t.Errorf("got RetryAfter %v, want %v..%v", time.Duration(res.RetryAfter), tt.wantRetryMin, tt.wantRetryMax)
			}
			if res.ResponseBody != tt.wantBody {
				t.Errorf("got ResponseBody %q, want %q", res.ResponseBody, tt.wantBody)
			}
			if !strings.Contains(res.Error, tt.wantErrSubstr) || (tt.wantErrSubstr == "" && res.Error != "") {
				t.Errorf("got Error %q, want %q", res.Error, tt.wantErrSubstr)
			}
		})
	}
}

func TestDeliverAttemptRedirectNotFollowed(t *testing.T) {
	target := newReceiver(t, nil)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	})
	a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}}, HTTPOptions{AllowedNetworks: loopback})
	res, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
	if err != nil {
		t.Fatalf("DeliverAttempt: %v", err)
	}
	if res.Outcome != OutcomeRetry || res.StatusCode != http.StatusFound {
		t.Errorf("got %s %d, want retry 302", res.Outcome, res.StatusCode)
	}
	if !strings.Contains(res.Error, "redirect not followed") || !strings.Contains(res.Error, target.URL+"/elsewhere") {
		t.Errorf("got Error %q, want it to say the redirect to %s/elsewhere was not followed", res.Error, target.URL)
	}
	if got := target.hits(); got != 0 {
		t.Errorf("got %d requests at the redirect target, want 0", got)
	}
}

func TestDeliverAttemptTransportFailures(t *testing.T) {
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	// Nothing listens on port 1: connection refused. (A closed test
	// server's port can be taken meanwhile by another test's server.)
	const closedURL = "http://127.0.0.1:1/hook"
	// Its certificate is signed by httptest's own CA, which the delivery
	// client does not trust.
	tlsServer := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsServer.Close)

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		wantErr string
	}{
		{"timeout", slow.URL, 200 * time.Millisecond, "timeout after 200ms"},
		{"connection refused", closedURL, time.Second, "connection refused"},
		{"DNS failure", "http://no-such-host.invalid/hook", 5 * time.Second, "lookup no-such-host.invalid"},
		{"TLS failure", tlsServer.URL, 5 * time.Second, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", tt.url)}},
				HTTPOptions{AllowedNetworks: loopback, Timeout: tt.timeout})
			start := time.Now()
			res, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
			if err != nil {
				t.Fatalf("DeliverAttempt: %v", err)
			}
			if res.Outcome != OutcomeRetry || res.StatusCode != 0 {
				t.Errorf("got %s %d, want retry without status", res.Outcome, res.StatusCode)
			}
			if !strings.Contains(res.Error, tt.wantErr) {
				t.Errorf("got Error %q, want it to contain %q", res.Error, tt.wantErr)
			}
			if res.URL != tt.url || res.Duration <= 0 {
				t.Errorf("got URL %q, duration %v; want %q, > 0", res.URL, res.Duration, tt.url)
			}
			if elapsed := time.Since(start); elapsed > tt.timeout+2*time.Second {
				t.Errorf("attempt took %v, want about %v at most", elapsed, tt.timeout)
			}
		})
	}
}

func TestDeliverAttemptBodyCap(t *testing.T) {
	tests := []struct {
		name     string
		body     []byte
		wantBody string
	}{
		{"10 MiB", bytes.Repeat([]byte("x"), 10<<20), strings.Repeat("x", 1024)},
		// 2-byte runes: 512 fit exactly.
		{"two-byte runes", bytes.Repeat([]byte("é"), 2000), strings.Repeat("é", 512)},
		// 3-byte runes: the 342nd would end past 1024, so 341 are kept.
		{"three-byte runes", bytes.Repeat([]byte("€"), 2000), strings.Repeat("€", 341)},
		// Invalid UTF-8 is replaced, never passed on.
		{"invalid UTF-8", []byte("ok\xff\xfe"), "ok\uFFFD\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(tt.body)
			})
			a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}}, HTTPOptions{AllowedNetworks: loopback, Timeout: 5 * time.Second})
			res, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
			if err != nil || res.Outcome != OutcomeDelivered {
				t.Fatalf("got %s (%s), %v, want delivered", res.Outcome, res.Error, err)
			}
			if len(res.ResponseBody) > 1024 || !utf8.ValidString(res.ResponseBody) {
				t.Errorf("got ResponseBody of %d bytes (valid UTF-8 %v), want at most 1024 valid", len(res.ResponseBody), utf8.ValidString(res.ResponseBody))
			}
			if res.ResponseBody != tt.wantBody {
				t.Errorf("got ResponseBody %.40q… (%d bytes), want %.40q… (%d bytes)", res.ResponseBody, len(res.ResponseBody), tt.wantBody, len(tt.wantBody))
			}
		})
	}
}

func TestDeliverAttemptRedactsEchoedCredentials(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		// wantBody, when set, is the exact ResponseBody; otherwise the body
		// or Error must show the marker.
		wantBody string
	}{
		{"echoes Authorization", func(w http.ResponseWriter, r *http.Request) {
			_, _ = fmt.Fprintf(w, "you sent %s", r.Header.Get("Authorization"))
		}, ""},
		{"echoes password", func(w http.ResponseWriter, r *http.Request) {
			_, pass, _ := r.BasicAuth()
			w.WriteHeader(500)
			_, _ = fmt.Fprintf(w, "bad password %s", pass)
		}, ""},
		{"password across the 1 KiB cut", func(w http.ResponseWriter, r *http.Request) {
			_, pass, _ := r.BasicAuth()
			_, _ = w.Write([]byte(strings.Repeat("a", 1020) + pass))
		}, strings.Repeat("a", 1020) + redacted[:4]},
		{"password in Location", func(w http.ResponseWriter, r *http.Request) {
			_, pass, _ := r.BasicAuth()
			w.Header().Set("Location", "https://example.com/?p="+pass)
			w.WriteHeader(http.StatusFound)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, tt.handler)
			a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}}, HTTPOptions{AllowedNetworks: loopback})
			res, err := deliver(t, a, attemptInput(t, 1, testEvent(), "")) // deliver fails on a leak
			if err != nil {
				t.Fatalf("DeliverAttempt: %v", err)
			}
			if tt.wantBody != "" {
				if res.ResponseBody != tt.wantBody {
					t.Errorf("got body %q, want %q", res.ResponseBody, tt.wantBody)
				}
			} else if !strings.Contains(res.ResponseBody+res.Error, redacted) {
				t.Errorf("got body %q, error %q, want the echoed credential shown as %s", res.ResponseBody, res.Error, redacted)
			}
		})
	}
}

func TestDeliverAttemptEgressGuard(t *testing.T) {
	tests := []struct {
		name    string
		allowed []netip.Prefix
		host    string // replaces 127.0.0.1 in the receiver's URL
		want    Outcome
	}{
		{"loopback refused", nil, "127.0.0.1", OutcomeRetry},
		{"loopback by name refused after DNS", nil, "localhost", OutcomeRetry},
		{"other network allowed only", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "127.0.0.1", OutcomeRetry},
		{"loopback allowed", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "127.0.0.1", OutcomeDelivered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, nil)
			url := strings.Replace(rcv.URL, "127.0.0.1", tt.host, 1)
			a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", url)}}, HTTPOptions{AllowedNetworks: tt.allowed})
			res, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
			if err != nil {
				t.Fatalf("DeliverAttempt: %v", err)
			}
			if res.Outcome != tt.want {
				t.Fatalf("got %s (%s), want %s", res.Outcome, res.Error, tt.want)
			}
			if tt.want == OutcomeDelivered {
				return
			}
			if !strings.Contains(res.Error, "is not allowed") {
				t.Errorf("got Error %q, want it to say the address is not allowed", res.Error)
			}
			if conns, hits := rcv.conns.Load(), rcv.hits(); conns != 0 || hits != 0 {
				t.Errorf("got %d connections and %d requests at the receiver, want 0 and 0", conns, hits)
			}
		})
	}
}

func TestDeliverAttemptCancelled(t *testing.T) {
	inactive := testWebhook(2, "inactive", "")
	inactive.Active = false
	notListening := testWebhook(3, "not-listening", "")
	notListening.MatchingEvents = []webhooks.EventName{webhooks.PhoneNumberOptedOut}
	officeOff := testWebhook(4, "office-off", "")
	officeOff.PerOfficeOverrides = []webhooks.OfficeOverride{{OfficeID: "north", Active: ptr(false)}}
	otherClient := testWebhook(5, "other", "")
	otherClient.ClientID = "client-2"

	tests := []struct {
		name     string
		webhook  *webhooks.Webhook
		key      int64
		officeID string
		wantErr  string
	}{
		{"deleted", nil, 1, "", "webhook was deleted"},
		{"inactive", &inactive, 2, "", "webhook is inactive"},
		{"inactive, other office override", &inactive, 2, "south", "webhook is inactive"},
		{"not listening", &notListening, 3, "", "no longer listens to IncomingSms.received"},
		{"office override inactive", &officeOff, 4, "north", "inactive for office north"},
		{"other client's key", &otherClient, 5, "", "webhook was deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, nil)
			store := &fakeStore{}
			if tt.webhook != nil {
				w := *tt.webhook
				w.URL = rcv.URL
				store.webhooks = append(store.webhooks, w)
			}
			a := newActivities(store, HTTPOptions{AllowedNetworks: loopback})
			res, err := deliver(t, a, attemptInput(t, tt.key, testEvent(), tt.officeID))
			if err != nil {
				t.Fatalf("DeliverAttempt: %v", err)
			}
			if res.Outcome != OutcomeCancelled || !strings.Contains(res.Error, tt.wantErr) {
				t.Errorf("got %s %q, want cancelled %q", res.Outcome, res.Error, tt.wantErr)
			}
			if res.URL != "" || res.StatusCode != 0 {
				t.Errorf("got URL %q, status %d, want neither for a cancelled attempt", res.URL, res.StatusCode)
			}
			if got := rcv.hits(); got != 0 {
				t.Errorf("got %d requests, want 0", got)
			}
		})
	}
}

func TestDeliverAttemptErrors(t *testing.T) {
	t.Run("store unavailable", func(t *testing.T) {
		a := newActivities(&fakeStore{err: fmt.Errorf("find webhook: %w", webhooks.ErrUnavailable)}, HTTPOptions{})
		_, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
		if err == nil {
			t.Fatal("got nil error, want the store's error so Temporal retries the activity")
		}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			t.Errorf("got non-retryable %v, want a retryable error", err)
		}
	})
	t.Run("store unavailable, direct", func(t *testing.T) {
		a := newActivities(&fakeStore{err: fmt.Errorf("find webhook: %w", webhooks.ErrUnavailable)}, HTTPOptions{})
		_, err := a.DeliverAttempt(context.Background(), attemptInput(t, 1, testEvent(), ""))
		if !errors.Is(err, webhooks.ErrUnavailable) {
			t.Errorf("got %v, want it to wrap ErrUnavailable", err)
		}
	})
	t.Run("unknown event name", func(t *testing.T) {
		in := attemptInput(t, 1, testEvent(), "")
		in.EventName = "Nope"
		_, err := deliver(t, newActivities(&fakeStore{}, HTTPOptions{}), in)
		assertNonRetryable(t, err)
	})
	t.Run("empty payload", func(t *testing.T) {
		in := attemptInput(t, 1, testEvent(), "")
		in.Payload = ""
		_, err := deliver(t, newActivities(&fakeStore{}, HTTPOptions{}), in)
		assertNonRetryable(t, err)
	})
	t.Run("cancelled context", func(t *testing.T) {
		rcv := newReceiver(t, nil)
		a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}}, HTTPOptions{AllowedNetworks: loopback})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := a.DeliverAttempt(ctx, attemptInput(t, 1, testEvent(), ""))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled: an interrupted activity is not a delivery attempt", err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 120 * time.Second},
		{" 5 ", 5 * time.Second},
		{"-3", 0},
		{"1.5", 0},
		{"soon", 0},
		{"Thu, 26 Nov 2026 10:01:30 GMT", 90 * time.Second},
		{"Thu, 26 Nov 2026 09:59:00 GMT", 0},
		{"Thursday, 26-Nov-26 10:00:10 GMT", 10 * time.Second},
		{"99999999999999999999", time.Duration(maxInt64Seconds) * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			if got := parseRetryAfter(tt.value, now); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

const maxInt64Seconds = (1<<63 - 1) / int64(time.Second)

func TestTruncateUTF8(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"éé", 3, "é"},
		{"€", 2, ""},
		{"a\xffb", 10, "a\uFFFDb"},
		{"", 5, ""},
	}
	for _, tt := range tests {
		if got := truncateUTF8([]byte(tt.in), tt.limit); got != tt.want {
			t.Errorf("truncateUTF8(%q, %d): got %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

func BenchmarkDeliverAttempt(b *testing.B) {
	rcv := newReceiver(b, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}}, HTTPOptions{AllowedNetworks: loopback})
	in := attemptInput(b, 1, testEvent(), "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := a.DeliverAttempt(ctx, in)
		if err != nil || res.Outcome != OutcomeDelivered {
			b.Fatalf("got %+v, %v, want delivered", res, err)
		}
	}
	if conns := rcv.conns.Load(); conns > 2 {
		b.Errorf("got %d connections, want the keep-alive connection reused", conns)
	}
}
