package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const sampleBody = `{
	"id": "my-incoming-sms-webhook",
	"matchingEvents": ["IncomingSms.received", "PhoneNumber.optedOut"],
	"url": "https://example.com/hooks?a=1&b=2",
	"auth": {"type": "Basic", "username": "user", "password": "pa55word"},
	"active": true,
	"perOfficeOverrides": [
		{"officeId": "main-campus", "url": "https://main.example.com/hooks"},
		{"officeId": "north", "active": false},
		{"officeId": "south", "auth": {"type": "None"}}
	]
}`

func hookBody(id string) string {
	return `{"id":"` + id + `","matchingEvents":["IncomingSms.received"],"url":"https://example.com/` + id + `"}`
}

// TestSpecTable covers each row of SPEC 3's table: every success and every
// error status of each route.
func TestSpecTable(t *testing.T) {
	a := newTestAPI(t, nil)
	for _, id := range []string{"existing", "taken", "to-update", "to-delete"} {
		a.mustCreate(t, hookBody(id))
	}
	big := `{"id":"big","matchingEvents":["IncomingSms.received"],"url":"https://example.com/","pad":"` +
		strings.Repeat("x", maxBodyBytes) + `"}`
	const (
		alice = iota
		anonymous
		wrongKey
	)
	tests := []struct {
		name        string
		method      string
		path        string
		who         int
		contentType string // "" means application/json
		body        string
		wantStatus  int
	}{
		{"list", "GET", "/api/v1/webhooks", alice, "", "", 200},
		{"list without credentials", "GET", "/api/v1/webhooks", anonymous, "", "", 401},

		{"create", "POST", "/api/v1/webhooks", alice, "", hookBody("created"), 201},
		{"create invalid", "POST", "/api/v1/webhooks", alice, "", `{"id":"x"}`, 400},
		{"create without credentials", "POST", "/api/v1/webhooks", anonymous, "", hookBody("c2"), 401},
		{"create taken id", "POST", "/api/v1/webhooks", alice, "", hookBody("taken"), 409},
		{"create too large", "POST", "/api/v1/webhooks", alice, "", big, 413},
		{"create not JSON", "POST", "/api/v1/webhooks", alice, "text/plain", hookBody("c3"), 415},

		{"get", "GET", "/api/v1/webhooks/existing", alice, "", "", 200},
		{"get wrong key", "GET", "/api/v1/webhooks/existing", wrongKey, "", "", 401},
		{"get missing", "GET", "/api/v1/webhooks/missing", alice, "", "", 404},
		{"get invalid id", "GET", "/api/v1/webhooks/-bad", alice, "", "", 404},

		{"update", "PUT", "/api/v1/webhooks/to-update", alice, "", hookBody("to-update"), 200},
		{"update invalid", "PUT", "/api/v1/webhooks/to-update", alice, "", `{"id":"to-update","url":"ftp://x"}`, 400},
		{"update without credentials", "PUT", "/api/v1/webhooks/to-update", anonymous, "", hookBody("to-update"), 401},
		{"update missing", "PUT", "/api/v1/webhooks/missing", alice, "", hookBody("missing"), 404},
		{"update rename onto taken", "PUT", "/api/v1/webhooks/to-update", alice, "", hookBody("taken"), 409},
		{"update too large", "PUT", "/api/v1/webhooks/to-update", alice, "", big, 413},
		{"update not JSON", "PUT", "/api/v1/webhooks/to-update", alice, "application/x-www-form-urlencoded", "a=b", 415},

		{"delete", "DELETE", "/api/v1/webhooks/to-delete", alice, "", "", 204},
		{"delete wrong key", "DELETE", "/api/v1/webhooks/existing", wrongKey, "", "", 401},
		{"delete missing", "DELETE", "/api/v1/webhooks/to-delete", alice, "", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(tt.method, tt.path, aliceID, aliceKey, tt.body)
			switch tt.who {
			case anonymous:
				req.Header.Del("Authorization")
			case wrongKey:
				req.SetBasicAuth(aliceID, bobKey)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := serve(a.handler, req)
			switch {
			case tt.wantStatus >= 400:
				checkError(t, rec, tt.wantStatus)
			case rec.Code != tt.wantStatus:
				t.Fatalf("got status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			case tt.wantStatus == http.StatusNoContent:
				if rec.Body.Len() != 0 {
					t.Errorf("got body %q, want none", rec.Body)
				}
			case tt.method == http.MethodGet && strings.HasSuffix(tt.path, "/webhooks"):
				if list := decodeJSON[[]webhookJSON](t, rec); len(list) == 0 {
					t.Errorf("got an empty list, want the webhooks")
				}
			default:
				decodeJSON[webhookJSON](t, rec)
			}
			if tt.wantStatus == http.StatusCreated {
				if got, want := rec.Header().Get("Location"), "/api/v1/webhooks/created"; got != want {
					t.Errorf("Location: got %q, want %q", got, want)
				}
			}
		})
	}
}

func TestCreateAndGetRoundTrip(t *testing.T) {
	a := newTestAPI(t, nil)
	before := time.Now().UTC().Truncate(time.Second)
	created := a.mustCreate(t, sampleBody)
	rec := a.as(http.MethodGet, "/api/v1/webhooks/my-incoming-sms-webhook", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("get: got status %d, want 200", rec.Code)
	}
	got := decodeJSON[webhookJSON](t, rec)
	if !reflect.DeepEqual(got, created) {
		t.Errorf("get: got %+v, want the created %+v", got, created)
	}
	mainURL, no := "https://main.example.com/hooks", false
	want := webhookJSON{
		ID:             "my-incoming-sms-webhook",
		MatchingEvents: []string{"IncomingSms.received", "PhoneNumber.optedOut"},
		URL:            "https://example.com/hooks?a=1&b=2",
		// The password is echoed, as in the seed's sample.
		Auth:   authJSON{Type: "Basic", Username: "user", Password: "pa55word"},
		Active: true,
		PerOfficeOverrides: []overrideJSON{
			{OfficeID: "main-campus", URL: &mainURL},
			{OfficeID: "north", Active: &no},
			{OfficeID: "south", Auth: &authJSON{Type: "None"}},
		},
		Created: got.Created,
		Updated: got.Updated,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, ts := range []string{got.Created, got.Updated} {
		parsed, err := time.Parse(time.RFC3339, ts)
		if err != nil || !strings.HasSuffix(ts, "Z") || parsed.Before(before) {
			t.Errorf("got time %q, want RFC 3339 UTC not before %s", ts, before)
		}
	}
	if strings.Contains(rec.Body.String(), `\u0026`) {
		t.Errorf("got body %s, want the URL unescaped", rec.Body)
	}
}

func TestDefaults(t *testing.T) {
	a := newTestAPI(t, nil)
	got := a.mustCreate(t, hookBody("plain"))
	if !got.Active || got.Auth != (authJSON{Type: "None"}) || got.PerOfficeOverrides == nil || len(got.PerOfficeOverrides) != 0 {
		t.Errorf("got %+v, want active, auth None and perOfficeOverrides []", got)
	}
	rec := a.as(http.MethodGet, "/api/v1/webhooks/plain", "")
	if !strings.Contains(rec.Body.String(), `"perOfficeOverrides":[]`) {
		t.Errorf("got body %s, want perOfficeOverrides []", rec.Body)
	}
	// Optional fields sent as null count as omitted.
	got = a.mustCreate(t, `{"id":"nulls","matchingEvents":["IncomingSms.received"],"url":"https://example.com/",
		"auth":null,"active":null,"perOfficeOverrides":[{"officeId":"o","url":null,"auth":null,"active":null}]}`)
	if !got.Active || got.Auth.Type != "None" || len(got.PerOfficeOverrides) != 1 ||
		got.PerOfficeOverrides[0] != (overrideJSON{OfficeID: "o"}) {
		t.Errorf("got %+v, want nulls read as omitted", got)
	}
}

func TestEmptyListIsArray(t *testing.T) {
	a := newTestAPI(t, nil)
	rec := a.as(http.MethodGet, "/api/v1/webhooks", "")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("got %d %s, want 200 []", rec.Code, rec.Body)
	}
}

func TestListOrderedByID(t *testing.T) {
	a := newTestAPI(t, nil)
	for _, id := range []string{"b", "C", "a", "a-1"} {
		a.mustCreate(t, hookBody(id))
	}
	a.mustCreate(t, `{"id":"inactive","matchingEvents":["IncomingSms.received"],"url":"https://example.com/","active":false}`)
	list := decodeJSON[[]webhookJSON](t, a.as(http.MethodGet, "/api/v1/webhooks", ""))
	var ids []string
	for _, w := range list {
		ids = append(ids, w.ID)
	}
	if want := []string{"C", "a", "a-1", "b", "inactive"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("got ids %v, want %v", ids, want)
	}
}

func TestTenantIsolation(t *testing.T) {
	a := newTestAPI(t, nil)
	a.mustCreate(t, hookBody("alice-hook"))
	asBob := func(method, path, body string) *httptest.ResponseRecorder {
		return serve(a.handler, newRequest(method, path, bobID, bobKey, body))
	}
	for _, tt := range []struct{ method, body string }{
		{http.MethodGet, ""},
		{http.MethodPut, hookBody("alice-hook")},
		{http.MethodDelete, ""},
	} {
		t.Run(tt.method, func(t *testing.T) {
			rec := asBob(tt.method, "/api/v1/webhooks/alice-hook", tt.body)
			body := checkError(t, rec, http.StatusNotFound)
			if want := `webhook "alice-hook" not found`; body.Message != want {
				t.Errorf("got message %q, want %q", body.Message, want)
			}
		})
	}
	if rec := asBob(http.MethodGet, "/api/v1/webhooks", ""); strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("bob's list: got %s, want []", rec.Body)
	}
	// Bob may use the same id for his own webhook.
	if rec := asBob(http.MethodPost, "/api/v1/webhooks", hookBody("alice-hook")); rec.Code != http.StatusCreated {
		t.Errorf("bob creates alice-hook: got %d, want 201", rec.Code)
	}
	// And alice's is untouched.
	got := decodeJSON[webhookJSON](t, a.as(http.MethodGet, "/api/v1/webhooks/alice-hook", ""))
	if got.URL != "https://example.com/alice-hook" {
		t.Errorf("alice's webhook: got %+v, want it unchanged", got)
	}
}

