// Package webhooks holds the domain of the webhook delivery service: webhooks,
// events, validation, matching and the error kinds every layer shares. It uses
// the standard library only; wire formats live in api, db, workflows and
// activities.
package webhooks

import (
	"errors"
	"fmt"
	"strings"
)

// Error kinds. The api package maps each to an HTTP status in one place.
var (
	// ErrNotFound: the thing does not exist, or belongs to another client.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key (a client's webhook id, an eventId) is taken.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: a dependency (PostgreSQL, Temporal) cannot be reached;
	// the caller should retry later.
	ErrUnavailable = errors.New("unavailable")
	// ErrUndecryptable: a stored secret does not open with the configured
	// key (the key changed, or the row is corrupt). Retrying cannot help.
	ErrUndecryptable = errors.New("stored secret cannot be decrypted")
	// ErrLimit: a limit of SPEC 3.5 is reached (a conflict with the
	// client's current state, so 409).
	ErrLimit = fmt.Errorf("%w: limit reached", ErrConflict)
)

// FieldError is one invalid field of a request, named by its JSON path
// ("perOfficeOverrides[1].url").
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every invalid field of one request at once.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid: " + strings.Join(parts, "; ")
}

// Add records one invalid field.
func (e *ValidationError) Add(field, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

// Merge appends other's fields, each under prefix ("event." for instance).
func (e *ValidationError) Merge(prefix string, other *ValidationError) {
	if other == nil {
		return
	}
	for _, f := range other.Fields {
		e.Add(prefix+f.Field, f.Message)
	}
}

// Err returns e when it holds a field, or nil, so that a validator can end
// with `return v.Err()`.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}
