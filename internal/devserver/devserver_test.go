package devserver

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/config"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// The tests run a real server: no mocks.

const (
	taskQueue  = "devserver-test"
	signalName = "finish"
	queryState = "state"

	// The persistence test runs its first phase in a child process (the
	// test binary itself) so that the second start really reads the file
	// another process wrote, as `make run` does after a restart.
	envPhase1DB = "DEVSERVER_TEST_PHASE1_DB"
	envPhase1ID = "DEVSERVER_TEST_PHASE1_WORKFLOW_ID"
	// envLegacyDB makes the test binary a child process that writes a
	// database of the layout before visibilityInOwnDatabase.
	envLegacyDB = "DEVSERVER_TEST_LEGACY_DB"
)

var (
	keywordKey  = temporal.NewSearchAttributeKeyKeyword("DevTestKeyword")
	keywordsKey = temporal.NewSearchAttributeKeyKeywordList("DevTestKeywords")
	// extraKey is registered only on a restart, to exercise adding an
	// attribute to an existing namespace through the operator API.
	extraKey = temporal.NewSearchAttributeKeyKeyword("DevTestExtra")

	testAttributes = map[string]enumspb.IndexedValueType{
		keywordKey.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		keywordsKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
	}
)

func TestMain(m *testing.M) {
	if db := os.Getenv(envPhase1DB); db != "" {
		if err := persistencePhase1(db, os.Getenv(envPhase1ID)); err != nil {
			fmt.Fprintln(os.Stderr, "phase 1:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if db := os.Getenv(envLegacyDB); db != "" {
		if err := writeLegacyDatabase(db); err != nil {
			fmt.Fprintln(os.Stderr, "legacy database:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// greet is the trivial workflow of TestInMemory.
func greet(_ workflow.Context, name string) (string, error) {
	return "hello " + name, nil
}

// awaitSignal waits for the finish signal, under a long timer so that the
// persisted state includes a pending timer too.
func awaitSignal(ctx workflow.Context) (string, error) {
	state := "waiting"
	if err := workflow.SetQueryHandler(ctx, queryState, func() (string, error) { return state, nil }); err != nil {
		return "", err
	}
	var got string
	timedOut := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, signalName), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, &got)
	})
	sel.AddFuture(workflow.NewTimer(ctx, 24*time.Hour), func(workflow.Future) { timedOut = true })
	sel.Select(ctx)
	if timedOut {
		return "", errors.New("timer fired before the signal")
	}
	state = "done"
	return "got " + got, nil
}

func TestInMemory(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)

	began := time.Now()
	srv, err := Start(ctx, Options{SearchAttributes: testAttributes, Logger: testLogger()})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("in-memory Start took %v; process RSS after start: %s", time.Since(began).Round(time.Millisecond), rss())
	stopAtCleanup(t, srv)

	if srv.Namespace() != DefaultNamespace {
		t.Errorf("Namespace() = %q, want %q", srv.Namespace(), DefaultNamespace)
	}
	if srv.UIAddress() != "" {
		t.Errorf("UIAddress() = %q with the UI disabled", srv.UIAddress())
	}
	if host, _, err := net.SplitHostPort(srv.FrontendAddress()); err != nil || host != "127.0.0.1" {
		t.Errorf("FrontendAddress() = %q, want 127.0.0.1:<port> (%v)", srv.FrontendAddress(), err)
	}

	c := dial(t, srv)
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: srv.Namespace()})
	if err != nil {
		t.Fatalf("DescribeNamespace: %v", err)
	}
	if got := ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != DefaultRetention {
		t.Errorf("retention = %v, want %v", got, DefaultRetention)
	}

	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(greet)
	if err := w.Start(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	defer w.Stop()

	const id = "greet-1"
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			keywordKey.ValueSet("acme"),
			keywordsKey.ValueSet([]string{"wh-1", "wh-2"}),
		),
	}, greet, "dev")
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	if out != "hello dev" {
		t.Fatalf("workflow result = %q", out)
	}

	query := "DevTestKeyword = 'acme' AND DevTestKeywords = 'wh-2' AND ExecutionStatus = 'Completed'"
	waitForWorkflows(t, ctx, c, query, []string{id})
	// And a value the workflow does not have finds nothing.
	if n := count(t, ctx, c, "DevTestKeywords = 'wh-3'"); n != 0 {
		t.Errorf("count of DevTestKeywords = 'wh-3' is %d, want 0", n)
	}
}

