package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ocelot/webhooks"
)

// Error kinds that only the HTTP layer knows. The domain's kinds
// (webhooks.ErrNotFound, ...) are used as they are.
var (
	errUnauthorized         = errors.New("unauthorized")
	errMalformedRequest     = errors.New("malformed request")
	errMethodNotAllowed     = errors.New("method not allowed")
	errUnsupportedMediaType = errors.New("unsupported media type")
	errGatewayTimeout       = errors.New("gateway timeout")
)

// statusOf is the one table from error kind to HTTP status.
func statusOf(err error) int {
	var invalid *webhooks.ValidationError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &invalid), errors.Is(err, errMalformedRequest):
		return http.StatusBadRequest
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, webhooks.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, webhooks.ErrConflict):
		return http.StatusConflict
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errUnsupportedMediaType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, webhooks.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, errGatewayTimeout):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// publicError attaches a message a client may read to an error, whose kind
// still decides the status. The message is shown only for 4xx statuses.
type publicError struct {
	message string
	cause   error
}

func (e *publicError) Error() string { return e.message + ": " + e.cause.Error() }
func (e *publicError) Unwrap() error { return e.cause }

// public wraps cause with a message for the client.
func public(cause error, format string, args ...any) error {
	return &publicError{message: fmt.Sprintf(format, args...), cause: cause}
}

// errorBody is the error shape of Ocelot's other APIs (SPEC 3.6).
type errorBody struct {
	StatusCode int           `json:"statusCode"`
	Error      string        `json:"error"`
	Message    string        `json:"message"`
	Details    []fieldDetail `json:"details,omitempty"`
}

type fieldDetail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// writeError answers err with its status and the JSON error body. Causes of
// 5xx answers are logged here, once, and never shown to the client.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	body := errorBody{StatusCode: status, Error: http.StatusText(status)}
	var pub *publicError
	var invalid *webhooks.ValidationError
	switch {
	case status == http.StatusServiceUnavailable:
		s.log.WarnContext(r.Context(), "dependency unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Message = "a dependency is unavailable; retry later"
	case status == http.StatusGatewayTimeout && errors.As(err, &pub):
		body.Message = pub.message
	case status >= 500:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Message = "internal server error"
	case errors.As(err, &pub):
		body.Message = pub.message
	case errors.As(err, &invalid):
		body.Message = "the request is invalid; see details"
	default:
		body.Message = defaultMessages[status]
	}
	if status == http.StatusBadRequest && errors.As(err, &invalid) {
		body.Details = make([]fieldDetail, len(invalid.Fields))
		for i, f := range invalid.Fields {
			body.Details[i] = fieldDetail{Field: f.Field, Message: f.Message}
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="webhooks"`)
	}
	writeJSON(w, status, body)
}

var defaultMessages = map[int]string{
	http.StatusBadRequest:            "the request is invalid",
	http.StatusUnauthorized:          "valid Basic credentials are required",
	http.StatusNotFound:              "not found",
	http.StatusMethodNotAllowed:      "method not allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: fmt.Sprintf("the request body must be at most %d bytes", maxBodyBytes),
	http.StatusUnsupportedMediaType:  "the request body must be application/json",
}