func TestRename(t *testing.T) {
	a := newTestAPI(t, nil)
	old := a.mustCreate(t, hookBody("old-name"))
	time.Sleep(1100 * time.Millisecond) // timestamps are whole seconds
	rec := a.as(http.MethodPut, "/api/v1/webhooks/old-name", hookBody("new-name"))
	if rec.Code != http.StatusOK {
		t.Fatalf("rename: got %d, want 200; %s", rec.Code, rec.Body)
	}
	renamed := decodeJSON[webhookJSON](t, rec)
	if renamed.ID != "new-name" || renamed.Created != old.Created || renamed.Updated <= old.Updated {
		t.Errorf("got %+v, want id new-name, created %s kept, updated after %s", renamed, old.Created, old.Updated)
	}
	checkError(t, a.as(http.MethodGet, "/api/v1/webhooks/old-name", ""), http.StatusNotFound)
	got := decodeJSON[webhookJSON](t, a.as(http.MethodGet, "/api/v1/webhooks/new-name", ""))
	if !reflect.DeepEqual(got, renamed) {
		t.Errorf("get new-name: got %+v, want %+v", got, renamed)
	}
}

func TestRenameOntoTakenID(t *testing.T) {
	a := newTestAPI(t, nil)
	a.mustCreate(t, hookBody("first"))
	second := a.mustCreate(t, hookBody("second"))
	body := `{"id":"second","matchingEvents":["PhoneNumber.optedIn"],"url":"https://changed.example.com/"}`
	got := checkError(t, a.as(http.MethodPut, "/api/v1/webhooks/first", body), http.StatusConflict)
	if want := `webhook "second" already exists`; got.Message != want {
		t.Errorf("got message %q, want %q", got.Message, want)
	}
	first := decodeJSON[webhookJSON](t, a.as(http.MethodGet, "/api/v1/webhooks/first", ""))
	if first.URL != "https://example.com/first" || first.MatchingEvents[0] != "IncomingSms.received" {
		t.Errorf("first: got %+v, want it unchanged", first)
	}
	if now := decodeJSON[webhookJSON](t, a.as(http.MethodGet, "/api/v1/webhooks/second", "")); !reflect.DeepEqual(now, second) {
		t.Errorf("second: got %+v, want %+v", now, second)
	}
}