func TestFilePersistence(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
	db := filepath.Join(t.TempDir(), "temporal.db")
	const id = "await-1"

	// Phase 1, in a child process: create the file, start a workflow that
	// waits for a signal, stop the server.
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envPhase1DB+"="+db, envPhase1ID+"="+id)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("phase 1 (child process): %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "phase 1:") {
			t.Log(strings.TrimSpace(line))
		}
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("database file after phase 1: %v", err)
	}

	checkVisibilityIndexes(t, ctx, db, 1)
	for _, file := range []string{db, visibilityFile(db)} {
		if got := queryInt(t, ctx, file, `PRAGMA page_size`); got != databasePageSize {
			t.Errorf("%s: page size %d, want %d", filepath.Base(file), got, databasePageSize)
		}
	}

	// Phase 2: start on the existing file in this process; the workflow is
	// still running and visibility still finds it by its attributes.
	began := time.Now()
	srv, err := Start(ctx, Options{DatabaseFile: db, SearchAttributes: testAttributes, Logger: testLogger()})
	if err != nil {
		t.Fatalf("Start on the existing file: %v", err)
	}
	t.Logf("file Start on an existing file took %v; process RSS: %s", time.Since(began).Round(time.Millisecond), rss())
	c := dial(t, srv)
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatalf("DescribeWorkflowExecution after restart: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("workflow status after restart = %v, want Running", st)
	}
	waitForWorkflows(t, ctx, c, "DevTestKeyword = 'persisted' AND ExecutionStatus = 'Running'", []string{id})
	c.Close()
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	// Phase 3: start again in the same process (a new port), registering
	// one more search attribute; the existing ones are a no-op. Then the
	// workflow completes on a signal.
	attrs := map[string]enumspb.IndexedValueType{extraKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD}
	for k, v := range testAttributes {
		attrs[k] = v
	}
	began = time.Now()
	srv, err = Start(ctx, Options{DatabaseFile: db, SearchAttributes: attrs, Logger: testLogger()})
	if err != nil {
		t.Fatalf("second Start on the existing file: %v", err)
	}
	t.Logf("file Start again in-process (adds one search attribute) took %v; process RSS: %s", time.Since(began).Round(time.Millisecond), rss())
	stopAtCleanup(t, srv)
	c = dial(t, srv)
	// The attribute registered through the API on this start has its index,
	// made while the server runs.
	checkVisibilityIndexes(t, ctx, db, 2)

	list, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: srv.Namespace()})
	if err != nil {
		t.Fatalf("ListSearchAttributes: %v", err)
	}
	for name, typ := range attrs {
		if got := list.GetCustomAttributes()[name]; got != typ {
			t.Errorf("search attribute %s = %v, want %v", name, got, typ)
		}
	}

	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(awaitSignal)
	w.RegisterWorkflow(greet)
	if err := w.Start(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	defer w.Stop()

	if err := c.SignalWorkflow(ctx, id, "", signalName, "go"); err != nil {
		t.Fatalf("SignalWorkflow: %v", err)
	}
	var result string
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &result); err != nil {
		t.Fatalf("workflow after signal: %v", err)
	}
	if result != "got go" {
		t.Fatalf("workflow result = %q, want %q", result, "got go")
	}

	// The attribute added on this start is usable at once.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    "greet-extra",
		TaskQueue:             taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(extraKey.ValueSet("x")),
	}, greet, "extra")
	if err != nil {
		t.Fatalf("ExecuteWorkflow with the added attribute: %v", err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("workflow with the added attribute: %v", err)
	}
	waitForWorkflows(t, ctx, c, "DevTestExtra = 'x'", []string{"greet-extra"})

	// The server writes its visibility records through one prepared
	// writer, shared by its services.
	if n := visibilityWritersOpen(visibilityFile(db)); n != 1 {
		t.Errorf("%d visibility writers open on the running server's database, want 1", n)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if n := visibilityWritersOpen(visibilityFile(db)); n != 0 {
		t.Errorf("%d visibility writers still open after Stop, want 0", n)
	}
}

// visibilityWritersOpen counts the open visibility writers on file.
func visibilityWritersOpen(file string) int {
	visibilityWriters.mu.Lock()
	defer visibilityWriters.mu.Unlock()
	n := 0
	for dsn := range visibilityWriters.open {
		if strings.HasPrefix(dsn, "file:"+file+"?") {
			n++
		}
	}
	return n
}

// persistencePhase1 runs in the child process of TestFilePersistence.
func persistencePhase1(db, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	began := time.Now()
	stack, err := startChildStack(ctx, db, awaitSignal)
	if err != nil {
		return err
	}
	defer stack.stop() //nolint:errcheck // a no-op after the stop below
	fmt.Printf("phase 1: file Start on a new file took %v; child RSS: %s\n", time.Since(began).Round(time.Millisecond), rss())
	c := stack.client

	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(keywordKey.ValueSet("persisted")),
	}, awaitSignal)
	if err != nil {
		return fmt.Errorf("ExecuteWorkflow: %w", err)
	}
	// Once the query answers, the first workflow task (timer, signal
	// channel) has been processed and persisted.
	for {
		v, err := c.QueryWorkflow(ctx, id, "", queryState)
		if err == nil {
			var state string
			if err := v.Get(&state); err != nil {
				return err
			}
			if state == "waiting" {
				break
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workflow never answered its query: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}

	began = time.Now()
	if err := stack.stop(); err != nil {
		return fmt.Errorf("Stop: %w", err)
	}
	fmt.Printf("phase 1: Stop took %v\n", time.Since(began).Round(time.Millisecond))
	return nil
}

// TestVisibilityMovesToItsOwnDatabase starts a server on a database made
// when the store kept the visibility records itself: the records move to
// the visibility database, and the UI's searches still find the workflows
// that closed before.
func TestVisibilityMovesToItsOwnDatabase(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
	db := filepath.Join(t.TempDir(), "temporal.db")
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envLegacyDB+"="+db)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("legacy database (child process): %v\n%s", err, out)
	}
	if _, err := os.Stat(visibilityFile(db)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the legacy layout made a visibility database (%v)", err)
	}
	// The workflow's and those of the server's own system workflows.
	records := countVisibilityRecords(t, ctx, db)
	if records < 1 {
		t.Fatalf("the legacy store holds %d visibility records", records)
	}

	srv, err := Start(ctx, Options{DatabaseFile: db, SearchAttributes: testAttributes, Logger: testLogger()})
	if err != nil {
		t.Fatalf("Start on the legacy database: %v", err)
	}
	stopAtCleanup(t, srv)
	if n := countVisibilityRecords(t, ctx, db); n != 0 {
		t.Errorf("the store still holds %d visibility records after the move", n)
	}
	if n := countVisibilityRecords(t, ctx, visibilityFile(db)); n < records {
		t.Errorf("the visibility database holds %d records, want the %d moved", n, records)
	}
	c := dial(t, srv)
	waitForWorkflows(t, ctx, c, "DevTestKeyword = 'before-the-move' AND ExecutionStatus = 'Completed'", []string{"legacy-1"})
	checkVisibilityIndexes(t, ctx, db, 1)
}

