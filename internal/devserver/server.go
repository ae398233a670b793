// Package devserver runs a real Temporal server (frontend, history, matching
// and worker services, backed by SQLite) and optionally its Web UI inside the
// current process, for the local dev stack, end-to-end tests and benchmarks.
// It needs no Docker, no download and no network access.
//
// It follows what `temporal server start-dev` (temporalio/cli,
// internal/devserver) does, reduced to what this service needs.
package devserver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ocelot/webhooks/internal/searchattr"
)

const (
	// DefaultNamespace is used when Options.Namespace is empty.
	DefaultNamespace = "default"
	// DefaultRetention is used when Options.Retention is zero. Ingestion
	// idempotency relies on Temporal refusing a duplicate workflow id while
	// the closed workflow is retained, and SPEC asks for at least 30 days.
	DefaultRetention = 31 * 24 * time.Hour

	clusterName = "active"

	// numHistoryShards is fixed when a database is created and can never
	// change for that database, so it is a constant rather than an option.
	// One shard is what the Temporal CLI dev server uses: every shard runs
	// its own queue processors that poll the database, and with SQLite
	// (a single connection, see sqlConfig) more shards add idle load without
	// adding write parallelism.
	numHistoryShards = 1

	// startTimeout bounds Start when ctx has no deadline.
	startTimeout = 2 * time.Minute
	pollInterval = 50 * time.Millisecond
)

// Options configures Start.
type Options struct {
	// DatabaseFile is the SQLite file that persists the server; "" keeps
	// everything in memory (tests). The file is created, with its schema,
	// if absent; its directory must exist. The visibility records (what
	// the UI lists and searches) go to a second file beside it, the same
	// name with "-visibility" before the extension.
	DatabaseFile string
	// Namespace is created if absent; default DefaultNamespace.
	Namespace string
	// Retention is the namespace's retention of closed workflows; default
	// DefaultRetention. It is applied to an existing namespace too.
	Retention time.Duration
	// FrontendAddress is the host:port the gRPC frontend listens on; "" or
	// port 0 picks a free port on 127.0.0.1 (or on the given host).
	FrontendAddress string
	// UIAddress is the host:port of the Web UI; "" disables the UI, port 0
	// picks a free port.
	UIAddress string
	// SearchAttributes are registered on the namespace. Registration is
	// idempotent: attributes that already exist with the same type are left
	// alone; one that exists with another type is an error.
	SearchAttributes map[string]enumspb.IndexedValueType
	// Logger receives the server's logs at Warn and above; nil discards them.
	Logger *slog.Logger
	// TLS serves the frontend over TLS; nil serves plaintext. The Web UI
	// is not configured for it: use one or the other.
	TLS *TLS
	// CodecEndpoint is the remote codec the Web UI decodes payloads through
	// (e.g. http://127.0.0.1:8080/codec); "" shows payloads as stored.
	CodecEndpoint string
}

// GCPercent is the garbage collector's target for a process that runs the
// dev server (app.SetGCPercent). Under load the server allocates about
// 70 MB/s, and each collection marks its whole live heap while slowing the
// requests running meanwhile: at Go's default of 100 a collection of about
// 250 ms started every 3 s, and the workflow starts sent during one waited
// longest. With 400 (and a smaller mutable-state cache, dynamicConfig)
// each collection marks less, and the marking work per byte allocated
// falls to about a quarter; the price is a larger heap, which `GOGC`
// overrides (docs/performance.md).
const GCPercent = 400

// Server is a running in-process Temporal server.
type Server struct {
	temporal     temporal.Server
	ui           *uiserver.Server
	uiDone       chan struct{}
	conn         *grpc.ClientConn
	frontendAddr string
	uiAddr       string
	namespace    string
	logger       serverLogger
	// databaseDSN and visibilityDSN open the server's two SQLite databases
	// beside the server's own connections, to tune the visibility indexes.
	databaseDSN   string
	visibilityDSN string

	stopOnce sync.Once
	stopErr  error
}