func TestPutBackUnchanged(t *testing.T) {
	a := newTestAPI(t, nil)
	a.mustCreate(t, sampleBody)
	rec := a.as(http.MethodGet, "/api/v1/webhooks/my-incoming-sms-webhook", "")
	before := decodeJSON[webhookJSON](t, rec)
	put := a.as(http.MethodPut, "/api/v1/webhooks/my-incoming-sms-webhook", rec.Body.String())
	if put.Code != http.StatusOK {
		t.Fatalf("got %d, want 200; %s", put.Code, put.Body)
	}
	after := decodeJSON[webhookJSON](t, put)
	if after.Updated < before.Updated {
		t.Errorf("got updated %s, want not before %s", after.Updated, before.Updated)
	}
	after.Updated = before.Updated
	if !reflect.DeepEqual(after, before) {
		t.Errorf("got %+v, want %+v", after, before)
	}
}

func TestDuplicateMatchingEventsCollapsed(t *testing.T) {
	a := newTestAPI(t, nil)
	got := a.mustCreate(t, `{"id":"dups","url":"https://example.com/","matchingEvents":
		["PhoneNumber.optedOut","IncomingSms.received","PhoneNumber.optedOut","IncomingSms.received"]}`)
	if want := []string{"PhoneNumber.optedOut", "IncomingSms.received"}; !reflect.DeepEqual(got.MatchingEvents, want) {
		t.Errorf("got %v, want %v", got.MatchingEvents, want)
	}
}