// writeLegacyDatabase runs in the child process of
// TestVisibilityMovesToItsOwnDatabase: one workflow, completed and listed,
// in a single database.
func writeLegacyDatabase(db string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	visibilityInOwnDatabase = false
	stack, err := startChildStack(ctx, db, greet)
	if err != nil {
		return err
	}
	defer stack.stop() //nolint:errcheck // a no-op after the stop below
	c := stack.client
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    "legacy-1",
		TaskQueue:             taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(keywordKey.ValueSet("before-the-move")),
	}, greet, "legacy")
	if err != nil {
		return err
	}
	if err := run.Get(ctx, nil); err != nil {
		return err
	}
	// The close record is written by the visibility queue, after the
	// workflow has closed. (By id: the server's own system workflows have
	// records too.)
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = 'legacy-1' AND ExecutionStatus = 'Completed'"})
		if err == nil && len(resp.GetExecutions()) == 1 {
			return stack.stop()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the close record never listed: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// childStack is what a test's child process runs: a server on a database
// file, a client, and a worker of one workflow.
type childStack struct {
	server   *Server
	client   client.Client
	worker   worker.Worker
	stopOnce sync.Once
	stopErr  error
}

func startChildStack(ctx context.Context, db string, workflow any) (*childStack, error) {
	srv, err := Start(ctx, Options{DatabaseFile: db, SearchAttributes: testAttributes, Logger: testLogger()})
	if err != nil {
		return nil, fmt.Errorf("Start: %w", err)
	}
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(), Logger: sdkLogger()})
	if err != nil {
		_ = srv.Stop()
		return nil, err
	}
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(workflow)
	if err := w.Start(); err != nil {
		c.Close()
		_ = srv.Stop()
		return nil, err
	}
	return &childStack{server: srv, client: c, worker: w}, nil
}

