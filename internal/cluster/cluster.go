// Package cluster runs the production shape of the service without Docker,
// as docker-compose.yml describes it: a Temporal server of the pinned
// version on PostgreSQL (its schemas set up by the server module's own SQL
// tool, 4 history shards), the Temporal Web UI, `webhooks serve` and
// `webhooks worker` processes, each its own OS process. `make cluster` runs
// it; the fault tests kill and restart its processes.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"text/template"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ocelot/webhooks/internal/devserver"
	"github.com/ocelot/webhooks/internal/searchattr"
	"github.com/ocelot/webhooks/workflows"
)

// HistoryShards is fixed when Temporal's database is created: changing it
// later needs a new database.
const HistoryShards = 4

// Options describe one cluster.
type Options struct {
	// BinDir holds the webhooks, temporal-server, temporal-sql-tool and
	// temporal-ui binaries
	// (`make cluster` builds them).
	BinDir string
	// Dir receives the processes' configuration files and logs.
	Dir string
	// DatabaseURL locates the PostgreSQL server that keeps Temporal's two
	// databases (its user must be allowed to create them).
	DatabaseURL string
	// TemporalDatabase names Temporal's database; visibility goes to the
	// same name with "_visibility". Default "temporal".
	TemporalDatabase string
	Namespace        string
	// TemporalPort is the frontend's gRPC port; the server's other ports
	// follow it (as 7233-7239 and 6933-6939 in Temporal's own
	// configurations). 0 picks free ports.
	TemporalPort int
	// UIAddr is where the Web UI listens; "" runs none.
	UIAddr string
	// HTTPAddr is where the API listens (a port, not 0).
	HTTPAddr string
	// MetricsAddr is the API's /metrics; worker n serves on the port n
	// above it. "" serves none.
	MetricsAddr string
	// Workers is the number of `webhooks worker` processes (default 2).
	Workers int
	// Env is the environment of the API and the workers: the service's
	// variables (DATABASE_URL, ENCRYPTION_KEY, PAYLOAD_KEYS, ...); the
	// cluster adds where Temporal, the API and the metrics are.
	Env []string
	// DynamicConfig is the Temporal server's dynamic configuration file.
	DynamicConfig string
}

// Cluster is a running production-shaped stack.
type Cluster struct {
	APIURL          string
	TemporalAddress string
	UIURL           string
	Namespace       string

	Temporal *Process
	UI       *Process
	API      *Process
	Workers  []*Process
}