func TestValidationDetails(t *testing.T) {
	a := newTestAPI(t, nil)
	tests := []struct {
		name       string
		body       string
		wantFields []string
	}{
		{"unknown field", `{"id":"x","matchingEvents":["IncomingSms.received"],"url":"https://e.com/","foo":1}`, []string{"foo"}},
		{"unknown nested fields", `{"id":"x","matchingEvents":["IncomingSms.received"],"url":"https://e.com/",
			"auth":{"type":"None","bar":1},"perOfficeOverrides":[{"officeId":"o","baz":2}]}`,
			[]string{"auth.bar", "perOfficeOverrides[0].baz"}},
		{"missing required", `{}`, []string{"id", "matchingEvents", "url"}},
		{"null required", `{"id":null,"matchingEvents":null,"url":null}`, []string{"id", "matchingEvents", "url"}},
		{"many at once", `{
			"id": "-bad",
			"matchingEvents": ["IncomingSms.received", 7, "Nope.nope"],
			"url": "ftp://example.com/",
			"auth": {"type": "Basic", "username": "a:b"},
			"active": "yes",
			"perOfficeOverrides": [
				{"officeId": "a", "url": "https://ok.example.com/"},
				{"officeId": "b", "url": "not a url"},
				{"officeId": "a"},
				"nope",
				{"url": "https://x.example.com/#frag", "auth": {"type": "Digest"}, "active": 1}
			]}`,
			[]string{
				"id", "matchingEvents[1]", "matchingEvents[2]", "url", "auth.username", "auth.password", "active",
				"perOfficeOverrides[1].url", "perOfficeOverrides[2].officeId", "perOfficeOverrides[3]",
				"perOfficeOverrides[4].officeId", "perOfficeOverrides[4].active", "perOfficeOverrides[4].url",
				"perOfficeOverrides[4].auth.type",
			}},
		{"wrong types", `{"id":1,"matchingEvents":"IncomingSms.received","url":true,"auth":"Basic","perOfficeOverrides":{}}`,
			[]string{"id", "matchingEvents", "url", "auth", "perOfficeOverrides"}},
		{"unknown fields last", `{"zzz":1,"aaa":2,"id":"x","matchingEvents":["IncomingSms.received"],"url":"https://e.com/"}`,
			[]string{"aaa", "zzz"}},
		{"empty events", `{"id":"x","matchingEvents":[],"url":"https://e.com/"}`, []string{"matchingEvents"}},
		{"none with password", `{"id":"x","matchingEvents":["IncomingSms.received"],"url":"https://e.com/","auth":{"type":"None","password":"p"}}`, []string{"auth"}},
		{"url with user info", `{"id":"x","matchingEvents":["IncomingSms.received"],"url":"https://u:p@e.com/"}`, []string{"url"}},
		{"id too long", `{"id":"` + strings.Repeat("a", 129) + `","matchingEvents":["IncomingSms.received"],"url":"https://e.com/"}`, []string{"id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{http.MethodPost, http.MethodPut} {
				path := "/api/v1/webhooks"
				if method == http.MethodPut {
					path += "/whatever"
				}
				body := checkError(t, a.as(method, path, tt.body), http.StatusBadRequest)
				var got []string
				for _, d := range body.Details {
					got = append(got, d.Field)
					if d.Message == "" {
						t.Errorf("%s: field %s has no message", method, d.Field)
					}
				}
				if !reflect.DeepEqual(got, tt.wantFields) {
					t.Errorf("%s: got fields %q, want %q", method, got, tt.wantFields)
				}
			}
		})
	}
	body := checkError(t, a.as(http.MethodPost, "/api/v1/webhooks", tests[0].body), http.StatusBadRequest)
	if body.Details[0].Message != "unknown field" {
		t.Errorf("got message %q, want %q", body.Details[0].Message, "unknown field")
	}
}