// FrontendAddress is the host:port clients dial (client.Options.HostPort).
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// UIAddress is the Web UI's host:port, e.g. "127.0.0.1:8233"; "" when the UI
// is disabled.
func (s *Server) UIAddress() string { return s.uiAddr }

// Namespace is the namespace Start created or found.
func (s *Server) Namespace() string { return s.namespace }

// Start starts the server and returns once the frontend answers, the
// namespace exists with the wanted retention, the search attributes are
// registered and usable in visibility queries, and the UI (if any) serves
// its index page. ctx bounds the wait; it does not stop the server later.
func Start(ctx context.Context, opts Options) (_ *Server, retErr error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Retention < 0 {
		return nil, fmt.Errorf("devserver: negative retention %v", opts.Retention)
	}
	transport := insecure.NewCredentials()
	if opts.TLS != nil {
		if opts.UIAddress != "" {
			return nil, errors.New("devserver: the Web UI is not configured for a TLS frontend")
		}
		tlsConf, err := opts.TLS.clientConfig()
		if err != nil {
			return nil, err
		}
		transport = credentials.NewTLS(tlsConf)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	logger := newServerLogger(opts.Logger)

	frontendIP, frontendPort, err := listenAddress(opts.FrontendAddress)
	if err != nil {
		return nil, fmt.Errorf("devserver: frontend address: %w", err)
	}
	s := &Server{
		logger:       logger,
		namespace:    opts.Namespace,
		frontendAddr: net.JoinHostPort(dialIP(frontendIP), strconv.Itoa(frontendPort)),
	}

	sqlConf, err := sqlConfig(opts.DatabaseFile)
	if err != nil {
		return nil, err
	}
	visConf := sqlConf
	if visibilityInOwnDatabase {
		visConf = visibilityConfig(sqlConf)
	}
	if opts.DatabaseFile != "" {
		for _, file := range []string{sqlConf.DatabaseName, visConf.DatabaseName} {
			if err := createDatabaseFile(ctx, file); err != nil {
				return nil, err
			}
		}
	}
	// Creating the namespace in the database before the server starts (as
	// the CLI does) makes it usable as soon as the frontend answers; one
	// registered through the API only becomes visible to every service after
	// their namespace caches refresh. It is a no-op when the namespace
	// exists; search attributes added to Options later are then registered
	// through the operator API below.
	nsConf, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace %q: %w", opts.Namespace, err)
	}
	nsConf.Detail.Config.Retention = durationpb.New(opts.Retention)
	if err := sqliteschema.CreateNamespaces(sqlConf, nsConf); err != nil {
		return nil, fmt.Errorf("devserver: creating namespace %q: %w", opts.Namespace, err)
	}
	s.databaseDSN = sqliteDSN(sqlConf.ConnectAttributes, sqlConf.DatabaseName)
	if visibilityInOwnDatabase {
		if err := setUpVisibilityDatabase(ctx, visConf, sqlConf); err != nil {
			return nil, err
		}
	}
	s.visibilityDSN = sqliteDSN(visConf.ConnectAttributes, visConf.DatabaseName)
	if err := tuneVisibilityIndexes(ctx, s.visibilityDSN, s.databaseDSN); err != nil {
		return nil, fmt.Errorf("devserver: visibility indexes: %w", err)
	}

	serverVisConf := visConf
	if visibilityInOwnDatabase && opts.DatabaseFile != "" {
		// A file in WAL mode of its own, where a second connection can
		// write beside the plugin's. Not in memory: connections to a
		// shared-cache database lock whole tables instead.
		prepared := *visConf
		prepared.PluginName = preparedVisibilityPlugin
		serverVisConf = &prepared
	}
	serverOpts, err := serverOptions(frontendIP, frontendPort, sqlConf, serverVisConf, opts.TLS, logger)
	if err != nil {
		return nil, err
	}
	srv, err := temporal.NewServer(serverOpts...)
	if err != nil {
		return nil, fmt.Errorf("devserver: creating temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Stop()
		return nil, fmt.Errorf("devserver: starting temporal server: %w", err)
	}
	s.temporal = srv
	defer func() {
		if retErr != nil {
			_ = s.Stop()
		}
	}()

	s.conn, err = grpc.NewClient(s.frontendAddr,
		grpc.WithTransportCredentials(transport),
		// Retry connecting quickly while the frontend comes up (gRPC's
		// default backoff starts at 1s and grows to 2 minutes).
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: pollInterval, Multiplier: 1.6, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: dialing frontend: %w", err)
	}
	if err := s.setUpNamespace(ctx, opts); err != nil {
		return nil, err
	}

	if opts.UIAddress != "" {
		if err := s.startUI(ctx, opts.UIAddress, opts.CodecEndpoint); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Stop stops the UI and the server, in about a second. It is safe to call
// more than once. Limits of the server code, not worked around: the SQLite
// plugin keeps its connection (and so an in-memory database's memory, or
// the file's handle) until the process exits, and a few of the server's
// internal gRPC clients keep retrying their stopped peers in the
// background (muted, see serverLogger). Neither matters for a dev stack or
// a test binary that starts a handful of servers.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.logger.mute()
		if s.ui != nil {
			s.ui.Stop()
			<-s.uiDone
		}
		if s.conn != nil {
			_ = s.conn.Close()
		}
		if s.temporal != nil {
			s.stopErr = s.temporal.Stop()
		}
	})
	return s.stopErr
}

