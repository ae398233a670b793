package activities

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ocelot/webhooks"
)

// Limits of SPEC 6.2 on a receiver's response.
const (
	// maxReadBody is how much of a response body is read; the rest is not.
	maxReadBody = 64 << 10
	// maxKeptBody is how much of it the result keeps for display.
	maxKeptBody = 1 << 10
	// maxKeptLocation bounds the redirect target quoted in Error.
	maxKeptLocation = 256
)

const redacted = "[REDACTED]"

// DeliverAttempt makes one delivery attempt of an event to one webhook. It
// reads the webhook's current configuration by key (SPEC 6.4), so a rename,
// a new URL or new credentials apply from the next attempt on, and a deleted
// or deactivated webhook ends the delivery as cancelled without a request.
// A first attempt uses the read its event's resolution made moments before
// in the same workflow task (handoff), the same read that found the
// webhook matching.
//
// Every outcome of the HTTP exchange is a result, not an error: the workflow
// owns the retry schedule. An error means the attempt could not be made at
// all (the store is unreachable, the activity was cancelled), and Temporal
// retries the activity.
func (a *Activities) DeliverAttempt(ctx context.Context, in DeliverAttemptInput) (DeliverAttemptResult, error) {
	name := webhooks.EventName(in.EventName)
	if !name.Valid() {
		return DeliverAttemptResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("deliver attempt: unknown event name %q", in.EventName), ErrTypeInvalidInput, nil)
	}
	if p := strings.TrimSpace(in.Payload); p == "" || p[0] != '{' {
		return DeliverAttemptResult{}, temporal.NewNonRetryableApplicationError(
			"deliver attempt: payload is not a JSON object", ErrTypeInvalidInput, nil)
	}
	result, err := a.attempt(ctx, name, in)
	if err != nil {
		return DeliverAttemptResult{}, err
	}
	if err := a.record(ctx, in, result); err != nil {
		// The log must show every attempt: Temporal retries the activity,
		// which may repeat the request (at-least-once) but writes the
		// attempt once, under its number.
		return DeliverAttemptResult{}, err
	}
	if activity.IsActivity(ctx) {
		activity.GetLogger(ctx).Debug("Delivery attempt",
			"WebhookID", result.WebhookID, "Attempt", result.Attempt, "Outcome", result.Outcome,
			"StatusCode", result.StatusCode, "Duration", result.Duration, "Error", result.Error)
	}
	return result, nil
}

func (a *Activities) attempt(ctx context.Context, name webhooks.EventName, in DeliverAttemptInput) (DeliverAttemptResult, error) {
	result := DeliverAttemptResult{Attempt: in.Attempt}
	read, err := a.attemptWebhook(ctx, in)
	if err == nil {
		err = read.Err
	}
	w := read.Webhook
	switch {
	case endsAttempt(err, &result):
		return result, nil
	case err != nil:
		return DeliverAttemptResult{}, fmt.Errorf("find webhook by key %d: %w", in.WebhookKey, err)
	case w.ClientID != in.ClientID:
		// A key that now names another client's webhook must never receive
		// this client's event; for this delivery it is as good as deleted.
		result.Outcome, result.Error = OutcomeCancelled, "webhook was deleted (key belongs to another client)"
		return result, nil
	}
	result.WebhookID = w.ID
	target, ok := w.Resolve(name, in.OfficeID)
	if in.Test {
		// A test checks the endpoint itself, whatever the webhook's flags.
		target, ok = webhooks.Target{URL: w.URL, Auth: w.Auth}, true
	}
	if !ok {
		result.Outcome, result.Error = OutcomeCancelled, whyNotResolved(&w, name, in.OfficeID)
		return result, nil
	}
	if endsAttempt(read.SigningErr, &result) {
		return result, nil
	}
	signing := read.Signing

	secrets := secretsOf(target.Auth)
	if signing.Current != "" {
		secrets = append(secrets, signing.Active(time.Now())...)
	}
	result, err = a.post(ctx, in, target, result, secrets, signing)
	if err != nil {
		return DeliverAttemptResult{}, err
	}
	// Belt and braces: whatever a receiver echoes or an error quotes, the
	// password never leaves this function (SPEC 8).
	redactResult(&result, secrets)
	return result, nil
}

