// Command cluster is `make cluster`: the production shape of the service on
// one machine without Docker, as docker-compose.yml describes it. A
// Temporal server on the local PostgreSQL, its Web UI, the API and two
// workers run as separate OS processes (internal/cluster), configured by
// the same variables as `make run`. Ctrl-C stops them all.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/cluster"
	"github.com/ocelot/webhooks/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Load(true)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if os.Getenv("TEMPORAL_ADDRESS") != "" {
		return errors.New("TEMPORAL_ADDRESS is set: make cluster runs its own Temporal server on PostgreSQL (unset it, or run `webhooks serve` and `webhooks worker` against yours)")
	}
	secrets, err := cfg.LocalSecrets(true)
	if err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	// The processes open their own connections; this one only prepares
	// the database.
	_, conn, err := app.OpenDevStore(ctx, cfg)
	if err != nil {
		return err
	}
	conn.Close()
	c, err := cluster.Start(ctx, cluster.Options{
		BinDir:        filepath.Dir(bin),
		Dir:           filepath.Join(cfg.DataDir, "cluster"),
		DatabaseURL:   cfg.DatabaseURL,
		Namespace:     cfg.TemporalNamespace,
		TemporalPort:  cfg.TemporalPort,
		UIAddr:        cfg.TemporalUIAddr,
		HTTPAddr:      cfg.HTTPAddr,
		MetricsAddr:   cfg.MetricsAddr,
		Env:           serviceEnv(cfg, secrets),
		DynamicConfig: "deploy/temporal/dynamicconfig.yaml",
	})
	if err != nil {
		return err
	}
	fmt.Print(banner(cfg, c))
	<-ctx.Done()
	fmt.Println("stopping the cluster")
	return c.Stop()
}

// serviceEnv is the environment of the API and the workers: the operator's,
// with what `make run` would default (the dev secrets kept under
// DEV_DATA_DIR, the dev ingest password, loopback deliveries) made explicit,
// since the production commands default none of them.
func serviceEnv(cfg config.Config, secrets []string) []string {
	env := append(os.Environ(), secrets...)
	env = append(env, "DATABASE_URL="+cfg.DatabaseURL, "INGEST_PASSWORD="+cfg.IngestPassword)
	if os.Getenv("ALLOWED_PRIVATE_NETWORKS") == "" {
		nets := make([]string, len(cfg.AllowedNetworks))
		for i, n := range cfg.AllowedNetworks {
			nets[i] = netip.Prefix.String(n)
		}
		env = append(env, "ALLOWED_PRIVATE_NETWORKS="+strings.Join(nets, ","))
	}
	return env
}

func banner(cfg config.Config, c *cluster.Cluster) string {
	var procs strings.Builder
	for _, p := range c.Processes() {
		fmt.Fprintf(&procs, "  %-16s pid %-8d log %s\n", p.Name, p.Pid(), p.LogPath)
	}
	return fmt.Sprintf(`
Webhook delivery cluster is up (Temporal on PostgreSQL, %[7]d history shards).

  API           %[1]s/api/v1
  Temporal UI   %[2]s   (decode payloads: log in once at %[1]s/codec/ with any user name and the token in %[6]s)
  Temporal      %[3]s, namespace %[4]q
  demo client   %[5]s : %[8]s
  ingest        %[9]s : %[10]s

%[11]s
Ctrl-C stops everything; deliveries in flight resume on the next start.
`, c.APIURL, c.UIURL, c.TemporalAddress, c.Namespace, cfg.DevClientID, cfg.LocalSecretSource("CODEC_AUTH_TOKEN", "codec.token"),
		cluster.HistoryShards, cfg.DevClientKey, cfg.IngestUsername, cfg.ShownIngestPassword(), procs.String())
}
