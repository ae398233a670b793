package api

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runLoad sends requests from b.RunParallel's goroutines to a real HTTP
// server at base and reports throughput and 99th-percentile latency.
func runLoad(b *testing.B, base string, newRequest func(base string) *http.Request, wantStatus int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var latencies []time.Duration
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		defer func() {
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			req := newRequest(base)
			begin := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(begin))
			if resp.StatusCode != wantStatus {
				b.Errorf("got status %d, want %d", resp.StatusCode, wantStatus)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	p99 := latencies[(len(latencies)*99+99)/100-1] // nearest rank
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

// prepare gives alice 20 webhooks, so that listing has work to do.
func prepare(b *testing.B, a *testAPI) {
	b.Helper()
	for i := range 20 {
		body := fmt.Sprintf(`{"id":"hook-%02d","matchingEvents":["IncomingSms.received","PhoneNumber.optedOut"],
			"url":"https://example.com/%d","auth":{"type":"Basic","username":"u","password":"p"},
			"perOfficeOverrides":[{"officeId":"main","active":false}]}`, i, i)
		if rec := a.as(http.MethodPost, "/api/v1/webhooks", body); rec.Code != http.StatusCreated {
			b.Fatalf("prepare: got status %d, want 201", rec.Code)
		}
	}
}

func BenchmarkListWebhooks(b *testing.B) {
	a := newTestAPI(b, nil)
	prepare(b, a)
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	runLoad(b, srv.URL, func(base string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/webhooks", nil)
		req.SetBasicAuth(aliceID, aliceKey)
		return req
	}, http.StatusOK)
}

func BenchmarkCreateWebhook(b *testing.B) {
	a := newTestAPI(b, nil)
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	var n atomic.Int64
	runLoad(b, srv.URL, func(base string) *http.Request {
		body := fmt.Sprintf(`{"id":"bench-%d","matchingEvents":["IncomingSms.received"],"url":"https://example.com/hook",
			"auth":{"type":"Basic","username":"u","password":"p"}}`, n.Add(1))
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/webhooks", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(aliceID, aliceKey)
		return req
	}, http.StatusCreated)
}
