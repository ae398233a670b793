package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/ocelot/webhooks"
)

// webhookJSON is the webhook object of SPEC 3.1 as responses carry it.
type webhookJSON struct {
	ID                 string         `json:"id"`
	MatchingEvents     []string       `json:"matchingEvents"`
	URL                string         `json:"url"`
	Auth               authJSON       `json:"auth"`
	Active             bool           `json:"active"`
	PerOfficeOverrides []overrideJSON `json:"perOfficeOverrides"`
	Created            string         `json:"created"`
	Updated            string         `json:"updated"`
}

// authJSON is {"type":"None"} or {"type":"Basic","username":…,"password":…}.
type authJSON struct {
	Type     string `json:"type"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// overrideJSON carries only the fields an override sets (SPEC 3.2).
type overrideJSON struct {
	OfficeID string    `json:"officeId"`
	URL      *string   `json:"url,omitempty"`
	Auth     *authJSON `json:"auth,omitempty"`
	Active   *bool     `json:"active,omitempty"`
}

func toWebhookJSON(w webhooks.Webhook) webhookJSON {
	out := webhookJSON{
		ID:                 w.ID,
		MatchingEvents:     make([]string, len(w.MatchingEvents)),
		URL:                w.URL,
		Auth:               toAuthJSON(w.Auth),
		Active:             w.Active,
		PerOfficeOverrides: make([]overrideJSON, len(w.PerOfficeOverrides)),
		Created:            w.Created.UTC().Format(time.RFC3339),
		Updated:            w.Updated.UTC().Format(time.RFC3339),
	}
	for i, name := range w.MatchingEvents {
		out.MatchingEvents[i] = string(name)
	}
	for i, o := range w.PerOfficeOverrides {
		out.PerOfficeOverrides[i] = overrideJSON{OfficeID: o.OfficeID, URL: o.URL, Active: o.Active}
		if o.Auth != nil {
			a := toAuthJSON(*o.Auth)
			out.PerOfficeOverrides[i].Auth = &a
		}
	}
	return out
}

func toAuthJSON(a webhooks.Auth) authJSON {
	if a.Type == webhooks.AuthBasic {
		// Echoed as the seed's sample does (SPEC 3.1).
		return authJSON{Type: string(a.Type), Username: a.Username, Password: a.Password}
	}
	return authJSON{Type: string(webhooks.AuthNone)}
}

// decodeWebhook turns a request body's fields into a valid webhook, or a
// *webhooks.ValidationError naming every invalid field: type errors, unknown
// fields and rule violations together.
func decodeWebhook(fields map[string]json.RawMessage) (webhooks.Webhook, error) {
	d := &decoder{}
	w := webhooks.Webhook{
		Auth:               webhooks.Auth{Type: webhooks.AuthNone},
		Active:             true,
		PerOfficeOverrides: []webhooks.OfficeOverride{},
	}
	d.require(fields, "", "id", "matchingEvents", "url")
	for _, key := range sortedKeys(fields) {
		raw := fields[key]
		switch key {
		case "id":
			d.string(key, raw, &w.ID)
		case "matchingEvents":
			w.MatchingEvents = d.eventNames(key, raw)
		case "url":
			d.string(key, raw, &w.URL)
		case "auth":
			if !isNull(raw) {
				w.Auth = d.auth(key, raw)
			}
		case "active":
			if !isNull(raw) {
				d.bool(key, raw, &w.Active)
			}
		case "perOfficeOverrides":
			if !isNull(raw) {
				w.PerOfficeOverrides = d.overrides(key, raw)
			}
		case "created", "updated":
			// Read-only: accepted so that a GET body can be PUT back.
		default:
			d.add(key, "unknown field")
		}
	}
	// Validate before Normalize: collapsing duplicates would shift the
	// indices that errors about matchingEvents[i] name.
	d.merge(w.Validate())
	if err := d.err(webhookFields...); err != nil {
		return webhooks.Webhook{}, err
	}
	w.Normalize()
	return w, nil
}

// webhookFields is the order of SPEC 3.1, in which error details are listed.
var webhookFields = []string{"id", "matchingEvents", "url", "auth", "active", "perOfficeOverrides"}

// decoder collects field errors while a body is decoded field by field.
type decoder struct {
	errors webhooks.ValidationError
	// bad holds the fields that failed to decode: rule checks on their
	// zero values would only repeat the complaint.
	bad []string
}

func (d *decoder) add(field, message string) {
	d.errors.Add(field, message)
	d.bad = append(d.bad, field)
}

// merge adds the errors of a rule check, except those about fields (or
// parts of fields) that already failed to decode.
func (d *decoder) merge(err error) {
	var invalid *webhooks.ValidationError
	if !errors.As(err, &invalid) {
		return
	}
	for _, f := range invalid.Fields {
		if !d.covered(f.Field) {
			d.errors.Add(f.Field, f.Message)
		}
	}
}

// err returns the collected errors, or nil, in document order: by top-level
// field as listed in order (unknown ones last), then by array index. Within
// one element, decode errors come before rule errors.
func (d *decoder) err(order ...string) error {
	slices.SortStableFunc(d.errors.Fields, func(a, b webhooks.FieldError) int {
		rankA, nameA, indexA := fieldPosition(a.Field, order)
		rankB, nameB, indexB := fieldPosition(b.Field, order)
		return cmp.Or(cmp.Compare(rankA, rankB), strings.Compare(nameA, nameB), cmp.Compare(indexA, indexB))
	})
	return d.errors.Err()
}

// fieldPosition splits "perOfficeOverrides[3].url" into the rank of its
// top-level name in order, the name, and the index (-1 when none).
func fieldPosition(field string, order []string) (rank int, name string, index int) {
	name, index = field, -1
	if i := strings.IndexAny(field, ".["); i >= 0 {
		name = field[:i]
	}
	rank = slices.Index(order, name)
	if rank < 0 {
		rank = len(order)
	}
	if rest, ok := strings.CutPrefix(field[len(name):], "["); ok {
		if end := strings.IndexByte(rest, ']'); end > 0 {
			index, _ = strconv.Atoi(rest[:end])
		}
	}
	return rank, name, index
}

// failed reports whether field itself failed to decode.
func (d *decoder) failed(field string) bool {
	return slices.Contains(d.bad, field)
}

func (d *decoder) covered(field string) bool {
	for _, b := range d.bad {
		if field == b || strings.HasPrefix(field, b+".") || strings.HasPrefix(field, b+"[") {
			return true
		}
	}
	return false
}

func (d *decoder) require(fields map[string]json.RawMessage, prefix string, keys ...string) {
	for _, key := range keys {
		if _, ok := fields[key]; !ok {
			d.add(prefix+key, "is required")
		}
	}
}

// string decodes a required string; null counts as missing.
func (d *decoder) string(field string, raw json.RawMessage, dst *string) {
	switch {
	case isNull(raw):
		d.add(field, "is required")
	case json.Unmarshal(raw, dst) != nil:
		d.add(field, "must be a string")
	}
}

func (d *decoder) bool(field string, raw json.RawMessage, dst *bool) {
	if json.Unmarshal(raw, dst) != nil {
		d.add(field, "must be a boolean")
	}
}

// object splits a nested JSON object into its fields.
func (d *decoder) object(field string, raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		d.add(field, "must be an object")
		return nil, false
	}
	return fields, true
}

// array splits a JSON array into its elements.
func (d *decoder) array(field string, raw json.RawMessage, what string) ([]json.RawMessage, bool) {
	var items []json.RawMessage
	if isNull(raw) {
		d.add(field, "is required")
		return nil, false
	}
	if json.Unmarshal(raw, &items) != nil {
		d.add(field, "must be an array of "+what)
		return nil, false
	}
	return items, true
}

func (d *decoder) eventNames(field string, raw json.RawMessage) []webhooks.EventName {
	items, ok := d.array(field, raw, "event names")
	if !ok {
		return nil
	}
	names := make([]webhooks.EventName, len(items))
	for i, item := range items {
		// A bad element keeps its place (as ""), so that later indices in
		// errors still match the request.
		var name string
		d.string(fmt.Sprintf("%s[%d]", field, i), item, &name)
		names[i] = webhooks.EventName(name)
	}
	return names
}

func (d *decoder) auth(field string, raw json.RawMessage) webhooks.Auth {
	fields, ok := d.object(field, raw)
	if !ok {
		return webhooks.Auth{Type: webhooks.AuthNone}
	}
	var a webhooks.Auth
	d.require(fields, field+".", "type")
	for _, key := range sortedKeys(fields) {
		path := field + "." + key
		switch key {
		case "type":
			d.string(path, fields[key], (*string)(&a.Type))
		case "username":
			d.string(path, fields[key], &a.Username)
		case "password":
			d.string(path, fields[key], &a.Password)
		default:
			d.add(path, "unknown field")
		}
	}
	return a
}

func (d *decoder) overrides(field string, raw json.RawMessage) []webhooks.OfficeOverride {
	items, ok := d.array(field, raw, "objects")
	if !ok {
		return []webhooks.OfficeOverride{}
	}
	overrides := make([]webhooks.OfficeOverride, len(items))
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", field, i)
		fields, ok := d.object(path, item)
		if !ok {
			continue
		}
		o := &overrides[i]
		d.require(fields, path+".", "officeId")
		for _, key := range sortedKeys(fields) {
			raw, sub := fields[key], path+"."+key
			switch {
			case key == "officeId":
				d.string(sub, raw, &o.OfficeID)
			case isNull(raw) && (key == "url" || key == "auth" || key == "active"):
				// An optional field sent as null is not overridden.
			case key == "url":
				o.URL = new(string)
				d.string(sub, raw, o.URL)
			case key == "auth":
				a := d.auth(sub, raw)
				o.Auth = &a
			case key == "active":
				o.Active = new(bool)
				d.bool(sub, raw, o.Active)
			default:
				d.add(sub, "unknown field")
			}
		}
	}
	return overrides
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// sortedKeys orders a body's fields so that error details come in a stable
// order.
func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// webhookID returns the path's webhook id. An id that no webhook can have
// is simply not found.
func webhookID(r *http.Request) (string, error) {
	id := mux.Vars(r)["webhookId"]
	if !webhooks.ValidWebhookID(id) {
		return "", notFound(id)
	}
	return id, nil
}

func notFound(id string) error {
	return public(webhooks.ErrNotFound, "webhook %q not found", id)
}

func webhookLocation(id string) string {
	return "/api/v1/webhooks/" + url.PathEscape(id)
}

func (s *server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.ListWebhooks(r.Context(), clientFrom(r.Context()).ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]webhookJSON, len(list))
	for i, hook := range list {
		out[i] = toWebhookJSON(hook)
	}
	writeJSON(w, http.StatusOK, out)
}

// readWebhook decodes and validates the request body as a webhook of the
// authenticated client.
func readWebhook(w http.ResponseWriter, r *http.Request) (webhooks.Webhook, error) {
	fields, err := readObject(w, r)
	if err != nil {
		return webhooks.Webhook{}, err
	}
	hook, err := decodeWebhook(fields)
	if err != nil {
		return webhooks.Webhook{}, err
	}
	hook.ClientID = clientFrom(r.Context()).ID
	return hook, nil
}

func (s *server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	hook, err := readWebhook(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.CreateWebhook(r.Context(), &hook); err != nil {
		if errors.Is(err, webhooks.ErrLimit) {
			err = public(err, "a client has at most %d webhooks (MAX_WEBHOOKS_PER_CLIENT); delete one first", s.maxWebhooks)
		} else if errors.Is(err, webhooks.ErrConflict) {
			err = public(err, "webhook %q already exists", hook.ID)
		}
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", webhookLocation(hook.ID))
	writeJSON(w, http.StatusCreated, toWebhookJSON(hook))
}

func (s *server) handleGetWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := webhookID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hook, err := s.store.FindWebhook(r.Context(), clientFrom(r.Context()).ID, id)
	if err != nil {
		if errors.Is(err, webhooks.ErrNotFound) {
			err = notFound(id)
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toWebhookJSON(hook))
}

func (s *server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := webhookID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hook, err := readWebhook(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.UpdateWebhook(r.Context(), hook.ClientID, id, &hook); err != nil {
		switch {
		case errors.Is(err, webhooks.ErrNotFound):
			err = notFound(id)
		case errors.Is(err, webhooks.ErrConflict):
			err = public(err, "webhook %q already exists", hook.ID)
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toWebhookJSON(hook))
}

func (s *server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := webhookID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.DeleteWebhook(r.Context(), clientFrom(r.Context()).ID, id); err != nil {
		if errors.Is(err, webhooks.ErrNotFound) {
			err = notFound(id)
		}
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
