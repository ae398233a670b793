package config

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/ocelot/webhooks/internal/codec"
)

// minCodecTokenLength keeps the operator credential of the codec endpoint
// out of reach of guessing.
const minCodecTokenLength = 16

// loadTemporal reads the connection to Temporal the way Temporal documents
// it for every client (its SDK's envconfig): a profile of
// TEMPORAL_CONFIG_FILE (TEMPORAL_PROFILE, default "default") overridden by
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS* and
// TEMPORAL_GRPC_META_*. TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE stay the
// service's own variables: when set they win, as in every Temporal client.
func (c *Config) loadTemporal(dev bool) error {
	// The dev stack starts its own server unless told otherwise; a profile
	// left in the developer's home directory (e.g. for Temporal Cloud) must
	// not silently send `make run`'s payloads there.
	disableFile := dev && os.Getenv("TEMPORAL_CONFIG_FILE") == ""
	profile, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		DisableFile: disableFile,
		EnvLookup:   nonEmptyEnv{},
	})
	if err != nil {
		return fmt.Errorf("TEMPORAL_CONFIG_FILE/TEMPORAL_PROFILE: %w", err)
	}
	c.Temporal = profile
	c.TemporalAddress = profile.Address
	if c.TemporalAddress == "" && !dev {
		c.TemporalAddress = DefaultTemporalAddress
	}
	c.TemporalNamespace = cmp.Or(profile.Namespace, DefaultNamespace)
	// Converting now reads the certificate files, so that a wrong path is a
	// configuration error at start rather than a failure to connect later.
	if _, err := profile.ToClientOptions(envconfig.ToClientOptionsRequest{}); err != nil {
		return fmt.Errorf("TEMPORAL_TLS_*: %w", err)
	}
	return nil
}

// nonEmptyEnv treats an empty variable as unset, as the rest of the
// configuration does (envconfig alone would let TEMPORAL_ADDRESS="" blank
// the profile's address).
type nonEmptyEnv struct{}

func (nonEmptyEnv) Environ() []string { return os.Environ() }

func (nonEmptyEnv) LookupEnv(name string) (string, bool) {
	v := os.Getenv(name)
	return v, v != ""
}

// loadCodec reads the payload keys and the codec endpoint's settings.
// PAYLOAD_KEYS is not required here but by every Temporal client
// (app.ClientOptions), so that commands that never talk to Temporal
// (migrate, client) run without it.
func (c *Config) loadCodec() error {
	var errs []error
	if v := os.Getenv("PAYLOAD_KEYS"); v != "" {
		keys, err := codec.ParseKeys(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("PAYLOAD_KEYS: %w", err))
		}
		c.PayloadKeys = keys
	}
	c.CodecAuthToken = os.Getenv("CODEC_AUTH_TOKEN")
	if c.CodecAuthToken != "" && len(c.CodecAuthToken) < minCodecTokenLength {
		errs = append(errs, fmt.Errorf("CODEC_AUTH_TOKEN: at least %d characters (e.g. `openssl rand -base64 24`)", minCodecTokenLength))
	}
	if v := os.Getenv("CODEC_CORS_ORIGIN"); v != "" {
		for _, origin := range strings.Split(v, ",") {
			origin = strings.TrimSpace(origin)
			if !isOrigin(origin) {
				errs = append(errs, fmt.Errorf("CODEC_CORS_ORIGIN: %q is not an origin such as https://temporal-ui.example.com", origin))
				continue
			}
			c.CodecCORSOrigins = append(c.CodecCORSOrigins, origin)
		}
	}
	return errors.Join(errs...)
}

// isOrigin reports whether s is what a browser sends as Origin:
// scheme://host[:port], nothing more.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == "" && s == u.Scheme+"://"+u.Host
}

// temporalTLS is what the start-up log shows of the TLS settings: paths and
// names, never key material.
func temporalTLS(t *envconfig.ClientConfigTLS) slog.Value {
	if t == nil {
		return slog.StringValue("(unset: plaintext, or TLS implied by an API key)")
	}
	if t.Disabled {
		return slog.StringValue("disabled")
	}
	return slog.GroupValue(
		slog.String("client_cert", cmp.Or(t.ClientCertPath, setOrUnset(t.ClientCertData))),
		slog.String("client_key", cmp.Or(t.ClientKeyPath, setOrUnset(t.ClientKeyData))),
		slog.String("server_ca_cert", cmp.Or(t.ServerCACertPath, setOrUnset(t.ServerCACertData))),
		slog.String("server_name", t.ServerName),
		slog.Bool("disable_host_verification", t.DisableHostVerification),
	)
}

func setOrUnset(data []byte) string {
	if len(data) == 0 {
		return "(unset)"
	}
	return "(set inline)"
}

// keyIDs are what the start-up log shows of the payload keys.
func keyIDs(keys []codec.Key) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}