// Start sets up Temporal's schemas and starts every process, each waited
// for until it serves. When it fails, whatever it started is stopped.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.TemporalDatabase == "" {
		opts.TemporalDatabase = "temporal"
	}
	if opts.Workers == 0 {
		opts.Workers = 2
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	db, err := parseDatabaseURL(opts.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := setUpSchemas(opts.BinDir, filepath.Join(opts.Dir, "temporal-sql-tool.log"), db, opts.TemporalDatabase); err != nil {
		return nil, err
	}
	ports, err := choosePorts(opts.TemporalPort)
	if err != nil {
		return nil, err
	}
	if err := checkPorts(ports, opts); err != nil {
		return nil, err
	}
	c := &Cluster{Namespace: opts.Namespace, TemporalAddress: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Frontend))}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()

	serverConfig := filepath.Join(opts.Dir, "temporal.yaml")
	if err := writeServerConfig(serverConfig, serverSettings{portLayout: ports, DB: db, Database: opts.TemporalDatabase,
		Shards: HistoryShards, DynamicConfig: opts.DynamicConfig}); err != nil {
		return nil, err
	}
	c.Temporal = &Process{Name: "temporal-server", Path: filepath.Join(opts.BinDir, "temporal-server"),
		Args: []string{"--config-file", serverConfig, "--allow-no-auth", "start"}, Env: os.Environ(),
		LogPath: filepath.Join(opts.Dir, "temporal-server.log")}
	if err := c.Temporal.Start(); err != nil {
		return nil, err
	}
	if err := c.waitForTemporal(ctx); err != nil {
		return nil, err
	}

	env := append(append([]string(nil), opts.Env...),
		"TEMPORAL_ADDRESS="+c.TemporalAddress, "TEMPORAL_NAMESPACE="+opts.Namespace)
	for i := range opts.Workers {
		w := &Process{Name: fmt.Sprintf("worker-%d", i+1), Path: filepath.Join(opts.BinDir, "webhooks"), Args: []string{"worker"},
			Env:     append(append([]string(nil), env...), "REGISTER_SEARCH_ATTRIBUTES=true", "METRICS_ADDR="+shiftPort(opts.MetricsAddr, i+1)),
			LogPath: filepath.Join(opts.Dir, fmt.Sprintf("worker-%d.log", i+1))}
		c.Workers = append(c.Workers, w)
		if err := w.Start(); err != nil {
			return nil, err
		}
	}
	if err := c.WaitForWorkers(ctx, opts.Workers); err != nil {
		return nil, err
	}

	if opts.UIAddr != "" {
		c.UIURL = "http://" + opts.UIAddr
		env = append(env, "CODEC_CORS_ORIGIN="+c.UIURL)
	}
	c.APIURL = "http://" + opts.HTTPAddr
	c.API = &Process{Name: "api", Path: filepath.Join(opts.BinDir, "webhooks"), Args: []string{"serve"},
		Env:     append(env, "HTTP_ADDR="+opts.HTTPAddr, "METRICS_ADDR="+opts.MetricsAddr),
		LogPath: filepath.Join(opts.Dir, "api.log")}
	if err := c.API.Start(); err != nil {
		return nil, err
	}
	if err := c.WaitForAPI(ctx); err != nil {
		return nil, err
	}

	if opts.UIAddr != "" {
		uiRoot := filepath.Join(opts.Dir, "ui")
		if err := writeUIConfig(uiRoot, opts.UIAddr, c.TemporalAddress, opts.Namespace, c.APIURL+"/codec"); err != nil {
			return nil, err
		}
		c.UI = &Process{Name: "temporal-ui", Path: filepath.Join(opts.BinDir, "temporal-ui"),
			Args: []string{"--root", uiRoot, "--config", "config", "--env", "cluster", "start"}, Env: os.Environ(),
			LogPath: filepath.Join(opts.Dir, "temporal-ui.log")}
		if err := c.UI.Start(); err != nil {
			return nil, err
		}
		if err := WaitHTTP(ctx, c.UI, c.UIURL+"/"); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Stop stops the API, the workers, the UI and the Temporal server, in that
// order, each gracefully first.
func (c *Cluster) Stop() error {
	var errs []error
	for _, p := range append(append([]*Process{c.API}, c.Workers...), c.UI, c.Temporal) {
		if p != nil {
			errs = append(errs, p.Stop(20*time.Second))
		}
	}
	return errors.Join(errs...)
}

// Processes are every process of the cluster, for a banner or a clean-up.
func (c *Cluster) Processes() []*Process {
	var ps []*Process
	for _, p := range append([]*Process{c.Temporal, c.UI, c.API}, c.Workers...) {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// waitForTemporal waits until the frontend answers, then creates the
// namespace or aligns its retention: ingestion's idempotency relies on
// Temporal refusing a duplicate workflow id while the closed workflow is
// retained (SPEC 5), as long as the dev server's.
func (c *Cluster) waitForTemporal(ctx context.Context) error {
	return poll(ctx, c.Temporal, 2*time.Minute, func(ctx context.Context) error {
		nc, err := client.NewNamespaceClient(client.Options{HostPort: c.TemporalAddress})
		if err != nil {
			return err
		}
		defer nc.Close()
		retention := durationpb.New(devserver.DefaultRetention)
		err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: c.Namespace, WorkflowExecutionRetentionPeriod: retention})
		if _, exists := errors.AsType[*serviceerror.NamespaceAlreadyExists](err); exists {
			desc, err := nc.Describe(ctx, c.Namespace)
			if err != nil {
				return err
			}
			if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == devserver.DefaultRetention {
				return nil
			}
			return nc.Update(ctx, &workflowservice.UpdateNamespaceRequest{Namespace: c.Namespace,
				Config: &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: retention}})
		}
		return err
	})
}

// WaitForWorkers waits until n worker processes poll the delivery task
// queue, which they do once they registered the search attributes, and
// until visibility accepts those attributes: the API's first start of a
// workflow would otherwise be refused (503) for the seconds the server's
// namespace cache takes to see them.
func (c *Cluster) WaitForWorkers(ctx context.Context, n int) error {
	tc, err := client.DialContext(ctx, client.Options{HostPort: c.TemporalAddress, Namespace: c.Namespace})
	if err != nil {
		return err
	}
	defer tc.Close()
	return poll(ctx, nil, 2*time.Minute, func(ctx context.Context) error {
		for _, w := range c.Workers {
			select {
			case <-w.Exited():
				return fmt.Errorf("%s exited; its log ends:\n%s", w.Name, w.LogTail(20))
			default:
			}
		}
		resp, err := tc.DescribeTaskQueue(ctx, workflows.TaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		if err != nil {
			return err
		}
		if got := len(resp.GetPollers()); got < n {
			return fmt.Errorf("%d of %d workers polling %s", got, n, workflows.TaskQueue)
		}
		_, err = tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: c.Namespace, Query: searchattr.UsableQuery(workflows.SearchAttributes)})
		return err
	})
}

