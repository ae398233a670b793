package codec

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

const (
	token    = "operator-token"
	uiOrigin = "https://temporal-ui.example.com"
)

func newEndpoint(t *testing.T, c *Codec) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/codec", Handler(c, HandlerOptions{AuthToken: token, AllowedOrigins: []string{uiOrigin}})))
	t.Cleanup(srv.Close)
	return srv
}

// call sends one request as the Temporal UI or CLI would.
func call(t *testing.T, method, url string, headers map[string]string, payloads []*commonpb.Payload) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if payloads != nil {
		data, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func TestEndpointRequiresTheOperatorCredential(t *testing.T) {
	c := mustCodec(t, testKey("k1", 1))
	srv := newEndpoint(t, c)
	encoded, _ := c.Encode([]*commonpb.Payload{plainPayload(t, "+15550001")})
	for name, auth := range map[string]string{
		"none":         "",
		"wrong bearer": "Bearer not-the-token",
		"wrong basic":  "Basic b3BlcmF0b3I6d3Jvbmc=", // operator:wrong
		"token alone":  token,
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := call(t, "POST", srv.URL+"/codec/decode", map[string]string{"Authorization": auth, "Content-Type": "application/json"}, encoded)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("got %d %s, want 401", resp.StatusCode, body)
			}
			if strings.Contains(string(body), "+15550001") {
				t.Errorf("401 answer shows the payload: %s", body)
			}
		})
	}
	for _, path := range []string{"/codec/encode", "/codec/"} {
		if resp, _ := call(t, "POST", srv.URL+path, nil, encoded); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s without a credential: got %d, want 401", path, resp.StatusCode)
		}
	}
}

func TestEndpointDecodesWhatTheCodecEncoded(t *testing.T) {
	c := mustCodec(t, testKey("k1", 1))
	srv := newEndpoint(t, c)
	originals := []*commonpb.Payload{plainPayload(t, map[string]string{"to": "+15550001"}), plainPayload(t, "receiver said thanks")}
	encoded, err := c.Encode(originals)
	if err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]string{
		"bearer": "Bearer " + token,
		"basic":  "Basic b3BlcmF0b3I6b3BlcmF0b3ItdG9rZW4=", // operator:operator-token
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := call(t, "POST", srv.URL+"/codec/decode?preserveStorageRefs=true",
				map[string]string{"Authorization": auth, "Content-Type": "application/json", "X-Namespace": "default"}, encoded)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
			}
			var got commonpb.Payloads
			if err := protojson.Unmarshal(body, &got); err != nil {
				t.Fatalf("answer %s: %v", body, err)
			}
			if len(got.Payloads) != 2 || string(got.Payloads[0].Data) != `{"to":"+15550001"}` || string(got.Payloads[1].Data) != `"receiver said thanks"` {
				t.Errorf("got %v, want the original payloads", got.Payloads)
			}
		})
	}
	// Encode, as `temporal workflow start --codec-endpoint` uses it.
	resp, body := call(t, "POST", srv.URL+"/codec/encode", map[string]string{"Authorization": "Bearer " + token}, originals)
	var got commonpb.Payloads
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil || len(got.Payloads) != 2 ||
		string(got.Payloads[0].Metadata[MetadataEncoding]) != EncodingEncrypted {
		t.Fatalf("encode: got %d %s, want two encrypted payloads", resp.StatusCode, body)
	}
	if decoded, err := c.Decode(got.Payloads); err != nil || string(decoded[1].Data) != `"receiver said thanks"` {
		t.Errorf("decode of the endpoint's encoding: got %v, %v", decoded, err)
	}
}

func TestEndpointCORSOnlyForTheUIOrigin(t *testing.T) {
	c := mustCodec(t, testKey("k1", 1))
	srv := newEndpoint(t, c)
	encoded, _ := c.Encode([]*commonpb.Payload{plainPayload(t, "x")})
	preflight := map[string]string{
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type,x-namespace,authorization",
	}

	t.Run("preflight from the UI", func(t *testing.T) {
		preflight["Origin"] = uiOrigin
		resp, body := call(t, "OPTIONS", srv.URL+"/codec/decode", preflight, nil)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("got %d %s, want 204 (without a credential: browsers send none on a preflight)", resp.StatusCode, body)
		}
		h := resp.Header
		if h.Get("Access-Control-Allow-Origin") != uiOrigin || h.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("got headers %v, want the UI origin, credentials and POST allowed", h)
		}
		allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
		for _, want := range []string{"content-type", "x-namespace", "authorization"} {
			if !strings.Contains(allowed, want) {
				t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, want)
			}
		}
	})
	t.Run("preflight from another origin", func(t *testing.T) {
		preflight["Origin"] = "https://evil.example.com"
		resp, _ := call(t, "OPTIONS", srv.URL+"/codec/decode", preflight, nil)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("got %d with Allow-Origin %q, want 403 without CORS headers", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("request from the UI", func(t *testing.T) {
		resp, body := call(t, "POST", srv.URL+"/codec/decode", map[string]string{"Origin": uiOrigin, "Authorization": "Bearer " + token, "Content-Type": "application/json"}, encoded)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin {
			t.Errorf("got %d %s with Allow-Origin %q, want 200 for %s", resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Origin"), uiOrigin)
		}
	})
	t.Run("request from another origin, even with the credential", func(t *testing.T) {
		resp, body := call(t, "POST", srv.URL+"/codec/decode", map[string]string{"Origin": "http://127.0.0.1:9999", "Authorization": "Bearer " + token}, encoded)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" || strings.Contains(string(body), `"x"`) {
			t.Errorf("got %d %s with Allow-Origin %q, want 403 without CORS headers", resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("refusal from the UI still readable by it", func(t *testing.T) {
		resp, _ := call(t, "POST", srv.URL+"/codec/decode", map[string]string{"Origin": uiOrigin}, encoded)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin {
			t.Errorf("got %d with Allow-Origin %q, want 401 the UI can read", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})
}

func TestOpenEndpointStillChecksTheOrigin(t *testing.T) {
	// The dev stack: no credential, CORS for its own UI only.
	c := mustCodec(t, testKey("k1", 1))
	srv := httptest.NewServer(Handler(c, HandlerOptions{AllowedOrigins: []string{"http://127.0.0.1:8233"}}))
	defer srv.Close()
	encoded, _ := c.Encode([]*commonpb.Payload{plainPayload(t, "x")})
	if resp, body := call(t, "POST", srv.URL+"/decode", map[string]string{"Origin": "http://127.0.0.1:8233"}, encoded); resp.StatusCode != http.StatusOK {
		t.Errorf("from the dev UI: got %d %s, want 200", resp.StatusCode, body)
	}
	if resp, _ := call(t, "POST", srv.URL+"/decode", map[string]string{"Origin": "http://localhost:3000"}, encoded); resp.StatusCode != http.StatusForbidden {
		t.Errorf("from another origin: got %d, want 403", resp.StatusCode)
	}
}

func TestEndpointBoundsTheBody(t *testing.T) {
	srv := newEndpoint(t, mustCodec(t, testKey("k1", 1)))
	big := strings.NewReader(`{"payloads":[{"data":"` + strings.Repeat("A", maxRequestBody) + `"}]}`)
	req, _ := http.NewRequest("POST", srv.URL+"/codec/decode", big)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("got %d, want 400 for a body over %d bytes", resp.StatusCode, maxRequestBody)
	}
}
