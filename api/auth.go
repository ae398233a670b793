package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/ocelot/webhooks"
)

type clientKey struct{}

// clientFrom returns the client that clientAuth authenticated.
func clientFrom(ctx context.Context) webhooks.Client {
	c, _ := ctx.Value(clientKey{}).(webhooks.Client)
	return c
}

// unknownClient stands in for a client that does not exist, so that an
// unknown client costs the same key comparison as a wrong key.
var unknownClient = webhooks.Client{KeyHash: make([]byte, sha256.Size)}

// clientAuth admits requests whose Basic credential is a client id and its
// API key (SPEC 2). An unknown client and a wrong key get the same 401.
func (s *server) clientAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, key, ok := r.BasicAuth()
		if !ok || !webhooks.ValidClientID(id) {
			s.writeError(w, r, errUnauthorized)
			return
		}
		client, err := s.store.FindClient(r.Context(), id)
		switch {
		case errors.Is(err, webhooks.ErrNotFound):
			unknownClient.KeyMatches(key)
			s.writeError(w, r, errUnauthorized)
			return
		case err != nil:
			s.writeError(w, r, err)
			return
		case !client.KeyMatches(key):
			s.writeError(w, r, errUnauthorized)
			return
		}
		infoOf(r).clientID = client.ID
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, client)))
	})
}

// ingestAuth admits requests carrying the ingest credential of the
// configuration. Both parts are hashed first so that the comparison takes
// the same time whatever their lengths.
func (s *server) ingestAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		// Both comparisons always run, so timing tells nothing of which failed.
		userOK := equalSecret(user, s.ingestUsername)
		passwordOK := equalSecret(password, s.ingestPassword)
		if !ok || s.ingestUsername == "" || s.ingestPassword == "" || !userOK || !passwordOK {
			s.writeError(w, r, errUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