// WaitForAPI waits until the API answers /readyz with 200.
func (c *Cluster) WaitForAPI(ctx context.Context) error {
	return WaitHTTP(ctx, c.API, c.APIURL+"/readyz")
}

// WaitHTTP waits until u answers 200, for up to a minute, failing early
// with the end of p's log if p exits meanwhile.
func WaitHTTP(ctx context.Context, p *Process, u string) error {
	return poll(ctx, p, time.Minute, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		return nil
	})
}

// poll calls f until it succeeds, p exits (its log tail is then the
// error), or timeout passes.
func poll(ctx context.Context, p *Process, timeout time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var exited <-chan struct{}
	if p != nil {
		exited = p.Exited()
	}
	for {
		callCtx, cancelCall := context.WithTimeout(ctx, 5*time.Second)
		err := f(callCtx)
		cancelCall()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited while starting; its log ends:\n%s", p.Name, p.LogTail(20))
		case <-ctx.Done():
			name := "cluster"
			if p != nil {
				name = p.Name
			}
			return fmt.Errorf("%s not ready: %w", name, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// database is where Temporal's databases live.
type database struct {
	Host, Port, User, Password string
}

func parseDatabaseURL(databaseURL string) (database, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		// Never the URL itself: it may hold a password.
		return database{}, errors.New("DATABASE_URL is not a postgres:// URL")
	}
	d := database{Host: u.Hostname(), Port: u.Port(), User: u.User.Username()}
	d.Password, _ = u.User.Password()
	if d.Host == "" {
		d.Host = "127.0.0.1"
	}
	if d.Port == "" {
		d.Port = "5432"
	}
	if d.User == "" {
		d.User = "postgres"
	}
	return d, nil
}

// setUpSchemas creates Temporal's two databases and brings their schemas
// to this server version with the server module's SQL tool
// (temporal-sql-tool, as Temporal's docs describe, with the schemas it
// embeds); every step skips what is already there, so it runs on every
// start.
func setUpSchemas(binDir, logPath string, db database, name string) error {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	for _, target := range []struct{ db, schema string }{
		{name, "postgresql/v12/temporal"},
		{name + "_visibility", "postgresql/v12/visibility"},
	} {
		for _, step := range [][]string{
			{"create-database"},
			{"setup-schema", "--version", "0.0"},
			{"update-schema", "--schema-name", target.schema},
		} {
			cmd := exec.Command(filepath.Join(binDir, "temporal-sql-tool"), step...)
			// The password goes by the environment, not the command line
			// that ps shows.
			cmd.Env = append(os.Environ(), "SQL_PLUGIN=postgres12", "SQL_HOST="+db.Host, "SQL_PORT="+db.Port,
				"SQL_USER="+db.User, "SQL_PASSWORD="+db.Password, "SQL_DATABASE="+target.db)
			cmd.Stdout, cmd.Stderr = logFile, logFile
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("temporal schema %s: %s: %w (see %s)", target.db, step[0], err, logPath)
			}
		}
	}
	return nil
}

type portLayout struct {
	Frontend, FrontendHTTP, History, Matching, Worker                           int
	FrontendMembership, HistoryMembership, MatchingMembership, WorkerMembership int
}

func choosePorts(frontend int) (portLayout, error) {
	if frontend != 0 {
		// Temporal's own layout: 7233 frontend, 7234 history, 7235
		// matching, 7239 worker, 7243 HTTP, 6933... membership.
		return portLayout{frontend, frontend + 10, frontend + 1, frontend + 2, frontend + 6,
			frontend - 300, frontend - 299, frontend - 298, frontend - 294}, nil
	}
	var ps portLayout
	for _, p := range []*int{&ps.Frontend, &ps.FrontendHTTP, &ps.History, &ps.Matching, &ps.Worker,
		&ps.FrontendMembership, &ps.HistoryMembership, &ps.MatchingMembership, &ps.WorkerMembership} {
		port, err := devserver.FreePort("127.0.0.1")
		if err != nil {
			return ps, err
		}
		*p = port
	}
	return ps, nil
}

type serverSettings struct {
	portLayout
	DB            database
	Database      string
	Shards        int
	DynamicConfig string
}

// serverTemplate follows the server's config/development-postgres12.yaml.
// Each of the server's four services opens its own pools, so these sizes
// count four times against PostgreSQL's max_connections (100 by default).
var serverTemplate = template.Must(template.New("temporal.yaml").Parse(`# Written by internal/cluster on every start.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: {{.Shards}}
  datastores:
    postgres-default:
      sql:
        pluginName: postgres12
        databaseName: {{printf "%q" .Database}}
        connectAddr: "{{.DB.Host}}:{{.DB.Port}}"
        connectProtocol: tcp
        user: {{printf "%q" .DB.User}}
        password: {{printf "%q" .DB.Password}}
        maxConns: 10
        maxIdleConns: 10
        maxConnLifetime: 1h
    postgres-visibility:
      sql:
        pluginName: postgres12
        databaseName: {{printf "%q" (print .Database "_visibility")}}
        connectAddr: "{{.DB.Host}}:{{.DB.Port}}"
        connectProtocol: tcp
        user: {{printf "%q" .DB.User}}
        password: {{printf "%q" .DB.Password}}
        maxConns: 2
        maxIdleConns: 2
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc: {grpcPort: {{.Frontend}}, membershipPort: {{.FrontendMembership}}, bindOnLocalHost: true, httpPort: {{.FrontendHTTP}}}
  matching:
    rpc: {grpcPort: {{.Matching}}, membershipPort: {{.MatchingMembership}}, bindOnLocalHost: true}
  history:
    rpc: {grpcPort: {{.History}}, membershipPort: {{.HistoryMembership}}, bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: {{.Worker}}, membershipPort: {{.WorkerMembership}}, bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:{{.Frontend}}"
dcRedirectionPolicy:
  policy: noop
{{- if .DynamicConfig}}
dynamicConfigClient:
  filepath: {{printf "%q" .DynamicConfig}}
  pollInterval: 10s
{{- end}}
`))

func writeServerConfig(path string, s serverSettings) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) // it holds the database password
	if err != nil {
		return err
	}
	if err := serverTemplate.Execute(f, s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var uiTemplate = template.Must(template.New("ui.yaml").Parse(`# Written by internal/cluster on every start.
temporalGrpcAddress: "{{.Temporal}}"
host: "{{.Host}}"
port: {{.Port}}
enableUi: true
defaultNamespace: {{printf "%q" .Namespace}}
cors:
  cookieInsecure: true
codec:
  endpoint: "{{.Codec}}"
  includeCredentials: true
`))

func writeUIConfig(root, addr, temporal, namespace, codec string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("TEMPORAL_UI_ADDR %s: %w", addr, err)
	}
	dir := filepath.Join(root, "config")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "cluster.yaml"))
	if err != nil {
		return err
	}
	err = uiTemplate.Execute(f, map[string]string{"Temporal": temporal, "Host": host, "Port": port, "Namespace": namespace, "Codec": codec})
	return errors.Join(err, f.Close())
}