// stop stops the worker, the client and the server, once.
func (s *childStack) stop() error {
	s.stopOnce.Do(func() {
		s.worker.Stop()
		s.client.Close()
		s.stopErr = s.server.Stop()
	})
	return s.stopErr
}

// queryInt reads, read-only, the one integer that query returns from a
// database file.
func queryInt(t *testing.T, ctx context.Context, file, query string) int {
	t.Helper()
	db, err := sql.Open(sqliteDriver, sqliteDSN(map[string]string{"mode": "ro"}, file))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s on %s: %v", query, filepath.Base(file), err)
	}
	return n
}

func countVisibilityRecords(t *testing.T, ctx context.Context, file string) int {
	return queryInt(t, ctx, file, `SELECT COUNT(*) FROM executions_visibility`)
}

func TestUI(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uiAddr := l.Addr().String()
	_ = l.Close()

	began := time.Now()
	const codecEndpoint = "http://127.0.0.1:8080/codec"
	srv, err := Start(ctx, Options{Namespace: "ui-test", UIAddress: uiAddr, CodecEndpoint: codecEndpoint, Logger: testLogger()})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("in-memory Start with UI took %v; process RSS: %s", time.Since(began).Round(time.Millisecond), rss())
	stopAtCleanup(t, srv)
	if srv.UIAddress() != uiAddr {
		t.Fatalf("UIAddress() = %q, want %q", srv.UIAddress(), uiAddr)
	}

	status, ctype, body := get(t, ctx, "http://"+uiAddr+"/")
	if status != http.StatusOK {
		t.Fatalf("GET /: status %d\n%s", status, body)
	}
	if !strings.HasPrefix(ctype, "text/html") {
		t.Errorf("GET /: Content-Type %q, want text/html", ctype)
	}
	if !strings.Contains(strings.ToLower(body), "<html") {
		t.Errorf("GET /: body is not an HTML page:\n%.500s", body)
	}

	// The UI's API is proxied to the frontend over gRPC: the namespace the
	// server created is listed.
	status, _, body = get(t, ctx, "http://"+uiAddr+"/api/v1/namespaces")
	if status != http.StatusOK || !strings.Contains(body, `"ui-test"`) {
		t.Fatalf("GET /api/v1/namespaces: status %d, want 200 listing ui-test:\n%.1000s", status, body)
	}

	// The browser reads the codec endpoint from the UI's settings.
	status, _, body = get(t, ctx, "http://"+uiAddr+"/api/v1/settings")
	if status != http.StatusOK || !strings.Contains(body, `"Endpoint":"`+codecEndpoint+`"`) {
		t.Errorf("GET /api/v1/settings: status %d, want 200 naming the codec endpoint %s:\n%.1000s", status, codecEndpoint, body)
	}
}

func TestListenAddress(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ip      string
		port    int // -1: any free port
		wantErr bool
	}{
		{"", "127.0.0.1", -1, false},
		{"127.0.0.1:0", "127.0.0.1", -1, false},
		{"localhost:7233", "127.0.0.1", 7233, false},
		{":7233", "127.0.0.1", 7233, false},
		{"0.0.0.0:7233", "0.0.0.0", 7233, false},
		{"example.com:7233", "", 0, true},
		{"127.0.0.1", "", 0, true},
		{"127.0.0.1:x", "", 0, true},
	} {
		ip, port, err := listenAddress(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("listenAddress(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		if ip != tc.ip || (tc.port >= 0 && port != tc.port) || port <= 0 {
			t.Errorf("listenAddress(%q) = %s, %d; want %s, %d", tc.in, ip, port, tc.ip, tc.port)
		}
	}
	if got := dialIP("0.0.0.0"); got != "127.0.0.1" {
		t.Errorf("dialIP(0.0.0.0) = %s", got)
	}
}

