package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ocelot/webhooks/internal/codec"
	"github.com/ocelot/webhooks/internal/config"
)

func TestCodecEndpointMount(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "api") })
	keys := []codec.Key{{ID: "k1", Secret: make([]byte, codec.KeySize)}}
	tests := []struct {
		name string
		cfg  config.Config
		// status of GET /codec/ without a credential, and what answered
		want     int
		wantBody string
	}{
		{name: "production without CODEC_AUTH_TOKEN: off", cfg: config.Config{PayloadKeys: keys}, want: http.StatusOK, wantBody: "api"},
		{name: "production with CODEC_AUTH_TOKEN: credential required", cfg: config.Config{PayloadKeys: keys, CodecAuthToken: "a-long-operator-token"}, want: http.StatusUnauthorized},
		{name: "dev stack: open", cfg: config.Config{PayloadKeys: keys, CodecOpen: true}, want: http.StatusOK, wantBody: "codec endpoint"},
		{name: "no keys: off", cfg: config.Config{CodecAuthToken: "a-long-operator-token"}, want: http.StatusOK, wantBody: "api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(withCodecEndpoint(tt.cfg, api, slog.New(slog.DiscardHandler)))
			defer srv.Close()
			resp, err := http.Get(srv.URL + CodecPath + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.want, tt.wantBody)
			}
			// The API's own paths still reach the API.
			resp, err = http.Get(srv.URL + "/api/v1/webhooks")
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "api" {
				t.Errorf("GET /api/v1/webhooks: got %q, want the API", body)
			}
		})
	}
}