// filePragmas are applied to a database file's connection (an in-memory
// database has no journal to tune).
var filePragmas = map[string]string{
	// WAL: a commit appends to the -wal file instead of rewriting pages
	// behind a rollback journal. Temporal commits several small
	// transactions per workflow task, so this is the main write-speed win;
	// it also lets a reader (the sqlite3 shell, a backup) look at the file
	// while the server writes.
	"journal_mode": "wal",
	// NORMAL in WAL mode syncs only at checkpoints, not at each commit. The
	// database cannot be corrupted; a power loss (not a crash of the
	// process) may lose the last commits — fine for a dev stack.
	"synchronous": "normal",
	// The plugin uses a single connection (MaxConns defaults to 1, and more
	// than one writer would trade throughput for SQLITE_BUSY retries), so
	// there is no lock contention inside the process. The timeout only makes
	// the server wait, instead of failing at once, while another process (a
	// sqlite3 shell) briefly holds the lock.
	"busy_timeout": "5000",
}

// databasePageSize is the page size of a database file the server creates.
// SQLite writes whole pages to the WAL, and most of what the server writes
// is a small row in each of several tables and indexes (a task, a state
// row, a queue position): with 1 KiB pages instead of the default 4 KiB,
// the bytes a workflow writes halved, 340 to 150 KiB per event in
// `make bench`, and so did the copying at each checkpoint
// (docs/performance.md).
const databasePageSize = 1024

// createDatabaseFile creates file, unless it exists, as an empty database
// with databasePageSize pages in WAL mode. The page size must be set before
// the first table, and the plugin applies its pragmas in name order, which
// puts journal_mode (after which the page size is fixed) first. A database
// made before keeps its page size.
func createDatabaseFile(ctx context.Context, file string) error {
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	db, err := sql.Open(sqliteDriver, "file:"+file+"?mode=rwc")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // the pragmas hold for one connection
	// The page size is fixed by the first write; the table is that write.
	for _, stmt := range []string{
		`PRAGMA page_size = ` + strconv.Itoa(databasePageSize),
		`PRAGMA journal_mode = wal`,
		`CREATE TABLE devserver_new_file (x)`,
		`DROP TABLE devserver_new_file`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("devserver: creating %s: %s: %w", file, stmt, err)
		}
	}
	return db.Close()
}

// sqlConfig returns the SQLite store configuration.
func sqlConfig(file string) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if file == "" {
		// The SQLite plugin keeps one connection per DSN open for the life
		// of the process (its pool never closes them), so each in-memory
		// server needs a distinct name or it would see another's data.
		var b [8]byte
		_, _ = rand.Read(b[:])
		conf.DatabaseName = "devserver-" + hex.EncodeToString(b[:])
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		return conf, nil
	}

	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("devserver: database file: %w", err)
	}
	if _, err := os.Stat(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("devserver: database file directory: %w", err)
	}
	conf.DatabaseName = abs
	conf.ConnectAttributes = map[string]string{
		"mode": "rwc",
		// setup makes the plugin create the schema when it first connects
		// and ignore "table already exists" on an existing database, so a
		// missing and an empty (0-byte) file are handled alike.
		"setup": "true",
	}
	maps.Copy(conf.ConnectAttributes, filePragmas)
	return conf, nil
}

