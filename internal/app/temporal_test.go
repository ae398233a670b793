package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/ocelot/webhooks/internal/codec"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/devserver"
)

// cleanEnv empties every variable the service reads and sets the ones a
// Temporal client needs, so that each case configures only what it names.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, name := range config.Variables {
		t.Setenv(name, "")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no profile from this machine's home
	t.Setenv("ENCRYPTION_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	t.Setenv("PAYLOAD_KEYS", "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
}

// loadOptions reads the environment as `webhooks worker` does and returns
// its Temporal client options.
func loadOptions(t *testing.T) client.Options {
	t.Helper()
	cfg, err := config.Load(false)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	opts, err := ClientOptions(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("ClientOptions: %v", err)
	}
	return opts
}

// TestMutualTLSFromEnvironment runs the embedded Temporal server with a
// TLS frontend that requires client certificates, and connects to it as the
// service does, configured by Temporal's environment variables only.
func TestMutualTLSFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "test CA")
	ca.writeTo(t, dir, "ca")
	ca.issue(t, "localhost", true).writeTo(t, dir, "server")
	ca.issue(t, "webhooks-worker", false).writeTo(t, dir, "client")
	rogue := newCA(t, "rogue CA")
	rogue.issue(t, "intruder", false).writeTo(t, dir, "rogue")
	file := func(name string) string { return filepath.Join(dir, name) }

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{TLS: &devserver.TLS{
		CertFile: file("server.pem"), KeyFile: file("server.key"), CAFile: file("ca.pem"), RequireClientCert: true,
	}})
	if err != nil {
		t.Fatalf("start TLS dev server: %v", err)
	}
	defer srv.Stop()

	tests := []struct {
		name    string
		env     map[string]string
		connect bool
	}{
		{name: "client certificate", connect: true, env: map[string]string{
			"TEMPORAL_TLS_CLIENT_CERT_PATH": file("client.pem"), "TEMPORAL_TLS_CLIENT_KEY_PATH": file("client.key"),
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH": file("ca.pem"), "TEMPORAL_TLS_SERVER_NAME": "localhost",
		}},
		{name: "no client certificate", env: map[string]string{
			"TEMPORAL_TLS": "true", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": file("ca.pem"), "TEMPORAL_TLS_SERVER_NAME": "localhost",
		}},
		{name: "certificate of another CA", env: map[string]string{
			"TEMPORAL_TLS_CLIENT_CERT_PATH": file("rogue.pem"), "TEMPORAL_TLS_CLIENT_KEY_PATH": file("rogue.key"),
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH": file("ca.pem"), "TEMPORAL_TLS_SERVER_NAME": "localhost",
		}},
		{name: "plaintext", env: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("TEMPORAL_ADDRESS", srv.FrontendAddress())
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			opts := loadOptions(t)
			dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			c, err := client.DialContext(dialCtx, opts)
			if err == nil {
				defer c.Close()
				_, err = c.WorkflowService().DescribeNamespace(dialCtx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
			}
			if tt.connect && err != nil {
				t.Fatalf("got %v, want a connection over mTLS", err)
			}
			if !tt.connect && err == nil {
				t.Fatal("connected, want the server to refuse")
			}
		})
	}
}

// TestAPIKeyFromEnvironment checks that TEMPORAL_API_KEY reaches the
// server as a Bearer token, over TLS, as Temporal Cloud expects.
func TestAPIKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "test CA")
	ca.writeTo(t, dir, "ca")
	server := ca.issue(t, "localhost", true)
	frontend := &recordingFrontend{}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{server.tlsCert(t)}})))
	workflowservice.RegisterWorkflowServiceServer(gs, frontend)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(ln) }()
	defer gs.Stop()

	cleanEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", ln.Addr().String())
	t.Setenv("TEMPORAL_API_KEY", "cloud-api-key")
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", filepath.Join(dir, "ca.pem"))
	t.Setenv("TEMPORAL_TLS_SERVER_NAME", "localhost")
	opts := loadOptions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	if got := frontend.authorization(); got != "Bearer cloud-api-key" {
		t.Errorf("server got authorization %q, want the API key as a Bearer token", got)
	}

	// An API key alone turns TLS on: it is never sent in plaintext.
	cleanEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "acme.a1b2c.tmprl.cloud:7233")
	t.Setenv("TEMPORAL_API_KEY", "cloud-api-key")
	if opts := loadOptions(t); opts.ConnectionOptions.TLS == nil || opts.Credentials == nil {
		t.Errorf("got TLS %v credentials %v, want both", opts.ConnectionOptions.TLS, opts.Credentials)
	}
}

