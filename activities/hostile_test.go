package activities

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocelot/webhooks"
)

// Hostile receivers (SPEC 6.2): each is a real local server, reached by the
// real activity through the real delivery client. Whatever the receiver
// does, the attempt ends within the timeout as a failed attempt with a clear
// error (to be retried), or as delivered for a 2xx, or as gone for a 410.

// rawServer accepts TCP connections and hands each to serve, which speaks
// whatever it likes (or nothing). Connections still open when the test ends
// are closed.
func rawServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readRequestHead reads up to the end of the request's header block, so
// that the client has sent its request before the server misbehaves.
func readRequestHead(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil || line == "\r\n" {
			return
		}
	}
}

func TestDeliverAttemptHostileReceivers(t *testing.T) {
	const timeout = 500 * time.Millisecond
	tlsServer := httptest.NewTLSServer(http.NotFoundHandler()) // signed by a CA nobody trusts
	t.Cleanup(tlsServer.Close)
	plain := newReceiver(t, nil)
	dayAhead := time.Now().Add(24 * time.Hour).UTC().Format(http.TimeFormat)

	tests := []hostileCase{
		{
			name: "hangs past the timeout",
			url: func(t *testing.T) string {
				return newReceiver(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }).URL
			},
			want: OutcomeRetry, errAny: []string{"timeout after " + timeout.String()}, class: ClassTimeout,
		},
		{
			name: "accepts the connection, never sends headers",
			url: func(t *testing.T) string {
				return "http://" + rawServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
			},
			want: OutcomeRetry, errAny: []string{"timeout after " + timeout.String()}, class: ClassTimeout,
		},
		{
			name: "resets the connection",
			url: func(t *testing.T) string {
				return "http://" + rawServer(t, func(c net.Conn) {
					readRequestHead(c)
					_ = c.(*net.TCPConn).SetLinger(0) // Close sends RST
				})
			},
			want: OutcomeRetry, errAny: []string{"connection reset", "EOF"}, class: ClassNetwork,
		},
		{
			name: "closes without answering",
			url: func(t *testing.T) string {
				return "http://" + rawServer(t, func(c net.Conn) { readRequestHead(c) })
			},
			want: OutcomeRetry, errAny: []string{"EOF"}, class: ClassNetwork,
		},
		{
			name: "speaks another protocol",
			url: func(t *testing.T) string {
				return "http://" + rawServer(t, func(c net.Conn) {
					readRequestHead(c)
					_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
				})
			},
			want: OutcomeRetry, errAny: []string{"malformed HTTP response"}, class: ClassNetwork,
		},
		{
			name: "answers binary garbage",
			url: func(t *testing.T) string {
				return "http://" + rawServer(t, func(c net.Conn) {
					readRequestHead(c)
					garbage := make([]byte, 300)
					_, _ = rand.Read(garbage)
					_, _ = c.Write(append(garbage, '\n'))
				})
			},
			want: OutcomeRetry, errAny: []string{"malformed HTTP", "HTTP/1.x"}, class: ClassNetwork,
		},
		{
			name: "TLS with an invalid certificate",
			url:  func(t *testing.T) string { return tlsServer.URL },
			// The handshake must get as far as the certificate.
			timeout: 10 * time.Second,
			want:    OutcomeRetry, errAny: []string{"certificate"}, class: ClassNetwork,
		},
		{
			name: "TLS handshake never completes",
			url: func(t *testing.T) string {
				return "https://" + rawServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
			},
			want: OutcomeRetry, errAny: []string{"timeout"}, class: ClassTimeout,
		},
		{
			name: "https URL, plain HTTP server",
			url:  func(t *testing.T) string { return strings.Replace(plain.URL, "http://", "https://", 1) },
			want: OutcomeRetry, errAny: []string{"HTTP response to HTTPS client", "first record does not look like a TLS handshake"}, class: ClassNetwork,
		},
		{
			name: "429, Retry-After a day",
			url:  func(t *testing.T) string { return retryAfterReceiver(t, 429, "86400") },
			want: OutcomeRetry, status: 429, class: Class4xx, retryAfter: [2]time.Duration{24 * time.Hour, 24 * time.Hour},
		},
		{
			name: "429, Retry-After an HTTP date a day ahead",
			url:  func(t *testing.T) string { return retryAfterReceiver(t, 429, dayAhead) },
			want: OutcomeRetry, status: 429, class: Class4xx, retryAfter: [2]time.Duration{24*time.Hour - time.Minute, 24 * time.Hour},
		},
		{
			name: "410 with a large body ends the delivery",
			url: func(t *testing.T) string {
				return newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusGone)
					_, _ = w.Write([]byte(strings.Repeat("gone ", 100_000)))
				}).URL
			},
			want: OutcomeGone, status: 410, class: Class4xx,
		},
	}
	// 503 with a Retry-After that is not one: the schedule's delay stands.
	for _, value := range []string{"soon", "-1", "1.5", "0x10", "", "Wed, 99 Foo 2026 25:61:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT"} {
		tests = append(tests, hostileCase{
			name: "503, malformed Retry-After " + value,
			url:  func(t *testing.T) string { return retryAfterReceiver(t, 503, value) },
			want: OutcomeRetry, status: 503, class: Class5xx,
		})
	}
	// A number beyond any duration is read as the longest one, never as an
	// overflow; the workflow caps it by the schedule's largest delay.
	tests = append(tests, hostileCase{
		name: "503, Retry-After beyond any duration",
		url:  func(t *testing.T) string { return retryAfterReceiver(t, 503, strings.Repeat("9", 400)) },
		want: OutcomeRetry, status: 503, class: Class5xx, retryAfter: [2]time.Duration{24 * time.Hour, 1<<63 - 1},
	})

	// net/http quotes a garbage status line whole in its error; the
	// attempt's Error must stay small (checked for every case below).
	tests = append(tests, hostileCase{
		name: "answers a 60 KiB garbage status line",
		url: func(t *testing.T) string {
			return "http://" + rawServer(t, func(c net.Conn) {
				readRequestHead(c)
				_, _ = c.Write([]byte(strings.Repeat("\x01", 60<<10) + "\n"))
			}) + "/hook"
		},
		want: OutcomeRetry, class: ClassNetwork,
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			timeout := cmp.Or(tt.timeout, timeout)
			a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", url)}},
				HTTPOptions{AllowedNetworks: loopback, Timeout: timeout})
			start := time.Now()
			res, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
			if err != nil {
				t.Fatalf("DeliverAttempt: %v, want a result: a receiver's failure is a failed attempt, not an activity error", err)
			}
			if res.Outcome != tt.want || res.StatusCode != tt.status {
				t.Errorf("got %s %d (%q), want %s %d", res.Outcome, res.StatusCode, res.Error, tt.want, tt.status)
			}
			if res.Class != tt.class {
				t.Errorf("got class %q, want %q", res.Class, tt.class)
			}
			if len(tt.errAny) > 0 && !containsAny(res.Error, tt.errAny) {
				t.Errorf("got Error %q, want one of %q", res.Error, tt.errAny)
			}
			if got := time.Duration(res.RetryAfter); got < tt.retryAfter[0] || got > tt.retryAfter[1] {
				t.Errorf("got RetryAfter %v, want %v..%v", got, tt.retryAfter[0], tt.retryAfter[1])
			}
			if len(res.ResponseBody) > maxKeptBody || len(res.Error) > 2*maxKeptBody {
				t.Errorf("got %d bytes of body and %d of error, want at most %d and %d", len(res.ResponseBody), len(res.Error), maxKeptBody, 2*maxKeptBody)
			}
			if res.URL != url || res.Duration <= 0 {
				t.Errorf("got URL %q, duration %v; want %q, > 0", res.URL, res.Duration, url)
			}
			// Generous: the bound is the attempt's timeout, whatever the
			// receiver does; a loaded machine adds seconds, not minutes.
			if elapsed := time.Since(start); elapsed > timeout+10*time.Second {
				t.Errorf("attempt took %v, want about the timeout (%v) at most", elapsed, timeout)
			}
		})
	}
}