// serverOptions builds the temporal.NewServer options for a single-process
// cluster: all four services in this process, each on its own loopback port,
// found through static host lists (no ringpop membership to join, which
// makes start faster and needs no membership ports).
func serverOptions(frontendIP string, frontendPort int, sqlConf, visConf *config.SQL, tlsOpts *TLS, logger serverLogger) ([]temporal.ServerOption, error) {
	const storeName, visibilityStoreName = "sqlite-default", "sqlite-visibility"
	loopback := "127.0.0.1"

	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = loopback
	if tlsOpts != nil {
		conf.Global.TLS = tlsOpts.rootTLS()
	}
	// Global.Metrics stays nil: metrics go to a no-op handler and no
	// Prometheus listener is opened. Global.PProf.Port stays 0: no pprof
	// listener either.
	conf.Persistence = config.Persistence{
		DefaultStore:     storeName,
		VisibilityStore:  visibilityStoreName,
		NumHistoryShards: numHistoryShards,
		DataStores: map[string]config.DataStore{
			storeName:           {SQL: sqlConf},
			visibilityStoreName: {SQL: visConf},
		},
	}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             net.JoinHostPort(dialIP(frontendIP), strconv.Itoa(frontendPort)),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The worker service (system workflows) dials the frontend through this.
	conf.PublicClient.HostPort = net.JoinHostPort(dialIP(frontendIP), strconv.Itoa(frontendPort))

	hosts := map[primitives.ServiceName]static.Hosts{}
	conf.Services = map[string]config.Service{}
	for _, name := range []primitives.ServiceName{
		primitives.FrontendService, primitives.HistoryService,
		primitives.MatchingService, primitives.WorkerService,
	} {
		var rpc config.RPC
		if name == primitives.FrontendService {
			rpc.GRPCPort, rpc.BindOnIP = frontendPort, frontendIP
			// rpc.HTTPPort stays 0: the HTTP API is off; the UI server
			// talks gRPC.
		} else {
			port, err := FreePort(loopback)
			if err != nil {
				return nil, fmt.Errorf("devserver: %s port: %w", name, err)
			}
			rpc.GRPCPort, rpc.BindOnIP = port, loopback
		}
		conf.Services[string(name)] = config.Service{RPC: rpc}
		hosts[name] = static.SingleLocalHost(net.JoinHostPort(loopback, strconv.Itoa(rpc.GRPCPort)))
	}

	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devserver: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("devserver: claim mapper: %w", err)
	}

	return []temporal.ServerOption{
		temporal.WithConfig(&conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	}, nil
}

