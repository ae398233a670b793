package e2e

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/internal/cluster"
	"github.com/ocelot/webhooks/internal/codec"
	"github.com/ocelot/webhooks/internal/devserver"
	"github.com/ocelot/webhooks/internal/stack"
)

// Binaries of the production shape, built once per run of this package as
// `make cluster` builds them.
var (
	binariesOnce sync.Once
	binariesDir  string
	binariesErr  error
)

var clusterBinaries = map[string]string{
	"webhooks":          "../cmd/webhooks",
	"devstack":          "../cmd/devstack",
	"temporal-server":   "go.temporal.io/server/cmd/server",
	"temporal-sql-tool": "go.temporal.io/server/cmd/tools/sql",
	"temporal-ui":       "github.com/temporalio/ui-server/v2/cmd/server",
}

func buildBinaries(t *testing.T) string {
	t.Helper()
	binariesOnce.Do(func() {
		if binariesDir, binariesErr = os.MkdirTemp("", "webhooks-e2e-bin-"); binariesErr != nil {
			return
		}
		for name, pkg := range clusterBinaries {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binariesDir, name), pkg).CombinedOutput()
			if err != nil {
				binariesErr = fmt.Errorf("build %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if binariesErr != nil {
		t.Fatal(binariesErr)
	}
	return binariesDir
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	port, err := devserver.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// clusterEnv is a production-shaped cluster (internal/cluster) on its own
// Temporal databases, with the harness's helpers pointed at its API.
type clusterEnv struct {
	*env
	cluster *cluster.Cluster
}

func startCluster(t *testing.T, retrySchedule string) *clusterEnv {
	t.Helper()
	bin := buildBinaries(t)
	databaseURL := dbtest.URL(t)
	key := dbtest.TestKey()
	cipher, err := db.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Open(context.Background(), databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	temporalDB := fmt.Sprintf("temporal_test_%d", rand.Uint32())
	t.Cleanup(func() { dropDatabases(t, temporalDB, temporalDB+"_visibility") })
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{
		BinDir:           bin,
		Dir:              dir,
		DatabaseURL:      dbtest.AdminURL(),
		TemporalDatabase: temporalDB,
		Namespace:        "default",
		UIAddr:           freeLoopback(t),
		HTTPAddr:         freeLoopback(t),
		DynamicConfig:    "../deploy/temporal/dynamicconfig.yaml",
		Env: []string{
			"DATABASE_URL=" + databaseURL,
			"ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key),
			"PAYLOAD_KEYS=test-1:" + base64.StdEncoding.EncodeToString(testPayloadKeys[0].Secret),
			"CODEC_AUTH_TOKEN=" + codecToken,
			"INGEST_USERNAME=" + ingestUser, "INGEST_PASSWORD=" + ingestPass,
			"ALLOWED_PRIVATE_NETWORKS=127.0.0.0/8",
			"RETRY_SCHEDULE=" + retrySchedule,
			"DELIVERY_TIMEOUT=5s",
			"LOG_LEVEL=warn",
			"PATH=" + os.Getenv("PATH"),
		},
	})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range c.Processes() {
				t.Logf("%s log ends:\n%s", p.Name, p.LogTail(30))
			}
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
	})
	cc, err := codec.New(testPayloadKeys)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := client.Dial(client.Options{HostPort: c.TemporalAddress, Namespace: "default", DataConverter: codec.DataConverter(cc)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	return &clusterEnv{
		env:     &env{t: t, store: db.NewStore(conn, cipher), stack: &stack.Stack{APIURL: c.APIURL, Client: tc}},
		cluster: c,
	}
}

func dropDatabases(t *testing.T, names ...string) {
	admin, err := sql.Open("postgres", dbtest.AdminURL())
	if err != nil {
		t.Error(err)
		return
	}
	defer admin.Close()
	for _, name := range names {
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	}
}

// ingestRetrying is a producer that retries (same eventId) until it hears
// 202, as SPEC 5 asks of producers on a 503 or a refused connection.
func (e *env) ingestRetrying(clientID, eventID string, deadline time.Time) (accepted, int) {
	e.t.Helper()
	tries := 0
	for {
		tries++
		status, body, err := e.tryIngest(clientID, eventID)
		if err == nil && status == http.StatusAccepted {
			var a accepted
			if jsonErr := json.Unmarshal(body, &a); jsonErr != nil {
				e.t.Errorf("ingest answer %s: %v", body, jsonErr)
			}
			return a, tries
		}
		if err == nil && status != http.StatusServiceUnavailable {
			e.t.Errorf("ingest %s: got %d %s, want 202 or 503", eventID, status, body)
			return accepted{}, tries
		}
		e.failedIngests.Add(1)
		if time.Now().After(deadline) {
			e.t.Errorf("ingest %s: still failing after %d tries: %d %v", eventID, tries, status, err)
			return accepted{}, tries
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ingestSeries ingests events prefix-0 ... prefix-(n-1) for clientID with
// ingestRetrying, and returns each event's workflow id by event id.
func (e *env) ingestSeries(clientID, prefix string, n int) map[string]string {
	e.t.Helper()
	ids := map[string]string{}
	for i := range n {
		eventID := fmt.Sprintf("%s-%d", prefix, i)
		a, _ := e.ingestRetrying(clientID, eventID, time.Now().Add(time.Minute))
		ids[eventID] = a.WorkflowID
	}
	return ids
}

func (e *env) tryIngest(clientID, eventID string) (int, []byte, error) {
	body := fmt.Sprintf(`{"clientId":%q,"event":{"name":"PhoneNumber.optedIn","eventId":%q,"phoneNumber":"+15550009","triggerType":"Manual"}}`, clientID, eventID)
	req, err := http.NewRequest("POST", e.stack.APIURL+"/api/v1/events", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(ingestUser, ingestPass)
	req.Header.Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// tally counts what a fault did to a set of accepted events at one
// receiver: requests sent, events delivered (all their workflows ended
// delivered), duplicates (requests beyond one success per event) and lost.
type tally struct{ sent, delivered, duplicated, lost int }

func (e *env) tallyEvents(workflowIDs map[string]string, requestsOf func(eventID string) int) tally {
	e.t.Helper()
	var tl tally
	for eventID, workflowID := range workflowIDs {
		r := e.result(workflowID)
		n := requestsOf(eventID)
		tl.sent += n
		if len(r.Deliveries) == 1 && r.Deliveries[0].State == "delivered" && n > 0 {
			tl.delivered++
			tl.duplicated += n - r.Deliveries[0].Attempts
			continue
		}
		tl.lost++
		e.t.Errorf("event %s: %s after %d requests, want delivered", eventID, states(r), n)
	}
	return tl
}

func (tl tally) String() string {
	return fmt.Sprintf("sent %d requests, %d events delivered, %d duplicated, %d lost", tl.sent, tl.delivered, tl.duplicated, tl.lost)
}

// TestClusterSurvivesKilledProcesses runs the production shape (Temporal
// on PostgreSQL, the API and two workers as separate processes) and kills
// each kind of process with SIGKILL at its worst moment. Every accepted
// event must reach its receiver; duplicates (at-least-once) are counted.
func TestClusterSurvivesKilledProcesses(t *testing.T) {
	e := startCluster(t, "0s,1s,1s,1s,1s,1s,1s,1s")
	clientID, key := e.client("acme")

	t.Run("worker killed with POSTs in flight", func(t *testing.T) {
		e.t = t
		rcv := newAnswering(t, 200)
		rcv.hold = make(chan struct{})
		e.createWebhook(clientID, key, hookBody("held", rcv.URL, "PhoneNumber.optedIn"))
		defer e.do("DELETE", "/api/v1/webhooks/held", clientID, key, nil)
		const events = 6
		ids := e.ingestSeries(clientID, "held", events)
		waitFor(t, "every first POST held by the receiver", func() bool { return len(rcv.requests()) >= events })
		killed := e.cluster.Workers[0]
		if err := killed.Kill(); err != nil {
			t.Fatal(err)
		}
		close(rcv.hold) // answers now go to a worker that is gone, or to the survivor
		start := time.Now()
		tl := e.tallyEvents(ids, func(id string) int { return countHeader(rcv.requests(), id) })
		recovered := time.Since(start)
		if err := killed.Start(); err != nil {
			t.Fatal(err)
		}
		if err := e.cluster.WaitForWorkers(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		a := e.ingest(clientID, "", map[string]any{"name": "PhoneNumber.optedIn", "phoneNumber": "+1", "triggerType": "Manual"})
		if r := e.result(a.WorkflowID); len(r.Deliveries) != 1 || r.Deliveries[0].State != "delivered" {
			t.Errorf("after the restart: got %s, want delivered", states(r))
		}
		t.Logf("worker SIGKILL with %d POSTs held: %s; all delivered %.1fs after the kill", events, tl, recovered.Seconds())
	})

	t.Run("API killed during an ingestion burst", func(t *testing.T) {
		e.t = t
		rcv := newReceiver(t)
		e.createWebhook(clientID, key, hookBody("burst", rcv.URL, "PhoneNumber.optedIn"))
		defer e.do("DELETE", "/api/v1/webhooks/burst", clientID, key, nil)
		const producers, perProducer = 4, 15
		var mu sync.Mutex
		ids := map[string]string{}
		retried := 0
		var wg sync.WaitGroup
		for p := range producers {
			wg.Go(func() {
				for i := range perProducer {
					eventID := fmt.Sprintf("burst-%d-%d", p, i)
					a, tries := e.ingestRetrying(clientID, eventID, time.Now().Add(2*time.Minute))
					mu.Lock()
					ids[eventID] = a.WorkflowID
					retried += tries - 1
					mu.Unlock()
				}
			})
		}
		waitFor(t, "a third of the burst accepted", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(ids) >= producers*perProducer/3
		})
		failedBefore := e.failedIngests.Load()
		if err := e.cluster.API.Kill(); err != nil {
			t.Fatal(err)
		}
		killedAt := time.Now()
		// Restart once the producers have met the dead API.
		waitFor(t, "a producer to fail against the dead API", func() bool { return e.failedIngests.Load() > failedBefore })
		if err := e.cluster.API.Start(); err != nil {
			t.Fatal(err)
		}
		if err := e.cluster.WaitForAPI(context.Background()); err != nil {
			t.Fatal(err)
		}
		back := time.Since(killedAt)
		wg.Wait()
		if len(ids) != producers*perProducer {
			t.Fatalf("accepted %d events, want %d", len(ids), producers*perProducer)
		}
		tl := e.tallyEvents(ids, rcv.countOf)
		t.Logf("API SIGKILL during a burst of %d events: %d producer retries; %s; API back in %.1fs", len(ids), retried, tl, back.Seconds())
	})

	t.Run("Temporal server killed and restarted mid-workflow", func(t *testing.T) {
		e.t = t
		rcv := newReceiver(t)
		rcv.failFirst = true // every event waits on a retry timer when the server dies
		e.createWebhook(clientID, key, hookBody("timer", rcv.URL, "PhoneNumber.optedIn"))
		defer e.do("DELETE", "/api/v1/webhooks/timer", clientID, key, nil)
		const events = 10
		ids := e.ingestSeries(clientID, "timer", events)
		waitFor(t, "every first attempt", func() bool { return len(rcv.requests()) >= events })
		if err := e.cluster.Temporal.Kill(); err != nil {
			t.Fatal(err)
		}
		killedAt := time.Now()
		// While it is down, ingestion answers 503, never 202.
		if status, body, err := e.tryIngest(clientID, "while-down"); err != nil || status != http.StatusServiceUnavailable {
			t.Errorf("ingest while Temporal is down: got %d %s %v, want 503", status, body, err)
		}
		if err := e.cluster.Temporal.Start(); err != nil {
			t.Fatal(err)
		}
		a, tries := e.ingestRetrying(clientID, "while-down", time.Now().Add(2*time.Minute))
		ids["while-down"] = a.WorkflowID
		tl := e.tallyEvents(ids, rcv.countOf)
		t.Logf("Temporal server SIGKILL with %d workflows waiting on a retry timer: %s; the event refused while down accepted after %d tries; all delivered %.1fs after the kill",
			events, tl, tries, time.Since(killedAt).Seconds())
	})
}

func countHeader(requests []request, eventID string) int {
	n := 0
	for _, r := range requests {
		if r.Header.Get("webhook-id") == eventID {
			n++
		}
	}
	return n
}

// TestDevStackSurvivesKill: `make run`'s process (Temporal on SQLite, the
// worker and the API in one) killed with SIGKILL while every event waits
// on a retry timer, and started again on the same files: every event is
// delivered.
func TestDevStackSurvivesKill(t *testing.T) {
	bin := buildBinaries(t)
	dataDir := t.TempDir()
	httpAddr, uiAddr := freeLoopback(t), freeLoopback(t)
	temporalPort, err := devserver.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	devKey := "dev-key-of-the-kill-test"
	devstack := &cluster.Process{Name: "devstack", Path: filepath.Join(bin, "devstack"), LogPath: filepath.Join(dataDir, "devstack.log"),
		Env: append(os.Environ(),
			"DEV_DATA_DIR="+dataDir, "HTTP_ADDR="+httpAddr, "TEMPORAL_UI_ADDR="+uiAddr,
			"TEMPORAL_PORT="+strconv.Itoa(temporalPort), "METRICS_ADDR=", "DATABASE_URL="+dbtest.URL(t),
			"DEV_CLIENT_ID=acme", "DEV_CLIENT_KEY="+devKey, "INGEST_USERNAME="+ingestUser, "INGEST_PASSWORD="+ingestPass,
			"PAYLOAD_KEYS=test-1:"+base64.StdEncoding.EncodeToString(testPayloadKeys[0].Secret),
			"RETRY_SCHEDULE=0s,2s,1s,1s,1s,1s,1s,1s", "LOG_LEVEL=warn")}
	apiURL := "http://" + httpAddr
	ready := func() {
		t.Helper()
		if err := cluster.WaitHTTP(context.Background(), devstack, apiURL+"/readyz"); err != nil {
			t.Fatal(err)
		}
	}
	if err := devstack.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("devstack log ends:\n%s", devstack.LogTail(40))
		}
		_ = devstack.Stop(20 * time.Second)
	})
	ready()
	cc, err := codec.New(testPayloadKeys)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := client.Dial(client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", temporalPort), Namespace: "default", DataConverter: codec.DataConverter(cc)})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	e := &env{t: t, stack: &stack.Stack{APIURL: apiURL, Client: tc}}

	rcv := newReceiver(t)
	rcv.failFirst = true
	e.createWebhook("acme", devKey, hookBody("timer", rcv.URL, "PhoneNumber.optedIn"))
	const events = 8
	ids := e.ingestSeries("acme", "dev", events)
	waitFor(t, "every first attempt", func() bool { return len(rcv.requests()) >= events })
	if err := devstack.Kill(); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	if err := devstack.Start(); err != nil {
		t.Fatal(err)
	}
	ready()
	tl := e.tallyEvents(ids, rcv.countOf)
	t.Logf("dev stack (Temporal on SQLite) SIGKILL with %d workflows waiting on a retry timer: %s; all delivered %.1fs after the kill", events, tl, time.Since(killedAt).Seconds())
}

// The dynamic configuration that docker-compose.yml and make cluster give
// the server passes the server's own validation: no unknown key, no bad
// value.
func TestDynamicConfigIsValid(t *testing.T) {
	out, err := exec.Command(filepath.Join(buildBinaries(t), "temporal-server"), "validate-dynamic-config", "../deploy/temporal/dynamicconfig.yaml").CombinedOutput()
	if err != nil || strings.Contains(string(out), "error:") || strings.Contains(string(out), "warning:") {
		t.Errorf("validate-dynamic-config: %v\n%s", err, out)
	}
}
