package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/workflows"
)

// ingestion is a valid body of POST /api/v1/events (SPEC 5).
type ingestion struct {
	clientID string
	officeID string
	event    webhooks.Event
}

// acceptedJSON answers an accepted event.
type acceptedJSON struct {
	EventID    string `json:"eventId"`
	WorkflowID string `json:"workflowId"`
}

// decodeIngestion checks a body's fields, sets the event's defaults (eventId,
// dateTime) and reports every invalid field at once.
func decodeIngestion(fields map[string]json.RawMessage, now time.Time) (ingestion, error) {
	d := &decoder{}
	var in ingestion
	d.require(fields, "", "clientId", "event")
	for _, key := range sortedKeys(fields) {
		raw := fields[key]
		switch key {
		case "clientId":
			d.string(key, raw, &in.clientID)
			if !d.failed(key) && !webhooks.ValidClientID(in.clientID) {
				d.add(key, `must be a client id: 1 to 128 bytes, without ":", spaces or control characters`)
			}
		case "officeId":
			if isNull(raw) {
				continue // optional: null is absent
			}
			d.string(key, raw, &in.officeID)
			if !d.failed(key) {
				switch {
				case in.officeID == "":
					d.add(key, "must not be empty")
				case len(in.officeID) > webhooks.MaxOfficeIDLength:
					d.add(key, fmt.Sprintf("must be at most %d characters", webhooks.MaxOfficeIDLength))
				case hasControl(in.officeID):
					d.add(key, "must not contain control characters")
				}
			}
		case "event":
			in.event = d.event(key, raw, now)
		default:
			d.add(key, "unknown field")
		}
	}
	if err := d.err("clientId", "officeId", "event"); err != nil {
		return ingestion{}, err
	}
	return in, nil
}

// event parses the event with the domain's parser, fills in the defaults of
// SPEC 5 and validates it. Field errors are named under field ("event.to").
func (d *decoder) event(field string, raw json.RawMessage, now time.Time) webhooks.Event {
	e, err := webhooks.ParseEvent(raw)
	if err == nil {
		// Only an absent eventId or dateTime gets a default: an empty one
		// is a producer bug, and a fresh id on each retry would deliver the
		// event twice.
		var present map[string]json.RawMessage
		_ = json.Unmarshal(raw, &present) // ParseEvent accepted it as an object
		if _, ok := present["eventId"]; !ok {
			e.EventID = uuid.NewString()
		}
		if _, ok := present["dateTime"]; !ok {
			e.DateTime = now.UTC().Format(time.RFC3339)
		}
		err = e.Validate()
	}
	var invalid *webhooks.ValidationError
	if errors.As(err, &invalid) {
		for _, f := range invalid.Fields {
			path := field
			if f.Field != "" {
				path += "." + f.Field
			}
			d.add(path, f.Message)
		}
	}
	return e
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func (s *server) handleIngestEvent(w http.ResponseWriter, r *http.Request) {
	name, accepted, err := s.ingestEvent(w, r)
	if s.metrics != nil {
		s.metrics.EventIngested(name, ingestAnswer(err))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, accepted)
}

// ingestEvent starts the delivery of the event of r's body. It returns the
// event's name, "" when the body is invalid.
func (s *server) ingestEvent(w http.ResponseWriter, r *http.Request) (string, acceptedJSON, error) {
	fields, err := readObject(w, r)
	if err != nil {
		return "", acceptedJSON{}, err
	}
	in, err := decodeIngestion(fields, time.Now())
	if err != nil {
		return "", acceptedJSON{}, err
	}
	name := string(in.event.Name)
	infoOf(r).clientID = in.clientID
	if _, err := s.store.FindClient(r.Context(), in.clientID); err != nil {
		if errors.Is(err, webhooks.ErrNotFound) {
			err = public(err, "client %q not found", in.clientID)
		}
		return name, acceptedJSON{}, err
	}
	payload, err := in.event.Payload()
	if err != nil {
		return name, acceptedJSON{}, err
	}
	workflowID, err := s.events.StartDeliverEvent(r.Context(), workflows.DeliverEventInput{
		ClientID:      in.clientID,
		OfficeID:      in.officeID,
		EventName:     name,
		EventID:       in.event.EventID,
		Payload:       string(payload),
		RetrySchedule: slices.Clone(s.retrySchedule),
	})
	if err != nil {
		// Whatever the cause, the event may not be durably accepted: no 202.
		return name, acceptedJSON{}, fmt.Errorf("start delivery of event %s: %w", in.event.EventID, err)
	}
	return name, acceptedJSON{EventID: in.event.EventID, WorkflowID: workflowID}, nil
}

// ingestAnswer names the answer to an ingestion request for the metrics,
// from the table that chose its status.
func ingestAnswer(err error) string {
	if err == nil {
		return "accepted"
	}
	switch status := statusOf(err); {
	case status == http.StatusNotFound:
		return "unknown_client"
	case status == http.StatusServiceUnavailable:
		return "unavailable"
	case status >= 500:
		return "error"
	}
	return "invalid"
}