// dynamicConfig holds the dev-server overrides of the server's defaults.
//
// Deliberately not set:
//   - frontend.enableUpdateWorkflowExecution: already true by default.
//   - frontend.workerVersioningDataAPIs: worker versioning is not used.
//   - system.forceSearchAttributesCacheRefreshOnRead: it refreshes the
//     cluster-wide search attribute definitions, which with SQL visibility
//     are only the fixed preallocated columns (Keyword01...). A custom
//     attribute is an alias in the namespace's record, picked up by the
//     namespace cache (2 s refresh); Start waits until a visibility query
//     accepts every attribute, so they are usable when it returns. The flag
//     would only add a database read to every search attribute lookup.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// The default, 10 visibility requests/s per namespace, is easily
		// hit by the Web UI (it polls lists and counts) plus tests polling
		// eventually consistent queries; throttled calls fail with
		// ResourceExhausted.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// The default caches 128k workflow mutable states per host, sized
		// for production hosts. 3072 instead of 8192 (the CLI's): a
		// workflow of this service closes in its first task, so the cache
		// mostly holds closed ones, and with 8192 they were most of the
		// server's live heap (110 MB), which every collection marks. Not
		// fewer: each workflow's first-task timeout timer fires 10 s after
		// its task started and needs the workflow's state; with 1024
		// entries, at 130 events/s the state had left the cache by then and
		// was read back from the database, a tenth of the server's CPU.
		// 3072 holds 10 s of workflows up to about 300 events/s, beyond
		// what a dev machine sustains (docs/performance.md).
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 3072,
		// One partition per task queue instead of four: with a single
		// matching host, partitions add forwarding hops between them
		// without adding capacity. Set from the first start of a database
		// file on, so no task is stranded in a partition later dropped.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
		// The transfer queue (which hands new workflow and activity tasks to
		// matching) polls the database at most 20 times a second by default,
		// adding up to 50 ms to each hop on a quiet server; 1000 cut one
		// event's ingest-to-receiver time from 52 to 20 ms
		// (docs/performance.md).
		dynamicconfig.TransferProcessorMaxPollRPS.Key(): 1000,
		// The visibility queue reads new tasks at most 4 times a second
		// instead of 20. A workflow that has closed by the time its start
		// task is read gets no start record (the server skips it; the close
		// record carries everything), so a short workflow costs one
		// visibility write instead of two. The price: under load the UI
		// lists a workflow up to 250 ms later. Nothing else waits on
		// visibility.
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key(): 4,
		// Each history queue keeps every task it has run in memory until
		// its next checkpoint (30 s by default), and walks all of them
		// each time it reads new tasks. Under steady load that walk grew
		// to a fifth of the server's CPU, and a workflow cost 1.5 to 2
		// times more half a minute into a run than in its first seconds.
		// A checkpoint every second keeps the walk short; its price is a
		// small write of the queue's state each second.
		dynamicconfig.TransferProcessorUpdateAckInterval.Key():   time.Second,
		dynamicconfig.TimerProcessorUpdateAckInterval.Key():      time.Second,
		dynamicconfig.VisibilityProcessorUpdateAckInterval.Key(): time.Second,
	}
}

// setUpNamespace waits for the frontend to answer for the namespace, then
// aligns its retention and registers missing search attributes.
func (s *Server) setUpNamespace(ctx context.Context, opts Options) error {
	wf := workflowservice.NewWorkflowServiceClient(s.conn)
	op := operatorservice.NewOperatorServiceClient(s.conn)

	var desc *workflowservice.DescribeNamespaceResponse
	err := poll(ctx, func() (err error) {
		desc, err = wf.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: opts.Namespace})
		return err
	})
	if err != nil {
		return fmt.Errorf("devserver: waiting for the frontend at %s: %w", s.frontendAddr, err)
	}

	// A namespace created by an earlier start with another retention.
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() != opts.Retention {
		_, err := wf.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
			Namespace: opts.Namespace,
			Config: &namespacepb.NamespaceConfig{
				WorkflowExecutionRetentionTtl: durationpb.New(opts.Retention),
			},
		})
		if err != nil {
			return fmt.Errorf("devserver: setting retention of namespace %q: %w", opts.Namespace, err)
		}
	}

	if len(opts.SearchAttributes) == 0 {
		return nil
	}
	added, err := searchattr.AddMissing(ctx, op, opts.Namespace, opts.SearchAttributes)
	if err != nil {
		return fmt.Errorf("devserver: %w", err)
	}
	if added {
		// The attributes added just now map to columns with no index yet.
		// Without one a search by them still works, only slower, so a
		// failure here is no reason to refuse to start: the next start
		// tries again.
		if err := tuneVisibilityIndexes(ctx, s.visibilityDSN, s.databaseDSN); err != nil {
			s.logger.log.Warn("devserver: indexing the search attributes just registered failed; searches by them scan until the next start", "error", err)
		}
	}

	// Wait until visibility queries accept every attribute: that is when
	// workflows can be started with them and found by them.
	query := searchattr.UsableQuery(opts.SearchAttributes)
	err = poll(ctx, func() error {
		_, err := wf.CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: opts.Namespace,
			Query:     query,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("devserver: waiting for search attributes to be usable: %w", err)
	}
	return nil
}