func TestMalformedBodies(t *testing.T) {
	a := newTestAPI(t, nil)
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantMessage string
	}{
		{"empty", "application/json", "", 400, "empty"},
		{"whitespace", "application/json", "  \n", 400, "empty"},
		{"truncated", "application/json", `{"id":`, 400, "not valid JSON"},
		{"trailing garbage", "application/json", `{"id":"x"} x`, 400, "not valid JSON"},
		{"array", "application/json", `[1,2]`, 400, "JSON object"},
		{"null", "application/json", `null`, 400, "JSON object"},
		{"string", "application/json", `"x"`, 400, "JSON object"},
		{"charset utf-8", "application/json; charset=UTF-8", `{`, 400, "not valid JSON"},
		{"no content type", "", hookBody("x"), 415, "application/json"},
		{"other charset", "application/json; charset=latin1", hookBody("x"), 415, "UTF-8"},
		{"bad media type", "application/json;;=", hookBody("x"), 415, "application/json"},
		{"json-ish", "application/jsonx", hookBody("x"), 415, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(http.MethodPost, "/api/v1/webhooks", aliceID, aliceKey, "")
			req.Body = httpBody(tt.body)
			req.Header.Set("Content-Type", tt.contentType)
			body := checkError(t, serve(a.handler, req), tt.wantStatus)
			if !strings.Contains(body.Message, tt.wantMessage) {
				t.Errorf("got message %q, want it to mention %q", body.Message, tt.wantMessage)
			}
		})
	}
}

func httpBody(s string) *readCloser { return &readCloser{strings.NewReader(s)} }

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func TestUnauthorized(t *testing.T) {
	a := newTestAPI(t, nil)
	a.mustCreate(t, hookBody("hook"))
	tests := []struct {
		name   string
		header string // Authorization; "" sends none
	}{
		{"missing", ""},
		{"wrong key", basic(aliceID, "wrong")},
		{"other client's key", basic(aliceID, bobKey)},
		{"unknown client", basic("nobody", aliceKey)},
		{"empty user", basic("", aliceKey)},
		{"not basic", "Bearer " + aliceKey},
		{"malformed base64", "Basic !!!"},
		{"no colon", "Basic YWxpY2U="},
	}
	var bodies []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(http.MethodGet, "/api/v1/webhooks/hook", "", "", "")
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := serve(a.handler, req)
			checkError(t, rec, http.StatusUnauthorized)
			bodies = append(bodies, rec.Body.String())
		})
	}
	// An unknown client and a wrong key must look the same.
	for i, b := range bodies {
		if b != bodies[0] {
			t.Errorf("case %d: got body %s, want %s like the others", i, b, bodies[0])
		}
	}
}

func basic(user, password string) string {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, password)
	return req.Header.Get("Authorization")
}

// TestConcurrentCreate: of 50 simultaneous creates of one id, exactly one
// wins and the others get 409.
func TestConcurrentCreate(t *testing.T) {
	a := newTestAPI(t, nil)
	const n = 50
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = a.as(http.MethodPost, "/api/v1/webhooks", hookBody("race")).Code
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[201] != 1 || count[409] != n-1 {
		t.Errorf("got statuses %v, want one 201 and %d 409", count, n-1)
	}
}

func TestLocationEscaped(t *testing.T) {
	if got, want := webhookLocation("a.b_c-1"), "/api/v1/webhooks/a.b_c-1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := webhookLocation("a b/c"), "/api/v1/webhooks/a%20b%2Fc"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestResponseJSONShape(t *testing.T) {
	a := newTestAPI(t, nil)
	rec := a.as(http.MethodPost, "/api/v1/webhooks", sampleBody)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	want := []string{"active", "auth", "created", "id", "matchingEvents", "perOfficeOverrides", "updated", "url"}
	if !reflect.DeepEqual(sortedKeys(raw), want) {
		t.Errorf("got keys %v, want %v", keys, want)
	}
}
