package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db"
)

// defaultAdminURL is the local PostgreSQL server the run creates its
// database on, unless BENCH_DATABASE_URL names another.
const defaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// benchRetrySchedule is the worker's RETRY_SCHEDULE: every healthy receiver
// answers 200, so a short schedule keeps a failed attempt (a bug) a visible
// tail rather than a hang; the black-holed webhook's events are terminated
// after their phase.
const benchRetrySchedule = "0s,1s,2s,5s"

// fanouts are the levels measured; each has its own client and receivers
// so that levels never mix.
var fanouts = []int{1, 10, 100}

// procNames are the processes whose CPU time and memory the report gives
// apart, besides the bench's own.
// postgres is the whole PostgreSQL server, found through the bench's
// connection when it runs on this machine.
var procNames = []string{"temporal", "api", "worker", "postgres"}

// env is the system under test and what the bench needs to drive it.
type env struct {
	runID      string
	apiURL     string
	ingestUser string
	ingestPass string
	clients    map[int]string // fan-out → client id
	// blackholeClient has one webhook, to the receiver that never answers.
	blackholeClient string
	namespace       string
	temporal        client.Client
	temporalAddr    string
	maxDrain        time.Duration
	recv            *receiver
	// The children; nil with -target.
	api, worker, temporalProc *child
	// pids are the processes of each of procNames: the children, or
	// -pids with -target.
	pids    map[string][]int
	dir     string
	dropDB  func() error
	closers []func()
}

// startEnv brings the stack up (or connects to -target) and creates one
// client per fan-out level with its webhooks.
func startEnv(ctx context.Context, s settings, out io.Writer) (e *env, err error) {
	e = &env{runID: randomHex(4), namespace: s.Namespace, clients: map[int]string{}, maxDrain: s.MaxDrain}
	defer func() {
		if err != nil {
			e.close(out)
		}
	}()
	if e.recv, err = startReceiver(s.Receivers, s.ReceiversURL); err != nil {
		return e, fmt.Errorf("receiver: %w", err)
	}
	e.closers = append(e.closers, e.recv.close)

	var databaseURL string
	if s.Target != "" {
		databaseURL, err = e.useTarget(ctx, s)
	} else {
		databaseURL, err = e.startStack(ctx, s, out)
	}
	if err != nil {
		return e, err
	}
	if err := e.createClients(ctx, databaseURL); err != nil {
		return e, err
	}
	fmt.Fprintf(out, "bench: stack up (API %s, Temporal %s, receivers %s)\n", e.apiURL, e.temporalAddr, e.recv.URL)
	return e, nil
}

// useTarget connects to a running service. Clients are created straight in
// its database (DATABASE_URL), which is why that must be given too.
func (e *env) useTarget(ctx context.Context, s settings) (string, error) {
	e.apiURL = strings.TrimSuffix(s.Target, "/")
	e.ingestUser = cmp.Or(os.Getenv("INGEST_USERNAME"), "ingest")
	e.ingestPass = os.Getenv("INGEST_PASSWORD")
	databaseURL := os.Getenv("DATABASE_URL")
	if e.ingestPass == "" || databaseURL == "" {
		return "", errors.New("-target needs INGEST_PASSWORD and DATABASE_URL (the target's database, to create the bench clients)")
	}
	e.pids, _ = parsePIDs(s.PIDs) // checked by parseFlags
	e.temporalAddr = s.Temporal
	return databaseURL, e.dialTemporal(ctx, s.Temporal, io.Discard)
}