type hostileCase struct {
	name   string
	url    func(t *testing.T) string
	want   Outcome
	status int
	// errAny: Error must contain one of these (a reset reads as either,
	// depending on when it lands).
	errAny     []string
	class      AttemptClass
	retryAfter [2]time.Duration // min, max
	timeout    time.Duration    // 0: the test's default
}

func retryAfterReceiver(t *testing.T, status int, value string) string {
	return newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", value)
		w.WriteHeader(status)
	}).URL
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestDeliverAttemptRedirectToPrivateAddress: a receiver that redirects to a
// private address (cloud metadata, the LAN, loopback) gets a failed attempt;
// nothing is sent there.
func TestDeliverAttemptRedirectToPrivateAddress(t *testing.T) {
	target := newReceiver(t, nil) // loopback: private, but allowed here so that a follow would be seen
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect} {
		for _, location := range []string{"http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/admin", target.URL + "/internal"} {
			t.Run(http.StatusText(status)+" to "+location, func(t *testing.T) {
				rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Location", location)
					w.WriteHeader(status)
				})
				a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}},
					HTTPOptions{AllowedNetworks: loopback, Timeout: 2 * time.Second})
				res, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
				if err != nil {
					t.Fatalf("DeliverAttempt: %v", err)
				}
				if res.Outcome != OutcomeRetry || res.StatusCode != status || res.Class != Class3xx {
					t.Errorf("got %s %d %s, want retry %d 3xx", res.Outcome, res.StatusCode, res.Class, status)
				}
				if !strings.Contains(res.Error, "redirect not followed") || !strings.Contains(res.Error, location) {
					t.Errorf("got Error %q, want it to say the redirect to %s was not followed", res.Error, location)
				}
				if got := target.hits(); got != 0 {
					t.Errorf("got %d requests at the redirect target, want 0", got)
				}
			})
		}
	}
}

