package webhooks

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseEventAndPayload(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"incoming", `{"dateTime":"2026-11-26T10:00:00Z","message":"a <b> & c","triggerType":"Inbound","from":"+2","to":"+1","eventId":"e","name":"IncomingSms.received"}`,
			`{"name":"IncomingSms.received","eventId":"e","to":"+1","from":"+2","triggerType":"Inbound","message":"a <b> & c","dateTime":"2026-11-26T10:00:00Z"}`},
		{"failed", `{"name":"OutboundSms.deliveryFailed","eventId":"e","to":"+1","from":"+2","triggerType":"Outbound","message":"m","failureReason":"Opted out","dateTime":"2026-11-26T10:00:00+01:00"}`,
			`{"name":"OutboundSms.deliveryFailed","eventId":"e","to":"+1","from":"+2","triggerType":"Outbound","message":"m","failureReason":"Opted out","dateTime":"2026-11-26T10:00:00+01:00"}`},
		{"opted out", `{"name":"PhoneNumber.optedOut","eventId":"e","phoneNumber":"+1","triggerType":"Manual","dateTime":"2026-11-26T10:00:00Z"}`,
			`{"name":"PhoneNumber.optedOut","eventId":"e","phoneNumber":"+1","triggerType":"Manual","dateTime":"2026-11-26T10:00:00Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEvent([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Validate(); err != nil {
				t.Fatal(err)
			}
			got, err := e.Payload()
			if err != nil || string(got) != tt.want {
				t.Errorf("got %s %v, want %s", got, err, tt.want)
			}
		})
	}
}

func TestEventErrors(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantFields []string
	}{
		{"not an object", `[1]`, []string{""}},
		{"no name", `{"to":"+1"}`, []string{"name"}},
		{"unknown name", `{"name":"Sms.sent"}`, []string{"name"}},
		{"name not a string", `{"name":5}`, []string{"name"}},
		{"unknown and missing fields", `{"name":"PhoneNumber.optedIn","color":"red"}`, []string{"color", "phoneNumber", "triggerType"}},
		{"field of another event", `{"name":"PhoneNumber.optedIn","phoneNumber":"+1","triggerType":"Inbound","message":"x"}`, []string{"message"}},
		{"wrong types", `{"name":"IncomingSms.received","to":1,"from":null,"triggerType":"Inbound","message":"m"}`, []string{"from", "to"}},
		{"bad values", `{"name":"IncomingSms.received","eventId":"","to":"","from":"+2","triggerType":"Outbound","message":"` + strings.Repeat("x", 2001) + `","dateTime":"yesterday"}`,
			[]string{"eventId", "to", "triggerType", "message", "dateTime"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEvent([]byte(tt.in))
			if err == nil {
				err = e.Validate()
			}
			var v *ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("got %v, want a *ValidationError", err)
			}
			var got []string
			for _, f := range v.Fields {
				got = append(got, f.Field)
			}
			if !slices.Equal(got, tt.wantFields) {
				t.Errorf("got invalid fields %v, want %v", got, tt.wantFields)
			}
		})
	}
}

func TestMessageOf2000CharactersIsValid(t *testing.T) {
	e := Event{Name: IncomingSmsReceived, EventID: "e", To: "+1", From: "+2", TriggerType: "Inbound",
		Message: strings.Repeat("é", 2000), DateTime: "2026-11-26T10:00:00Z"}
	if err := e.Validate(); err != nil {
		t.Errorf("got %v, want a 2000-character message accepted", err)
	}
}
