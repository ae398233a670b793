package webhooks

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func validWebhook() Webhook {
	return Webhook{ID: "hook-1", URL: "https://example.com/h", Active: true, Auth: Auth{Type: AuthNone},
		MatchingEvents: []EventName{IncomingSmsReceived}}
}

func TestWebhookValidate(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name       string
		change     func(w *Webhook)
		wantFields []string
	}{
		{name: "valid", change: func(*Webhook) {}},
		{name: "id of 128 characters", change: func(w *Webhook) { w.ID = strings.Repeat("a", 128) }},
		{name: "id of 129 characters", change: func(w *Webhook) { w.ID = strings.Repeat("a", 129) }, wantFields: []string{"id"}},
		{name: "id starting with a dot", change: func(w *Webhook) { w.ID = ".x" }, wantFields: []string{"id"}},
		{name: "id with a slash", change: func(w *Webhook) { w.ID = "a/b" }, wantFields: []string{"id"}},
		{name: "no events", change: func(w *Webhook) { w.MatchingEvents = nil }, wantFields: []string{"matchingEvents"}},
		{name: "unknown event", change: func(w *Webhook) { w.MatchingEvents = []EventName{IncomingSmsReceived, "Sms.sent"} }, wantFields: []string{"matchingEvents[1]"}},
		{name: "ftp url", change: func(w *Webhook) { w.URL = "ftp://example.com/" }, wantFields: []string{"url"}},
		{name: "relative url", change: func(w *Webhook) { w.URL = "/hook" }, wantFields: []string{"url"}},
		{name: "user info", change: func(w *Webhook) { w.URL = "https://u:p@example.com/" }, wantFields: []string{"url"}},
		{name: "fragment", change: func(w *Webhook) { w.URL = "https://example.com/#x" }, wantFields: []string{"url"}},
		{name: "url too long", change: func(w *Webhook) { w.URL = "https://example.com/" + strings.Repeat("a", 2048) }, wantFields: []string{"url"}},
		{name: "basic without password", change: func(w *Webhook) { w.Auth = Auth{Type: AuthBasic, Username: "u"} }, wantFields: []string{"auth.password"}},
		{name: "basic username with colon", change: func(w *Webhook) { w.Auth = Auth{Type: AuthBasic, Username: "u:x", Password: "p"} }, wantFields: []string{"auth.username"}},
		{name: "unknown auth type", change: func(w *Webhook) { w.Auth = Auth{Type: "Bearer"} }, wantFields: []string{"auth.type"}},
		{name: "overrides", change: func(w *Webhook) {
			w.PerOfficeOverrides = []OfficeOverride{{OfficeID: "a"}, {OfficeID: "a"}, {OfficeID: "", URL: str("nope")}, {OfficeID: "b", Auth: &Auth{Type: AuthBasic}}}
		}, wantFields: []string{"perOfficeOverrides[1].officeId", "perOfficeOverrides[2].officeId", "perOfficeOverrides[2].url", "perOfficeOverrides[3].auth.username", "perOfficeOverrides[3].auth.password"}},
		{name: "everything at once", change: func(w *Webhook) { w.ID, w.URL, w.MatchingEvents = "", "", nil }, wantFields: []string{"id", "matchingEvents", "url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := validWebhook()
			tt.change(&w)
			err := w.Validate()
			var got []string
			var v *ValidationError
			if errors.As(err, &v) {
				for _, f := range v.Fields {
					got = append(got, f.Field)
				}
			} else if err != nil {
				t.Fatalf("got %T %v, want a *ValidationError", err, err)
			}
			if !slices.Equal(got, tt.wantFields) {
				t.Errorf("got invalid fields %v, want %v", got, tt.wantFields)
			}
		})
	}
}

func TestNormalizeCollapsesDuplicateEvents(t *testing.T) {
	w := Webhook{MatchingEvents: []EventName{PhoneNumberOptedIn, IncomingSmsReceived, PhoneNumberOptedIn, IncomingSmsReceived}}
	w.Normalize()
	if want := []EventName{PhoneNumberOptedIn, IncomingSmsReceived}; !slices.Equal(w.MatchingEvents, want) {
		t.Errorf("got %v, want %v", w.MatchingEvents, want)
	}
}

func TestResolve(t *testing.T) {
	officeURL, on, off := "https://north.example.com/", true, false
	basic := Auth{Type: AuthBasic, Username: "n", Password: "p"}
	w := validWebhook()
	w.PerOfficeOverrides = []OfficeOverride{
		{OfficeID: "north", URL: &officeURL, Auth: &basic},
		{OfficeID: "south", Active: &off},
	}
	inactive := validWebhook()
	inactive.Active = false
	inactive.PerOfficeOverrides = []OfficeOverride{{OfficeID: "east", Active: &on}}
	tests := []struct {
		name     string
		hook     Webhook
		event    EventName
		office   string
		wantOK   bool
		wantURL  string
		wantAuth AuthType
	}{
		{"no office", w, IncomingSmsReceived, "", true, w.URL, AuthNone},
		{"office override", w, IncomingSmsReceived, "north", true, officeURL, AuthBasic},
		{"office without override", w, IncomingSmsReceived, "west", true, w.URL, AuthNone},
		{"office made inactive", w, IncomingSmsReceived, "south", false, "", ""},
		{"other event", w, PhoneNumberOptedIn, "", false, "", ""},
		{"inactive webhook", inactive, IncomingSmsReceived, "", false, "", ""},
		{"inactive webhook re-activated for one office", inactive, IncomingSmsReceived, "east", true, inactive.URL, AuthNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, ok := tt.hook.Resolve(tt.event, tt.office)
			if ok != tt.wantOK || (ok && (target.URL != tt.wantURL || target.Auth.Type != tt.wantAuth)) {
				t.Errorf("got %+v %v, want %s %s %v", target, ok, tt.wantURL, tt.wantAuth, tt.wantOK)
			}
		})
	}
}

func TestAPIKeys(t *testing.T) {
	key := NewAPIKey()
	if len(key) < 40 || key == NewAPIKey() {
		t.Fatalf("got key %q, want a long random key", key)
	}
	c := Client{KeyHash: HashAPIKey(key)}
	if !c.KeyMatches(key) || c.KeyMatches(key+"x") || c.KeyMatches("") {
		t.Error("KeyMatches accepts a wrong key or refuses the right one")
	}
	for id, want := range map[string]bool{"acme": true, "": false, "a:b": false, "a b": false, strings.Repeat("x", 129): false} {
		if got := ValidClientID(id); got != want {
			t.Errorf("ValidClientID(%q): got %v, want %v", id, got, want)
		}
	}
}

func TestValidateLimitsOfficeOverrides(t *testing.T) {
	w := Webhook{ID: "h", URL: "https://example.com/h", MatchingEvents: []EventName{IncomingSmsReceived}, Auth: Auth{Type: AuthNone}}
	for i := range MaxOfficeOverrides + 1 {
		w.PerOfficeOverrides = append(w.PerOfficeOverrides, OfficeOverride{OfficeID: fmt.Sprintf("office-%d", i)})
	}
	var invalid *ValidationError
	if err := w.Validate(); !errors.As(err, &invalid) || invalid.Fields[0].Field != "perOfficeOverrides" {
		t.Fatalf("101 overrides: got %v, want a perOfficeOverrides error", err)
	}
	w.PerOfficeOverrides = w.PerOfficeOverrides[:MaxOfficeOverrides]
	if err := w.Validate(); err != nil {
		t.Errorf("100 overrides: got %v, want valid", err)
	}
}