// TestDeliverAttemptDripFeed: a receiver that sends its body a byte a second
// holds the attempt no longer than the timeout. The status decides (SPEC
// 6.2): a 2xx is delivered, anything else retried; either way the slow body
// is named.
func TestDeliverAttemptDripFeed(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	for _, status := range []int{http.StatusOK, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				for {
					if _, err := w.Write([]byte("x")); err != nil {
						return
					}
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(time.Second):
					}
				}
			})
			a := newActivities(&fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}},
				HTTPOptions{AllowedNetworks: loopback, Timeout: timeout})
			start := time.Now()
			res, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
			if err != nil {
				t.Fatalf("DeliverAttempt: %v", err)
			}
			want := OutcomeRetry
			if status == http.StatusOK {
				want = OutcomeDelivered
			}
			if res.Outcome != want || res.StatusCode != status {
				t.Errorf("got %s %d, want %s %d", res.Outcome, res.StatusCode, want, status)
			}
			if !strings.Contains(res.Error, "reading response body") || !strings.Contains(res.Error, "timeout") {
				t.Errorf("got Error %q, want it to name the body read's timeout", res.Error)
			}
			if !strings.HasPrefix(res.ResponseBody, "x") || strings.Trim(res.ResponseBody, "x") != "" {
				t.Errorf("got ResponseBody %q, want the bytes that arrived", res.ResponseBody)
			}
			if elapsed := time.Since(start); elapsed > timeout+10*time.Second {
				t.Errorf("attempt took %v, want about the timeout (%v) at most", elapsed, timeout)
			}
		})
	}
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestDeliverAttemptHugeBody: a receiver that answers 100 MiB gets at most
// 64 KiB of it read and 1 KiB kept, and its connection is closed rather than
// drained.
func TestDeliverAttemptHugeBody(t *testing.T) {
	const size = 100 << 20
	written := make(chan int64, 1)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "104857600")
		chunk := []byte(strings.Repeat("x", 32<<10))
		var n int64
		defer func() { written <- n }()
		for n < size {
			m, err := w.Write(chunk)
			n += int64(m)
			if err != nil {
				return
			}
		}
	})
	client := NewHTTPClient(HTTPOptions{AllowedNetworks: loopback, Timeout: 30 * time.Second})
	tr := client.Transport.(*http.Transport)
	var read atomic.Int64
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, read: &read}, nil
	}
	a := &Activities{Store: &fakeStore{webhooks: []webhooks.Webhook{testWebhook(1, "hook", rcv.URL)}}, HTTP: client}

	res, err := deliver(t, a, attemptInput(t, 1, testEvent(), ""))
	if err != nil {
		t.Fatalf("DeliverAttempt: %v", err)
	}
	if res.Outcome != OutcomeDelivered || res.StatusCode != 200 {
		t.Errorf("got %s %d (%s), want delivered 200", res.Outcome, res.StatusCode, res.Error)
	}
	if len(res.ResponseBody) != maxKeptBody {
		t.Errorf("got %d bytes kept, want %d", len(res.ResponseBody), maxKeptBody)
	}
	// Headers and the transport's 4 KiB read-ahead on top of the 64 KiB.
	if got := read.Load(); got > maxReadBody+8<<10 {
		t.Errorf("read %d bytes from the receiver, want at most %d and a little framing", got, maxReadBody)
	}
	// The quick return: the receiver's writes failed (connection closed)
	// long before its 100 MiB were out, instead of the attempt draining them.
	select {
	case n := <-written:
		if n >= size {
			t.Errorf("receiver wrote all %d bytes, want its connection closed early", n)
		}
	case <-time.After(30 * time.Second):
		t.Error("receiver still writing 30 s after the attempt ended, want its connection closed")
	}
}