// startUI starts the Web UI on addr, decoding payloads through the remote
// codec at codecEndpoint (if any), and waits until it serves its index page.
func (s *Server) startUI(ctx context.Context, addr, codecEndpoint string) error {
	ip, port, err := listenAddress(addr)
	if err != nil {
		return fmt.Errorf("devserver: UI address: %w", err)
	}
	// ui.Start calls echo's Logger.Fatal (os.Exit) when it cannot listen,
	// so make sure the port is free first.
	hostPort := net.JoinHostPort(ip, strconv.Itoa(port))
	l, err := net.Listen("tcp", hostPort)
	if err != nil {
		return fmt.Errorf("devserver: UI address: %w", err)
	}
	_ = l.Close()

	ui, err := newUIServer(&uiconfig.Config{
		Host:                ip,
		Port:                port,
		TemporalGRPCAddress: s.frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    s.namespace,
		// The dev UI is served over plain HTTP: without this the browser
		// would not send back the CSRF cookie and every write (signal,
		// terminate...) would be refused.
		CORS:     uiconfig.CORS{CookieInsecure: true},
		HideLogs: true,
		// No network access: do not fetch release news.
		DisableNewsFetch: true,
		// The browser calls the endpoint itself, from the UI's origin.
		Codec: uiconfig.Codec{Endpoint: codecEndpoint},
	})
	if err != nil {
		return err
	}
	s.ui, s.uiDone = ui, make(chan struct{})
	go func() {
		defer close(s.uiDone)
		_ = ui.Start() // returns nil once Stop closes it
	}()
	s.uiAddr = net.JoinHostPort(dialIP(ip), strconv.Itoa(port))

	url := "http://" + s.uiAddr + "/"
	err = poll(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("devserver: waiting for the UI: %w", err)
	}
	return nil
}

// newUIServer wraps uiserver.NewServer, which panics on a bad configuration.
func newUIServer(conf *uiconfig.Config) (ui *uiserver.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("devserver: creating UI server: %v", r)
		}
	}()
	return uiserver.NewServer(uiserveroptions.WithConfigProvider(conf)), nil
}

// listenAddress parses a host:port to listen on. An empty address or host
// means 127.0.0.1 ("localhost" too: the server binds to IPs only); port 0
// (or none) picks a free port.
func listenAddress(addr string) (ip string, port int, err error) {
	host, portStr := "", "0"
	if addr != "" {
		if host, portStr, err = net.SplitHostPort(addr); err != nil {
			return "", 0, err
		}
	}
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("%q: host must be an IP address or localhost", addr)
	}
	if port, err = strconv.Atoi(portStr); err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", addr)
	}
	if port == 0 {
		if port, err = FreePort(host); err != nil {
			return "", 0, err
		}
	}
	return host, port, nil
}

// dialIP is the IP a local client dials to reach a listener on ip.
func dialIP(ip string) string {
	if parsed := net.ParseIP(ip); parsed != nil && parsed.IsUnspecified() {
		if parsed.To4() != nil {
			return "127.0.0.1"
		}
		return "::1"
	}
	return ip
}

// Ports handed out by FreePort lie below Linux's ephemeral range
// (32768-60999): a port the kernel picked for us there may be taken, before
// the server binds it, by the source port of any outgoing connection, and
// the server's listener would then fail (it cannot report that: its
// services log "fatal" and serve a nil listener). Outgoing connections
// never take ports below the range, so only another server picking the
// same random port can, which the check below makes rare.
const (
	freePortMin = 15000
	freePortMax = 32000
)

// FreePort returns a TCP port on ip that is free right now.
func FreePort(ip string) (int, error) {
	var err error
	for range 100 {
		port := freePortMin + mathrand.IntN(freePortMax-freePortMin)
		var l net.Listener
		if l, err = net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port))); err == nil {
			_ = l.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port between %d and %d: %w", freePortMin, freePortMax, err)
}

// poll calls f until it succeeds or ctx ends, and then returns f's last
// error along with ctx's.
func poll(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(pollInterval):
		}
	}
}