func TestClientOptionsEncryptPayloadsAndFailures(t *testing.T) {
	cfg := config.Config{TemporalAddress: "127.0.0.1:7233", TemporalNamespace: "default"}
	if _, err := ClientOptions(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "PAYLOAD_KEYS") {
		t.Errorf("without keys: got %v, want an error naming PAYLOAD_KEYS", err)
	}
	cfg.PayloadKeys = []codec.Key{{ID: "k1", Secret: make([]byte, codec.KeySize)}}
	opts, err := ClientOptions(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != "127.0.0.1:7233" || opts.Namespace != "default" || opts.ConnectionOptions.TLS != nil {
		t.Errorf("got %s %s TLS %v, want the configured address in plaintext", opts.HostPort, opts.Namespace, opts.ConnectionOptions.TLS)
	}
	if _, none := opts.ConnectionOptions.GrpcCompression.(*client.GrpcCompressionNone); !none {
		t.Errorf("gRPC compression = %T, want none: encrypted payloads do not compress", opts.ConnectionOptions.GrpcCompression)
	}
	p, err := opts.DataConverter.ToPayload("+15550001")
	if err != nil || string(p.Metadata[codec.MetadataEncoding]) != codec.EncodingEncrypted {
		t.Errorf("got payload %v, %v, want it encrypted", p, err)
	}
	failure := opts.FailureConverter.ErrorToFailure(errors.New("could not reach +15550001"))
	if strings.Contains(failure.GetMessage(), "+15550001") || failure.GetEncodedAttributes() == nil {
		t.Errorf("got failure message %q, want it moved into encrypted attributes", failure.GetMessage())
	}
	if err := opts.FailureConverter.FailureToError(failure); err == nil || !strings.Contains(err.Error(), "+15550001") {
		t.Errorf("decoded failure: got %v, want the original message", err)
	}
}

// recordingFrontend answers GetSystemInfo (what a client dials with) and
// keeps the authorization header it was sent.
type recordingFrontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	mu  sync.Mutex
	got string
}

func (f *recordingFrontend) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = strings.Join(md.Get("authorization"), ",")
	return &workflowservice.GetSystemInfoResponse{}, nil
}

func (f *recordingFrontend) authorization() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got
}

// keyPair is a certificate and its key, made for a test.
type keyPair struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) *keyPair {
	t.Helper()
	return makeCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
}

// issue signs a certificate for name. A server certificate also allows
// client authentication: the server's own system worker presents it.
func (ca *keyPair) issue(t *testing.T, name string, server bool) *keyPair {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.DNSNames = []string{name}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	return makeCert(t, tmpl, ca)
}

func makeCert(t *testing.T, tmpl *x509.Certificate, parent *keyPair) *keyPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &keyPair{cert: cert, der: der, key: key}
}

// writeTo writes name.pem (the certificate) and name.key into dir.
func (k *keyPair) writeTo(t *testing.T, dir, name string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{
		name + ".pem": {Type: "CERTIFICATE", Bytes: k.der},
		name + ".key": {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func (k *keyPair) tlsCert(t *testing.T) tls.Certificate {
	t.Helper()
	return tls.Certificate{Certificate: [][]byte{k.der}, PrivateKey: k.key, Leaf: k.cert}
}
