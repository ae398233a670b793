package webhooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// EventName names one of the five event types of SPEC 4.
type EventName string

// The event names of SPEC 4.
const (
	IncomingSmsReceived       EventName = "IncomingSms.received"
	OutboundSmsDelivered      EventName = "OutboundSms.delivered"
	OutboundSmsDeliveryFailed EventName = "OutboundSms.deliveryFailed"
	PhoneNumberOptedOut       EventName = "PhoneNumber.optedOut"
	PhoneNumberOptedIn        EventName = "PhoneNumber.optedIn"
	MaxMessageLength                    = 2000
	MaxEventIDLength                    = 128
	maxEventFieldLength                 = 256
)

// EventNames lists every event name, in the order of SPEC 4.
var EventNames = []EventName{IncomingSmsReceived, OutboundSmsDelivered, OutboundSmsDeliveryFailed, PhoneNumberOptedOut, PhoneNumberOptedIn}

// Valid reports whether n is one of the five event names.
func (n EventName) Valid() bool {
	_, ok := eventFields[n]
	return ok
}

func eventNameList() string {
	names := make([]string, len(EventNames))
	for i, n := range EventNames {
		names[i] = string(n)
	}
	return strings.Join(names, ", ")
}

// eventFields lists, per event name, the payload fields after "name" and
// "eventId", in the order receivers get them (SPEC 4).
var eventFields = map[EventName][]string{
	IncomingSmsReceived:       {"to", "from", "triggerType", "message", "dateTime"},
	OutboundSmsDelivered:      {"to", "from", "triggerType", "message", "dateTime"},
	OutboundSmsDeliveryFailed: {"to", "from", "triggerType", "message", "failureReason", "dateTime"},
	PhoneNumberOptedOut:       {"phoneNumber", "triggerType", "dateTime"},
	PhoneNumberOptedIn:        {"phoneNumber", "triggerType", "dateTime"},
}

// triggerTypes lists the triggerType values each event name allows.
var triggerTypes = map[EventName][]string{
	IncomingSmsReceived:       {"Inbound"},
	OutboundSmsDelivered:      {"Outbound"},
	OutboundSmsDeliveryFailed: {"Outbound"},
	PhoneNumberOptedOut:       {"Inbound", "Manual"},
	PhoneNumberOptedIn:        {"Inbound", "Manual"},
}

// Event is one event of a client, as delivered to its webhooks. Fields that
// an event name does not use stay empty.
type Event struct {
	Name          EventName
	EventID       string
	To            string
	From          string
	PhoneNumber   string
	TriggerType   string
	Message       string
	FailureReason string
	// DateTime is kept as the producer wrote it (RFC 3339), so that every
	// attempt and resend carries the same bytes.
	DateTime string
}

func (e *Event) field(key string) *string {
	switch key {
	case "eventId":
		return &e.EventID
	case "to":
		return &e.To
	case "from":
		return &e.From
	case "phoneNumber":
		return &e.PhoneNumber
	case "triggerType":
		return &e.TriggerType
	case "message":
		return &e.Message
	case "failureReason":
		return &e.FailureReason
	case "dateTime":
		return &e.DateTime
	}
	return nil
}

// ParseEvent decodes one event payload of SPEC 4, rejecting unknown fields
// and wrong types. eventId and dateTime may be absent: the caller sets their
// defaults, then calls Validate. Field names in errors are relative to the
// event object.
func ParseEvent(data []byte) (Event, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		v := &ValidationError{}
		v.Add("", "must be a JSON object")
		return Event{}, v
	}
	v := &ValidationError{}
	var e Event
	if !decodeString(v, "name", raw["name"], (*string)(&e.Name)) {
		if _, present := raw["name"]; !present {
			v.Add("name", "is required; expected one of "+eventNameList())
		}
		return Event{}, v.Err()
	}
	fields, ok := eventFields[e.Name]
	if !ok {
		v.Add("name", fmt.Sprintf("unknown event name %q; expected one of %s", e.Name, eventNameList()))
		return Event{}, v
	}
	allowed := map[string]bool{"name": true, "eventId": true}
	for _, f := range fields {
		allowed[f] = true
	}
	for _, key := range sortedKeys(raw) {
		if !allowed[key] {
			v.Add(key, fmt.Sprintf("unknown field for %s", e.Name))
			continue
		}
		if key != "name" {
			decodeString(v, key, raw[key], e.field(key))
		}
	}
	for _, f := range fields {
		if _, present := raw[f]; !present && f != "dateTime" {
			v.Add(f, "is required")
		}
	}
	if err := v.Err(); err != nil {
		return Event{}, err
	}
	return e, nil
}

func decodeString(v *ValidationError, field string, raw json.RawMessage, dst *string) bool {
	if raw == nil {
		return false
	}
	if err := json.Unmarshal(raw, dst); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		v.Add(field, "must be a string")
		return false
	}
	return true
}

// Validate checks the values of a parsed event whose defaults are set.
func (e *Event) Validate() error {
	v := &ValidationError{}
	fields, ok := eventFields[e.Name]
	if !ok {
		v.Add("name", fmt.Sprintf("unknown event name %q; expected one of %s", e.Name, eventNameList()))
		return v
	}
	switch {
	case e.EventID == "":
		v.Add("eventId", "must not be empty")
	case len(e.EventID) > MaxEventIDLength:
		v.Add("eventId", fmt.Sprintf("must be at most %d characters", MaxEventIDLength))
	case hasControl(e.EventID) || !utf8.ValidString(e.EventID):
		v.Add("eventId", "must be printable UTF-8")
	}
	for _, f := range fields {
		value := *e.field(f)
		switch f {
		case "triggerType":
			if !contains(triggerTypes[e.Name], value) {
				v.Add(f, fmt.Sprintf("must be %s for %s", quoteAll(triggerTypes[e.Name]), e.Name))
			}
		case "message":
			if utf8.RuneCountInString(value) > MaxMessageLength {
				v.Add(f, fmt.Sprintf("must be at most %d characters", MaxMessageLength))
			}
		case "dateTime":
			if _, err := time.Parse(time.RFC3339Nano, value); err != nil {
				v.Add(f, "must be an RFC 3339 date-time, e.g. 2026-11-26T10:00:00Z")
			}
		case "failureReason":
			if len(value) > MaxMessageLength {
				v.Add(f, fmt.Sprintf("must be at most %d characters", MaxMessageLength))
			}
		default: // phone numbers
			switch {
			case value == "":
				v.Add(f, "must not be empty")
			case len(value) > maxEventFieldLength:
				v.Add(f, fmt.Sprintf("must be at most %d characters", maxEventFieldLength))
			}
		}
	}
	return v.Err()
}

// Payload renders the event as receivers get it: exactly the fields of its
// name, in the order of SPEC 4, with no HTML escaping.
func (e *Event) Payload() ([]byte, error) {
	fields, ok := eventFields[e.Name]
	if !ok {
		return nil, fmt.Errorf("payload: unknown event name %q", e.Name)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, key := range append([]string{"name", "eventId"}, fields...) {
		if i > 0 {
			buf.WriteByte(',')
		}
		value := string(e.Name)
		if key != "name" {
			value = *e.field(key)
		}
		_ = enc.Encode(key) // encoding a string cannot fail
		buf.Truncate(buf.Len() - 1)
		buf.WriteByte(':')
		_ = enc.Encode(value)
		buf.Truncate(buf.Len() - 1) // Encode appends a newline
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, " or ")
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Sorted so that error details come in a stable order.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
