package codec

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// maxRequestBody bounds one encode or decode request. Temporal refuses
// payloads over 2 MiB by default; a UI request carries a few of them.
const maxRequestBody = 8 << 20

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// AuthToken is the operator credential every encode and decode request
	// must carry, as "Authorization: Bearer <token>" (CLI, scripts) or as the
	// password of Basic auth (a browser that logged in once). "" serves
	// without a credential: the dev stack only, on loopback.
	AuthToken string
	// AllowedOrigins are the Temporal UI origins (scheme://host:port) a
	// browser may call from; a request from any other origin is refused and
	// gets no CORS headers.
	AllowedOrigins []string
}

// Handler serves Temporal's remote codec protocol (POST …/encode and
// POST …/decode with {"payloads":[…]}) for c, behind the operator
// credential and CORS of opts.
func Handler(c *Codec, opts HandlerOptions) http.Handler {
	codec := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		if origin := r.Header.Get("Origin"); origin != "" {
			if !slices.Contains(opts.AllowedOrigins, origin) {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			// The UI's "include cross-origin credentials" sends the Basic
			// credential a browser remembers for this endpoint.
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			// A preflight never carries credentials, so it is answered
			// before the credential check.
			if r.Header.Get("Origin") == "" {
				http.Error(w, "preflight without an origin", http.StatusForbidden)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", "POST")
			// What the Temporal UI sends: its namespace, and its access
			// token when "pass access token" is on.
			h.Set("Access-Control-Allow-Headers", "Authorization, Authorization-Extras, Content-Type, X-Namespace")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if opts.AuthToken != "" && !authorized(r, opts.AuthToken) {
			w.Header().Set("WWW-Authenticate", `Basic realm="temporal-codec", charset="UTF-8"`)
			http.Error(w, "operator credential required", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet {
			// Lets an operator log in once from the UI's browser (the Basic
			// prompt above) and see that the endpoint answers.
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("Temporal codec endpoint: POST …/encode or …/decode with {\"payloads\":[…]}\n"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		codec.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries token as a Bearer token or as the
// Basic password (any username), compared in constant time.
func authorized(r *http.Request, token string) bool {
	var got string
	if _, password, ok := r.BasicAuth(); ok {
		got = password
	} else if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = bearer
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