// helpers

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// testLogger sends server warnings and errors to stderr (shown when a test
// fails or with -v). Not t.Log: the server may log after the test ends.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func sdkLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(testLogger())
}

func stopAtCleanup(t *testing.T, srv *Server) {
	t.Cleanup(func() {
		began := time.Now()
		if err := srv.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		t.Logf("Stop took %v", time.Since(began).Round(time.Millisecond))
	})
}

func dial(t *testing.T, srv *Server) client.Client {
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(), Logger: sdkLogger()})
	if err != nil {
		t.Fatalf("client.Dial(%s): %v", srv.FrontendAddress(), err)
	}
	t.Cleanup(c.Close)
	return c
}

func count(t *testing.T, ctx context.Context, c client.Client, query string) int64 {
	t.Helper()
	resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
	if err != nil {
		t.Fatalf("CountWorkflow(%q): %v", query, err)
	}
	return resp.GetCount()
}

// waitForWorkflows polls visibility (eventually consistent) until both
// CountWorkflow and ListWorkflow report exactly the workflows ids.
func waitForWorkflows(t *testing.T, ctx context.Context, c client.Client, query string, ids []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	var n int64
	for {
		n = count(t, ctx, c, query)
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			t.Fatalf("ListWorkflow(%q): %v", query, err)
		}
		got = got[:0]
		for _, e := range resp.GetExecutions() {
			got = append(got, e.GetExecution().GetWorkflowId())
		}
		slices.Sort(got)
		if n == int64(len(ids)) && slices.Equal(got, ids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("visibility query %q: count %d, list %v; want %v", query, n, got, ids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(t *testing.T, ctx context.Context, url string) (status int, contentType, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// rss reports the process's resident memory (Linux), or "?".
func rss() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "?"
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			fields := strings.Fields(v)
			if kb, err := strconv.Atoi(fields[0]); err == nil {
				return fmt.Sprintf("%d MiB", kb/1024)
			}
		}
	}
	return "?"
}

// customIndexName matches the shipped schema's index of a preallocated
// custom column, by_keyword_01 and the like; its groups spell the column
// (Keyword, 01) once the first is capitalised.
var customIndexName = regexp.MustCompile(`^by_(bool|datetime|double|int|keyword)_(\d\d)$`)

// checkVisibilityIndexes checks, on the visibility database of the store
// file the server made (and may be running on), what tuneVisibilityIndexes
// did: the preallocated
// columns that wantMapped Keyword attributes map to, and only those, keep
// their index, as the shipped schema defines it made partial; indexes on
// NOT NULL columns stay whole; a search by a mapped column uses its index;
// a dropped index of a mapped column comes back; a second pass changes
// nothing.
func checkVisibilityIndexes(t *testing.T, ctx context.Context, file string, wantMapped int) {
	t.Helper()
	dsn := sqliteDSN(map[string]string{"mode": "rw", "busy_timeout": "5000"}, visibilityFile(file))
	storeDSN := sqliteDSN(map[string]string{"mode": "ro"}, file)
	db, err := sql.Open(sqliteDriver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := sql.Open(sqliteDriver, storeDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	indexSQL := func() map[string]string {
		return indexDefinitions(t, ctx, db)
	}
	shipped := shippedVisibilityIndexes(t, ctx)

	mapped, err := mappedCustomColumns(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	var keywords []string
	for column := range mapped {
		if strings.HasPrefix(column, "Keyword") && !strings.HasPrefix(column, "KeywordList") {
			keywords = append(keywords, column)
		}
	}
	if len(keywords) != wantMapped {
		t.Fatalf("mapped Keyword columns %v, want %d", keywords, wantMapped)
	}

	before := indexSQL()
	custom := btreeCustomColumns()
	for index := range shipped {
		if m := customIndexName.FindStringSubmatch(index); m != nil && !custom[strings.ToUpper(m[1][:1])+m[1][1:]+m[2]] {
			t.Errorf("the shipped index %s is on a preallocated column the pass does not manage", index)
		}
	}
	for column := range custom {
		index := customColumnIndex(column)
		def, ok := before[index]
		if _, inSchema := shipped[index]; !inSchema {
			t.Errorf("the shipped schema has no index %s for %s", index, column)
		}
		switch {
		case mapped[column] && !ok:
			t.Errorf("mapped column %s has no index %s", column, index)
		case mapped[column] && def != shipped[index]+` WHERE "`+column+`" IS NOT NULL`:
			t.Errorf("index %s = %s\nwant the shipped %s, made partial", index, def, shipped[index])
		case !mapped[column] && ok:
			t.Errorf("unmapped column %s keeps its index %s", column, index)
		}
	}
	partial := 0
	for _, def := range before {
		if strings.Contains(def, " WHERE ") {
			partial++
		}
	}
	for _, full := range []string{"default_idx", "by_workflow_id", "by_status", "by_workflow_type"} {
		if def, ok := before[full]; !ok || def != shipped[full] {
			t.Errorf("index %s on a NOT NULL column: got %q, want it whole as shipped: %q", full, def, shipped[full])
		}
	}
	if partial < 20 || partial == len(before) {
		t.Errorf("%d of %d visibility indexes are partial; want most but not all", partial, len(before))
	}

	// A search by a mapped column uses its index.
	column := keywords[0]
	var plan strings.Builder
	rows, err := db.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT run_id FROM executions_visibility WHERE namespace_id = 'n' AND `+
		column+` = 'acme' ORDER BY COALESCE(close_time, '9999-12-31 23:59:59+00:00') DESC, start_time DESC, run_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "; ")
	}
	if err := closeRows(rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), customColumnIndex(column)) {
		t.Errorf("a search by %s does not use its index: %s", column, plan.String())
	}

	// A mapped column without an index (an attribute registered since the
	// last pass) gets it back, also while another connection writes (the
	// running server does, all the time); a second pass changes nothing.
	if _, err := db.ExecContext(ctx, `DROP INDEX `+customColumnIndex(column)); err != nil {
		t.Fatal(err)
	}
	writer, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	for _, stmt := range []string{`BEGIN IMMEDIATE`, `CREATE TABLE devserver_test_writer (x)`, `INSERT INTO devserver_test_writer VALUES (1)`} {
		if _, err := writer.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	tuned := make(chan error, 1)
	go func() { tuned <- tuneVisibilityIndexes(ctx, dsn, storeDSN) }()
	time.Sleep(300 * time.Millisecond) // the pass has begun and waits on the writer
	for _, stmt := range []string{`COMMIT`, `DROP TABLE devserver_test_writer`} {
		if _, err := writer.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-tuned; err != nil {
		t.Fatalf("pass after dropping %s, while another connection wrote: %v", customColumnIndex(column), err)
	}
	if err := tuneVisibilityIndexes(ctx, dsn, storeDSN); err != nil {
		t.Fatalf("second pass: %v", err)
	}
	// A store that cannot be read fails the pass; read as one without
	// namespaces, it would drop every mapped column's index.
	missing := sqliteDSN(map[string]string{"mode": "ro"}, filepath.Join(t.TempDir(), "missing.db"))
	if err := tuneVisibilityIndexes(ctx, dsn, missing); err == nil {
		t.Error("a pass with a store that cannot be opened succeeded")
	}
	if after := indexSQL(); !maps.Equal(before, after) {
		t.Errorf("the passes changed the indexes:\nbefore %v\nafter  %v", before, after)
	}
	t.Logf("%d visibility indexes (the schema ships %d), %d of them partial", len(before), len(shipped), partial)
}

// indexDefinitions returns the definition of each index of the visibility
// table, by name, its blanks collapsed (the shipped schema aligns its
// columns with spaces).
func indexDefinitions(t *testing.T, ctx context.Context, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		got[name] = strings.Join(strings.Fields(def), " ")
	}
	if err := closeRows(rows); err != nil {
		t.Fatal(err)
	}
	return got
}

// shippedVisibilityIndexes returns the visibility indexes exactly as the
// server's SQLite schema creates them, in a database of their own.
func shippedVisibilityIndexes(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "shipped.db")
	conf := &config.SQL{PluginName: sqliteplugin.PluginName, DatabaseName: file, ConnectAttributes: map[string]string{"mode": "rwc"}}
	if err := sqliteschema.SetupSchema(conf); err != nil {
		t.Fatalf("shipped schema: %v", err)
	}
	db, err := sql.Open(sqliteDriver, sqliteDSN(map[string]string{"mode": "ro"}, file))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return indexDefinitions(t, ctx, db)
}