// checkPorts reports, before anything starts, an address two processes
// would share or one that is taken, naming the variable that chooses it:
// the server and the UI only log such a failure, after a while.
func checkPorts(ports portLayout, opts Options) error {
	type use struct{ addr, by string }
	var uses []use
	for _, p := range []struct {
		port int
		name string
	}{{ports.Frontend, "frontend"}, {ports.FrontendHTTP, "frontend HTTP"}, {ports.History, "history"},
		{ports.Matching, "matching"}, {ports.Worker, "worker service"}, {ports.FrontendMembership, "frontend membership"},
		{ports.HistoryMembership, "history membership"}, {ports.MatchingMembership, "matching membership"},
		{ports.WorkerMembership, "worker service membership"}} {
		uses = append(uses, use{net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)), "TEMPORAL_PORT (the Temporal server's " + p.name + " port)"})
	}
	uses = append(uses, use{opts.HTTPAddr, "HTTP_ADDR"})
	if opts.UIAddr != "" {
		uses = append(uses, use{opts.UIAddr, "TEMPORAL_UI_ADDR"})
	}
	if opts.MetricsAddr != "" {
		for i := 0; i <= opts.Workers; i++ {
			uses = append(uses, use{shiftPort(opts.MetricsAddr, i), "METRICS_ADDR (and the workers' ports after it)"})
		}
	}
	seen := map[string]string{}
	for _, u := range uses {
		_, port, err := net.SplitHostPort(u.addr)
		if err != nil {
			return fmt.Errorf("%s %s: %w", u.by, u.addr, err)
		}
		if other, dup := seen[port]; dup && port != "0" {
			return fmt.Errorf("%s and %s both take port %s; choose other ports", other, u.by, port)
		}
		seen[port] = u.by
		ln, err := net.Listen("tcp", u.addr)
		if err != nil {
			return fmt.Errorf("%s: %s is not free: %w", u.by, u.addr, err)
		}
		ln.Close()
	}
	return nil
}

// shiftPort is addr with its port n higher; "" stays "".
func shiftPort(addr string, n int) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	p, err := strconv.Atoi(port)
	if err != nil || p == 0 {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(p+n))
}
