package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// checkNoServerError fails when a response is a 5xx or not the JSON the
// API promises.
func checkNoServerError(t *testing.T, what string, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s %q: got status %d, want no 5xx; %s", what, body, rec.Code, rec.Body)
	}
	if rec.Code != http.StatusNoContent && rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%s %q: got Content-Type %q, want application/json", what, body, rec.Header().Get("Content-Type"))
	}
}

// FuzzWebhookBody sends arbitrary bytes as POST and PUT bodies through the
// router and the real store: never a panic, never a 5xx.
func FuzzWebhookBody(f *testing.F) {
	a := newTestAPI(f, nil)
	a.mustCreate(f, hookBody("target"))
	for _, seed := range []string{
		sampleBody,
		hookBody("fuzz-1"),
		hookBody("target"),
		`{"id":"target","matchingEvents":["PhoneNumber.optedIn","PhoneNumber.optedIn"],"url":"http://[::1]:80/x?y=z","active":false,
		  "auth":{"type":"Basic","username":"u","password":"p\u0000w"},"created":"x","updated":5}`,
		`{"id":"o","matchingEvents":["IncomingSms.received"],"url":"https://e.com/","perOfficeOverrides":[{"officeId":"\u0000"},{"officeId":"a","url":"https://e.com/\u0000"}]}`,
		`{"id":"x\u0000","matchingEvents":["\u0000"],"url":"https://e\u0000.com/"}`,
		`{"id":"` + strings.Repeat("a", 128) + `","matchingEvents":["IncomingSms.received"],"url":"https://` + strings.Repeat("h", 2030) + `.com/"}`,
		`{"id":"x","matchingEvents":["IncomingSms.received"],"url":"https://e.com/","perOfficeOverrides":[` +
			strings.Repeat(`{"officeId":"a"},`, 3) + `{"officeId":"b"}]}`,
		`{"id":"x","id":"y","matchingEvents":[],"url":"https://e.com/"}`,
		`{"auth":{"type":null,"username":null,"password":null},"perOfficeOverrides":[null,1,"s",[],{}]}`,
		`{"id":"\xff\xfe","matchingEvents":["IncomingSms.received"],"url":"https://e.com/\xff"}`,
		`{"id":"x","matchingEvents":["IncomingSms.received"],"url":"https://e.com/","active":1e999}`,
		`{"id":"x","matchingEvents":["IncomingSms.received"],"url":"https://e.com/","perOfficeOverrides":[{"officeId":"` + strings.Repeat("é", 200) + `"}]}`,
		"", "null", "[]", "{}", `{"a":`, "\x00", `"str"`, "1", "{}{}", "\ufeff{}",
		strings.Repeat("[", 100000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkNoServerError(t, "POST", body, serve(a.handler, rawRequest(http.MethodPost, "/api/v1/webhooks", body)))
		rec := serve(a.handler, rawRequest(http.MethodPut, "/api/v1/webhooks/target", body))
		checkNoServerError(t, "PUT", body, rec)
		if rec.Code == http.StatusOK {
			if renamed := decodeJSON[webhookJSON](t, rec); renamed.ID != "target" {
				// Rename it back so that later inputs still update it.
				a.as(http.MethodPut, webhookLocation(renamed.ID), hookBody("target"))
			}
		}
	})
}

// rawRequest is alice's request with body as application/json, even empty.
func rawRequest(method, path string, body []byte) *http.Request {
	req := newRequest(method, path, aliceID, aliceKey, "")
	req.Body = httpBody(string(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// FuzzEventBody sends arbitrary bytes as ingestion bodies, with a fake
// store and starter: never a panic, never a 5xx.
func FuzzEventBody(f *testing.F) {
	// ctxStarter keeps nothing, so a long fuzz run does not grow.
	h := newFakeServer(newFakeStore(), &ctxStarter{}, nil)
	for _, seed := range []string{
		`{"clientId":"alice","officeId":"main","event":{"name":"IncomingSms.received","eventId":"e","to":"+1","from":"+2","triggerType":"Inbound","message":"m","dateTime":"2026-11-26T10:00:00Z"}}`,
		`{"clientId":"alice","event":{"name":"OutboundSms.deliveryFailed","to":"+1","from":"+2","triggerType":"Outbound","message":"m","failureReason":"Opted out"}}`,
		`{"clientId":"alice","event":{"name":"PhoneNumber.optedOut","phoneNumber":"+1","triggerType":"Inbound"}}`,
		`{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Manual","eventId":"` + strings.Repeat("x", 129) + `"}}`,
		`{"clientId":"nobody","event":{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Manual"}}`,
		`{"clientId":"alice","event":{"name":"PhoneNumber.optedIn","phoneNumber":"\u0000","triggerType":"Manual","eventId":"\u0000"}}`,
		`{"clientId":"alice","event":{"name":null}}`,
		`{"clientId":"alice","event":{"name":1}}`,
		`{"clientId":null,"officeId":null,"event":null}`,
		`{"clientId":"a:b","officeId":"\u0007"}`,
		"", "null", "[]", "{}", `{"event":`, "\x00", "{}{}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := rawRequest(http.MethodPost, "/api/v1/events", body)
		req.SetBasicAuth(ingestUser, ingestPassword)
		checkNoServerError(t, "POST", body, serve(h, req))
	})
}
