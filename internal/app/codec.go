package app

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/ocelot/webhooks/internal/codec"
	"github.com/ocelot/webhooks/internal/config"
)

// CodecPath is where the API process serves the payload codec endpoint
// (CodecPath+"/decode", CodecPath+"/encode").
const CodecPath = "/codec"

// withCodecEndpoint serves the codec endpoint at CodecPath beside next,
// when cfg enables it: behind CODEC_AUTH_TOKEN, or open in the dev stack
// (cfg.CodecOpen).
func withCodecEndpoint(cfg config.Config, next http.Handler, logger *slog.Logger) http.Handler {
	if cfg.CodecAuthToken == "" && !cfg.CodecOpen {
		logger.Info("codec endpoint off: set CODEC_AUTH_TOKEN to serve it")
		return next
	}
	payloads, err := codec.New(cfg.PayloadKeys)
	if err != nil {
		// No keys: no Temporal client starts either (ClientOptions).
		logger.Warn("codec endpoint off", "error", err)
		return next
	}
	endpoint := codec.Handler(payloads, codec.HandlerOptions{
		AuthToken:      cfg.CodecAuthToken,
		AllowedOrigins: cfg.CodecCORSOrigins,
	})
	logger.Info("codec endpoint on", "path", CodecPath, "credential_required", cfg.CodecAuthToken != "", "cors_origins", cfg.CodecCORSOrigins)
	// A prefix test rather than a ServeMux, so that the API's own routing
	// (path cleaning, 404s, 405s) stays exactly gorilla/mux's.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == CodecPath || strings.HasPrefix(r.URL.Path, CodecPath+"/") {
			endpoint.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
