package devserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"go.temporal.io/server/common/config"
)

// TLS serves the frontend over TLS, as a secured production cluster does,
// so that tests can check the service's clients against one. Files are PEM.
type TLS struct {
	// CertFile and KeyFile are the frontend's certificate and key. The
	// server's own clients (its system worker, Start's namespace set-up)
	// present the same certificate, so it must allow client authentication
	// too when RequireClientCert is set.
	CertFile, KeyFile string
	// CAFile holds the CA that signed CertFile and, with RequireClientCert,
	// the CA client certificates must chain to.
	CAFile string
	// RequireClientCert makes it mutual TLS: a client without a certificate
	// signed by CAFile is refused.
	RequireClientCert bool
}

// rootTLS is the server configuration of t: TLS on the frontend only; the
// services talk to each other in plaintext on loopback.
func (t *TLS) rootTLS() config.RootTLS {
	client := config.ClientTLS{RootCAFiles: []string{t.CAFile}}
	return config.RootTLS{
		Frontend: config.GroupTLS{
			Server: config.ServerTLS{
				CertFile:          t.CertFile,
				KeyFile:           t.KeyFile,
				ClientCAFiles:     []string{t.CAFile},
				RequireClientAuth: t.RequireClientCert,
			},
			Client: client,
		},
		SystemWorker: config.WorkerTLS{CertFile: t.CertFile, KeyFile: t.KeyFile, Client: client},
	}
}

// clientConfig is the TLS configuration Start dials its own frontend with.
func (t *TLS) clientConfig() (*tls.Config, error) {
	if t.CertFile == "" || t.KeyFile == "" || t.CAFile == "" {
		return nil, errors.New("devserver: TLS needs CertFile, KeyFile and CAFile")
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("devserver: TLS certificate: %w", err)
	}
	ca, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, fmt.Errorf("devserver: TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("devserver: TLS CA %s: no PEM certificate", t.CAFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