// startStack runs the Temporal dev server, the API and the worker as child
// processes (the first the bench binary itself, the others the production
// binary), so that each one's CPU and memory are measured on its own.
func (e *env) startStack(ctx context.Context, s settings, out io.Writer) (string, error) {
	var err error
	if e.dir, err = os.MkdirTemp("", "webhooks-bench-"); err != nil {
		return "", err
	}
	e.closers = append(e.closers, func() { _ = os.RemoveAll(e.dir) })

	// Building takes a while on a cold cache: do it while the rest starts.
	bin := filepath.Join(e.dir, "webhooks")
	built := make(chan error, 1)
	go func() { built <- build(ctx, bin) }()

	databaseURL, err := e.createDatabase(ctx)
	if err != nil {
		return "", err
	}
	if err := e.startTemporal(ctx, s); err != nil {
		return "", err
	}
	logFile, err := os.Create(filepath.Join(e.dir, "client.log"))
	if err != nil {
		return "", err
	}
	e.closers = append(e.closers, func() { _ = logFile.Close() })
	if err := e.dialTemporal(ctx, e.temporalAddr, logFile); err != nil {
		return "", err
	}
	if err := <-built; err != nil {
		return "", err
	}

	port, err := freePort()
	if err != nil {
		return "", err
	}
	key, payloadKey := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(key)
	_, _ = rand.Read(payloadKey)
	e.ingestUser, e.ingestPass = "ingest", randomHex(16)
	e.apiURL = "http://127.0.0.1:" + strconv.Itoa(port)
	vars := []string{
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"DATABASE_URL=" + databaseURL,
		"TEMPORAL_ADDRESS=" + e.temporalAddr,
		"TEMPORAL_NAMESPACE=" + s.Namespace,
		"INGEST_USERNAME=" + e.ingestUser,
		"INGEST_PASSWORD=" + e.ingestPass,
		"ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key),
		// Payloads are encrypted as in production, so the figures include
		// the codec.
		"PAYLOAD_KEYS=bench:" + base64.StdEncoding.EncodeToString(payloadKey),
		"RETRY_SCHEDULE=" + benchRetrySchedule,
		"ALLOWED_PRIVATE_NETWORKS=127.0.0.0/8",
		"WORKER_MAX_CONCURRENT_ACTIVITIES=" + strconv.Itoa(s.Activities),
		"DELIVERY_TIMEOUT=" + s.DeliveryTimeout.String(),
		"LOG_LEVEL=warn",
		// The API and the worker would both take the default metrics
		// port; the bench reads no metrics.
		"METRICS_ADDR=",
	}
	if e.api, err = startChild(e.dir, bin, "serve", vars); err != nil {
		return "", err
	}
	if e.worker, err = startChild(e.dir, bin, "worker", vars); err != nil {
		return "", err
	}
	if err := e.waitReady(ctx); err != nil {
		return "", err
	}
	e.pids = map[string][]int{}
	for name, c := range map[string]*child{"temporal": e.temporalProc, "api": e.api, "worker": e.worker} {
		e.pids[name] = []int{c.cmd.Process.Pid}
	}
	return databaseURL, nil
}

func (e *env) dialTemporal(ctx context.Context, address string, logTo io.Writer) error {
	logger := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  address,
		Namespace: e.namespace,
		Logger:    tlog.NewStructuredLogger(logger),
		// As the service's own clients (app.ClientOptions), so that the
		// floors run on the same connection settings.
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}},
	})
	if err != nil {
		return fmt.Errorf("connect to temporal at %s: %w", address, err)
	}
	e.temporal = c
	return nil
}

// build compiles the production binary; the children run exactly it.
func build(ctx context.Context, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/ocelot/webhooks/cmd/webhooks")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/webhooks: %w\n%s", err, out)
	}
	return nil
}

// createDatabase makes a fresh database for this run on the server of
// BENCH_DATABASE_URL (its database name is ignored), dropped at the end.
func (e *env) createDatabase(ctx context.Context) (string, error) {
	admin := cmp.Or(os.Getenv("BENCH_DATABASE_URL"), defaultAdminURL)
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("BENCH_DATABASE_URL must be a postgres:// URL")
	}
	name := "webhooks_bench_" + e.runID
	u.Path = "/" + name
	databaseURL := u.String()
	if err := db.CreateDatabase(ctx, databaseURL); err != nil {
		return "", fmt.Errorf("PostgreSQL at %s: %w\nstart it with `make postgres`, or set BENCH_DATABASE_URL to a server where this user may CREATE DATABASE", u.Redacted(), err)
	}
	u.Path = "/postgres"
	adminURL := u.String()
	e.dropDB = func() error {
		conn, err := sql.Open("postgres", adminURL)
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE ends the connections a killed child may have left.
		_, err = conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)")
		return err
	}
	return databaseURL, nil
}