// attemptWebhook is what resolution read of the webhook when this is the
// first attempt and resolution ran in this worker moments ago (the same
// workflow task), else the webhook as read now.
func (a *Activities) attemptWebhook(ctx context.Context, in DeliverAttemptInput) (webhooks.AttemptWebhook, error) {
	if in.Attempt == 1 && !in.Test && activity.IsActivity(ctx) {
		if w, ok := a.resolved.take(activity.GetInfo(ctx).WorkflowExecution.RunID, in.WebhookKey, time.Now()); ok {
			return w, nil
		}
	}
	return a.Store.FindAttemptWebhook(ctx, in.WebhookKey)
}

// endsAttempt turns a store error that no retry of the activity can fix
// into the attempt's outcome: a deleted webhook cancels the delivery; a
// poisoned row (secrets that do not decrypt) fails its own attempts, on
// the normal schedule, rather than retrying the activity forever.
func endsAttempt(err error, result *DeliverAttemptResult) bool {
	switch {
	case errors.Is(err, webhooks.ErrNotFound):
		result.Outcome, result.Error = OutcomeCancelled, "webhook was deleted"
	case errors.Is(err, webhooks.ErrUndecryptable):
		result.Outcome, result.Error = OutcomeRetry, errUndecryptable
	default:
		return false
	}
	return true
}

// post sends the request and reads the response into result.
func (a *Activities) post(ctx context.Context, in DeliverAttemptInput, target webhooks.Target, result DeliverAttemptResult, secrets []string, signing webhooks.SigningSecrets) (DeliverAttemptResult, error) {
	result.URL = target.URL
	if u, err := url.Parse(target.URL); err == nil {
		result.URL = u.Redacted() // validation forbids user-info; never show one anyway
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.URL, strings.NewReader(in.Payload))
	if err != nil {
		// Only a URL that escaped validation gets here: report it as a failed
		// attempt so that the delivery ends as failed, not stuck in retries
		// of the activity. The message is built here, never from err, which
		// quotes the whole URL.
		result.Outcome, result.Error = OutcomeRetry, "invalid URL"
		return result, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", webhooks.UserAgent)
	if target.Auth.Type == webhooks.AuthBasic {
		req.SetBasicAuth(target.Auth.Username, target.Auth.Password)
	}
	// Set directly rather than through Header.Set, which would canonicalise
	// them to "Webhook-Id": HTTP/1.1 writes keys as given, so receivers see
	// the Standard Webhooks spelling.
	now := time.Now()
	req.Header["webhook-id"] = []string{in.EventID}
	req.Header["webhook-timestamp"] = []string{strconv.FormatInt(now.Unix(), 10)}
	if signing.Current != "" {
		// Computed here, from secrets read here: no secret or signature
		// enters workflow history (SPEC 11).
		signature, err := signatureHeader(signing, in.EventID, now, []byte(in.Payload))
		if err != nil {
			result.Outcome, result.Error = OutcomeRetry, errUndecryptable
			return result, nil
		}
		req.Header["webhook-signature"] = []string{signature}
	}
	if in.Test {
		req.Header["webhook-test"] = []string{"true"}
	}

	client := a.httpClient()
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		result.Duration = Duration(time.Since(start))
		if ctx.Err() != nil {
			// The activity itself was cancelled or timed out (worker shutting
			// down, StartToClose reached): not the receiver's fault, so no
			// attempt is recorded and Temporal decides what happens next.
			return DeliverAttemptResult{}, fmt.Errorf("deliver attempt: %w", ctx.Err())
		}
		result.Outcome, result.Error = OutcomeRetry, describeTransportError(err, client.Timeout)
		result.Class = transportClass(err)
		return result, nil
	}
	// A few bytes past the 1 KiB let the cut fall on a rune boundary, and a
	// password that starts inside it be seen whole, so redacted whole.
	scan := maxKeptBody + utf8.UTFMax
	body, readErr := readBody(resp.Body, scan+longest(secrets))
	result.Duration = Duration(time.Since(start))
	result.StatusCode = resp.StatusCode
	result.Class = statusClass(resp.StatusCode)
	result.ResponseBody = truncateUTF8(redactPrefix(body, secrets, scan), maxKeptBody)

	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		// SPEC 6.2: the status decides; a body cut short does not undo a 2xx.
		result.Outcome = OutcomeDelivered
	case resp.StatusCode == http.StatusGone:
		result.Outcome = OutcomeGone
	default:
		result.Outcome = OutcomeRetry
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			result.RetryAfter = Duration(parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
		}
		if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			result.Error = "redirect not followed"
			if loc := resp.Header.Get("Location"); loc != "" {
				loc = redactString(loc, secrets)
				result.Error += " (Location: " + truncateUTF8([]byte(loc), maxKeptLocation) + ")"
			}
		}
	}
	if readErr != nil && result.Error == "" {
		result.Error = "reading response body: " + describeTransportError(readErr, client.Timeout)
	}
	return result, nil
}

