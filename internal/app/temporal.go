package app

import (
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/ocelot/webhooks/internal/codec"
	"github.com/ocelot/webhooks/internal/config"
)

// ClientOptions are the options of every Temporal client the service
// creates (API, worker, dev stack, tests): the address and namespace, the
// connection security of Temporal's environment configuration (mTLS, API
// key, gRPC headers) and the payload codec.
func ClientOptions(cfg config.Config, logger *slog.Logger) (client.Options, error) {
	if len(cfg.PayloadKeys) == 0 {
		return client.Options{}, errors.New("configuration: PAYLOAD_KEYS: required, Temporal payloads are encrypted " +
			"(key-id:base64 of 32 random bytes, e.g. k1: followed by `openssl rand -base64 32`)")
	}
	payloads, err := codec.New(cfg.PayloadKeys)
	if err != nil {
		return client.Options{}, fmt.Errorf("configuration: PAYLOAD_KEYS: %w", err)
	}
	profile := cfg.Temporal
	profile.Address, profile.Namespace = cfg.TemporalAddress, cfg.TemporalNamespace
	// The profile's remote codec (TEMPORAL_CODEC_ENDPOINT) is for UIs and
	// the CLI; this process encrypts locally.
	opts, err := profile.ToClientOptions(envconfig.ToClientOptionsRequest{IncludeRemoteCodec: false})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal connection: %w", err)
	}
	// The SDK gzips every request by default, and the server then answers
	// in gzip too. Our payloads are encrypted, so they do not compress, and
	// the rest is small: gzip cost 6 % of the API process's CPU and a share
	// of the server's for nothing (docs/performance.md).
	opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	dc := codec.DataConverter(payloads)
	opts.DataConverter = dc
	// A failure's message and stack trace can quote what failed; they are
	// encrypted like payloads (the UI decodes them through the endpoint).
	opts.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	})
	opts.Logger = tlog.NewStructuredLogger(logger.With("component", "temporal-client"))
	return opts, nil
}