// waitReady polls the API's /readyz until it answers 200.
func (e *env) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(e.apiURL + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		for _, c := range []*child{e.api, e.worker} {
			if c.exited() {
				return fmt.Errorf("webhooks %s exited at start:\n%s", c.name, c.tail())
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("API not ready after a minute:\n%s", e.api.tail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// createClients creates one client per fan-out level, with that many
// webhooks, each to its own receiver path, and the noisy neighbour's client
// with one webhook to the receiver that never answers. Webhooks go through
// the API, as a customer would create them.
func (e *env) createClients(ctx context.Context, databaseURL string) error {
	conn, err := db.Open(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer conn.Close()
	if pm := postmasterOf(ctx, conn); pm > 0 && len(e.pids["postgres"]) == 0 {
		if e.pids == nil {
			e.pids = map[string][]int{}
		}
		e.pids["postgres"] = []int{pm}
	}
	// The API migrated the database before /readyz answered. Clients hold
	// only a key hash: the cipher is never used here.
	cipher, err := db.NewCipher(make([]byte, db.KeySize))
	if err != nil {
		return err
	}
	store := db.NewStore(conn, cipher)
	create := func(id string, urls []string) error {
		key := webhooks.NewAPIKey()
		if err := store.CreateClient(ctx, webhooks.Client{ID: id, Name: id, KeyHash: webhooks.HashAPIKey(key)}); err != nil {
			return fmt.Errorf("create client %s: %w", id, err)
		}
		for i, u := range urls {
			hook := map[string]any{
				"id":             fmt.Sprintf("hook-%03d", i),
				"matchingEvents": []string{string(webhooks.IncomingSmsReceived)},
				"url":            u,
			}
			if err := postJSON(ctx, http.DefaultClient, e.apiURL+"/api/v1/webhooks", id, key, hook, http.StatusCreated); err != nil {
				return fmt.Errorf("create webhook: %w", err)
			}
		}
		return nil
	}
	for _, n := range fanouts {
		id, urls := fmt.Sprintf("bench-%s-f%d", e.runID, n), []string{}
		for i := range n {
			urls = append(urls, fmt.Sprintf("%s/f%d/%d", e.recv.URL, n, i))
		}
		if err := create(id, urls); err != nil {
			return err
		}
		e.clients[n] = id
	}
	e.blackholeClient = fmt.Sprintf("bench-%s-blackhole", e.runID)
	return create(e.blackholeClient, []string{e.recv.URL + "/blackhole/0"})
}

// close stops everything in reverse order of start and drops the database.
func (e *env) close(out io.Writer) {
	for _, c := range []*child{e.api, e.worker} {
		if c != nil {
			c.stop()
		}
	}
	if e.temporal != nil {
		e.temporal.Close()
	}
	if e.temporalProc != nil {
		e.temporalProc.stop()
		if code := e.temporalProc.cmd.ProcessState.ExitCode(); code != 0 {
			fmt.Fprintf(out, "bench: temporal dev server exited with %d:\n%s\n", code, e.temporalProc.tail())
		}
	}
	if e.dropDB != nil {
		if err := e.dropDB(); err != nil {
			fmt.Fprintln(out, "bench: drop database:", err)
		}
	}
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// child is a process of the production binary, its output in a log file.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startChild(dir, bin, arg string, vars []string) (*child, error) {
	c := &child{name: arg, log: filepath.Join(dir, arg+".log"), done: make(chan struct{})}
	f, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	c.cmd = exec.Command(bin, arg)
	// Later entries win: the bench's settings override the caller's shell.
	c.cmd.Env = append(os.Environ(), vars...)
	c.cmd.Stdout, c.cmd.Stderr = f, f
	// Should the bench die without cleaning up, its children go too.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := c.cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start webhooks %s: %w", arg, err)
	}
	go func() {
		_ = c.cmd.Wait()
		_ = f.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop asks for a graceful shutdown, then kills after 10 seconds.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// tail is the end of the child's log, for an error message.
func (c *child) tail() string {
	data, _ := os.ReadFile(c.log)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// memory is a process's resident set now and at its peak (VmHWM), in bytes.
type memory struct{ rss, peak int64 }

// readMemory reads /proc/<pid>/status; zero when the process is gone.
func readMemory(pid int) memory {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memory{}
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch key {
		case "VmRSS":
			m.rss = kb << 10
		case "VmHWM":
			m.peak = kb << 10
		}
	}
	return m
}

// statFields are the fields of /proc/<pid>/stat after the command name
// (which may hold spaces): [0] is the state (field 3 of proc(5)), [1] the
// parent, [11] and [12] utime and stime, [13] and [14] cutime and cstime.
// Nil when the process is gone.
func statFields(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 15 {
		return nil
	}
	return f
}

// ticks sums fields of f, in clock ticks, as a duration.
func ticks(f []string, fields ...int) time.Duration {
	var sum int64
	for _, i := range fields {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		sum += n
	}
	return time.Duration(sum) * time.Second / 100 // USER_HZ is 100 on Linux
}

// readCPU is the CPU time (user + system) process pid has used so far.
func readCPU(pid int) time.Duration {
	if f := statFields(pid); f != nil {
		return ticks(f, 11, 12)
	}
	return 0
}

// readServerCPU is the CPU time a PostgreSQL server has used so far: its
// postmaster pid, every live child (a backend per connection, the WAL
// writer, the checkpointer) and the children that exited, which the
// postmaster's cutime and cstime keep.
func readServerCPU(pid int) time.Duration {
	f := statFields(pid)
	if f == nil {
		return 0
	}
	total := ticks(f, 11, 12, 13, 14)
	entries, _ := os.ReadDir("/proc")
	for _, entry := range entries {
		child, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		if cf := statFields(child); cf != nil && cf[1] == strconv.Itoa(pid) {
			total += ticks(cf, 11, 12)
		}
	}
	return total
}

// postmasterOf finds, on this machine, the PostgreSQL server conn is
// connected to: the parent of its backend. Zero when the server runs
// elsewhere (its backend is not in /proc).
func postmasterOf(ctx context.Context, conn *sqlx.DB) int {
	var backend int
	if err := conn.GetContext(ctx, &backend, `SELECT pg_backend_pid()`); err != nil {
		return 0
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(backend) + "/comm")
	f := statFields(backend)
	if err != nil || strings.TrimSpace(string(comm)) != "postgres" || f == nil {
		return 0
	}
	parent, _ := strconv.Atoi(f[1])
	return parent
}

// cpuTimes reads the CPU time used so far by this process and by the
// processes of each of procNames (summed; zero for none).
func (e *env) cpuTimes() []time.Duration {
	times := []time.Duration{readCPU(os.Getpid())}
	for _, name := range procNames {
		var d time.Duration
		for _, pid := range e.pids[name] {
			if name == "postgres" {
				d += readServerCPU(pid)
			} else {
				d += readCPU(pid)
			}
		}
		times = append(times, d)
	}
	return times
}

// peakMemory is the sum of the VmHWM of the processes of name.
func (e *env) peakMemory(name string) int64 {
	var n int64
	for _, pid := range e.pids[name] {
		n += readMemory(pid).peak
	}
	return n
}

// sampler records the largest resident set of each of procNames during a
// phase; VmHWM alone would only give the peak of the whole run.
type sampler struct {
	mu      sync.Mutex
	max     []int64
	stopped chan struct{}
}

func (e *env) startSampler() *sampler {
	s := &sampler{max: make([]int64, len(procNames)), stopped: make(chan struct{})}
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stopped:
				return
			case <-tick.C:
			}
			s.mu.Lock()
			for i, name := range procNames {
				var rss int64
				for _, pid := range e.pids[name] {
					rss += readMemory(pid).rss
				}
				s.max[i] = max(s.max[i], rss)
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// stop ends sampling and returns each process's largest sample, in the
// order of procNames.
func (s *sampler) stop() []int64 {
	close(s.stopped)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

func postJSON(ctx context.Context, c *http.Client, url, user, pass string, body any, want int) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, answer)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