// readBody reads at most maxReadBody bytes of body, keeps the first keep of
// them, and closes it. Draining up to the limit lets the transport reuse the
// connection for the usual small answer; a larger one is cut off and its
// connection closed rather than read to the end.
func readBody(body io.ReadCloser, keep int) ([]byte, error) {
	defer body.Close()
	limited := io.LimitReader(body, maxReadBody)
	buf := make([]byte, keep)
	n, err := io.ReadFull(limited, buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return buf[:n], nil
	}
	if err != nil {
		return buf[:n], err
	}
	_, err = io.Copy(io.Discard, limited)
	return buf[:n], err
}

// whyNotResolved says, for an operator, why a webhook no longer takes the
// event.
func whyNotResolved(w *webhooks.Webhook, name webhooks.EventName, officeID string) string {
	if !w.Listens(name) {
		return "webhook no longer listens to " + string(name)
	}
	if officeID != "" {
		for _, o := range w.PerOfficeOverrides {
			if o.OfficeID == officeID && o.Active != nil && !*o.Active {
				return "webhook is inactive for office " + officeID
			}
		}
	}
	return "webhook is inactive"
}

// describeTransportError turns a failed request into a short text for the
// operator. The request itself (and so its Authorization header) is never
// part of a Go transport error; the URL, which url.Error quotes, is dropped
// because the result carries it already.
func describeTransportError(err error, timeout time.Duration) string {
	// net/http quotes what a hostile receiver sent (a status line of 60 KiB
	// becomes an error of as much): keep history and the log small.
	return truncateUTF8([]byte(describeTransportErrorFull(err, timeout)), maxKeptBody)
}

func describeTransportErrorFull(err error, timeout time.Duration) string {
	var blocked *blockedAddressError
	if errors.As(err, &blocked) {
		return blocked.Error()
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		if timeout <= 0 { // a client without its own timeout, cut off by a dialer or TLS limit
			return "timeout"
		}
		return "timeout after " + timeout.String()
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err.Error()
	}
	return err.Error()
}

// parseRetryAfter reads a Retry-After header (delta-seconds or an HTTP-date)
// as a delay from now. A past date, a negative number or garbage is zero.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		const maxSecs = math.MaxInt64 / int64(time.Second)
		switch {
		case secs <= 0:
			return 0
		case secs > maxSecs:
			return time.Duration(maxSecs) * time.Second // the workflow caps it anyway
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(value); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// secretsOf lists the strings that must never leave the activity: the
// password, and the Basic credential as it travels in the header.
func secretsOf(auth webhooks.Auth) []string {
	if auth.Type != webhooks.AuthBasic || auth.Password == "" {
		return nil
	}
	return []string{
		base64.StdEncoding.EncodeToString([]byte(auth.Username + ":" + auth.Password)),
		auth.Password,
	}
}

func longest(ss []string) int {
	n := 0
	for _, s := range ss {
		n = max(n, len(s))
	}
	return n
}

// redactPrefix returns the first n bytes of b with every secret that starts
// among them replaced, whole, by a marker. b must hold n+longest(secrets)
// bytes when it is that long, so that no secret is cut before it is seen.
func redactPrefix(b []byte, secrets []string, n int) []byte {
	if len(secrets) == 0 {
		return b[:min(len(b), n)]
	}
	out := make([]byte, 0, n)
next:
	for i := 0; i < len(b) && i < n; {
		for _, s := range secrets {
			if bytes.HasPrefix(b[i:], []byte(s)) {
				out = append(out, redacted...)
				i += len(s)
				continue next
			}
		}
		out = append(out, b[i])
		i++
	}
	return out
}

func redactString(s string, secrets []string) string {
	for _, secret := range secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// redactResult scrubs the result's free-text fields. ResponseBody is left
// out: redactPrefix has done it before the cut, which a second pass could
// only lengthen.
func redactResult(r *DeliverAttemptResult, secrets []string) {
	for _, field := range []*string{&r.WebhookID, &r.URL, &r.Error} {
		*field = redactString(*field, secrets)
	}
}

// truncateUTF8 returns at most limit bytes of b as valid UTF-8, cut at a
// rune boundary; invalid bytes become U+FFFD.
func truncateUTF8(b []byte, limit int) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if sb.Len()+utf8.RuneLen(r) > limit {
			break
		}
		sb.WriteRune(r)
		b = b[size:]
	}
	return sb.String()
}