// TestHostileReceiversDoNotDelayOthers: attempts stuck on hostile receivers
// (a hang, a silent socket, a drip) hold nothing that a healthy
// delivery needs, even on the same host and client. Ordering, not timing:
// the healthy delivery completes while every hostile one is still pending.
func TestHostileReceiversDoNotDelayOthers(t *testing.T) {
	release := make(chan struct{})
	var arrived sync.WaitGroup
	mux := http.NewServeMux()
	mux.HandleFunc("/healthy", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/drip", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		arrived.Done()
		for {
			select {
			case <-release:
				return
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
				_, _ = w.Write([]byte("x"))
				w.(http.Flusher).Flush()
			}
		}
	})
	rcv := newReceiver(t, mux.ServeHTTP)
	silent := rawServer(t, func(c net.Conn) {
		readRequestHead(c)
		arrived.Done()
		<-release
	})
	releaseAll := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseAll) // before the servers' clean-ups, should the test stop early

	hooks := []webhooks.Webhook{
		testWebhook(1, "hang", rcv.URL+"/hang"),
		testWebhook(2, "drip", rcv.URL+"/drip"),
		testWebhook(3, "silent", "http://"+silent+"/"),
		testWebhook(9, "healthy", rcv.URL+"/healthy"),
	}
	// A long timeout: the hostile attempts end because the test releases
	// them, never because a clock ran out.
	a := newActivities(&fakeStore{webhooks: hooks}, HTTPOptions{AllowedNetworks: loopback, Timeout: 45 * time.Second})
	ctx := context.Background()

	hostile := []DeliverAttemptInput{attemptInput(t, 1, testEvent(), ""), attemptInput(t, 2, testEvent(), ""), attemptInput(t, 3, testEvent(), "")}
	results := make(chan DeliverAttemptResult, len(hostile))
	arrived.Add(len(hostile))
	for _, in := range hostile {
		go func() {
			res, err := a.DeliverAttempt(ctx, in)
			if err != nil {
				res.Error = "activity error: " + err.Error()
			}
			results <- res
		}()
	}
	arrived.Wait() // every hostile receiver has its request and is stalling

	healthy, err := a.DeliverAttempt(ctx, attemptInput(t, 9, testEvent(), ""))
	if err != nil || healthy.Outcome != OutcomeDelivered {
		t.Fatalf("healthy delivery: got %+v, %v, want delivered", healthy, err)
	}
	select {
	case res := <-results:
		t.Errorf("a hostile attempt (%s) ended before the healthy one returned, want all still stalled", res.WebhookID)
	default:
	}

	releaseAll()
	for range hostile {
		res := <-results
		if strings.HasPrefix(res.Error, "activity error") {
			t.Errorf("%s: %s, want a result", res.WebhookID, res.Error)
		}
	}
}
