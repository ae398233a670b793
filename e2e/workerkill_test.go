package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ocelot/webhooks/db"
	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/internal/stack"
)

// buildWebhooks builds the production binary once per test.
func buildWebhooks(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webhooks")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/webhooks")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build webhooks: %v\n%s", err, out)
	}
	return bin
}

// workerProcess is `webhooks worker` as its own OS process.
type workerProcess struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func startWorkerProcess(t *testing.T, bin string, env []string) *workerProcess {
	t.Helper()
	w := &workerProcess{cmd: exec.Command(bin, "worker"), log: &bytes.Buffer{}}
	w.cmd.Env = append(os.Environ(), env...)
	w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		_ = w.cmd.Wait()
		if t.Failed() {
			t.Logf("worker log:\n%s", w.log)
		}
	})
	return w
}

// A worker killed with SIGKILL after its POST reached the receiver and
// before the attempt completed: the attempt is made again by the next
// worker (at-least-once), and the log holds exactly one record of it.
func TestWorkerKilledMidAttemptLogsTheAttemptOnce(t *testing.T) {
	bin := buildWebhooks(t)
	databaseURL := dbtest.URL(t)
	key := dbtest.TestKey()
	cipher, err := db.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := db.Open(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	store := db.NewStore(conn, cipher)
	e := startWith(t, testConfig(0, time.Hour), store, stack.Options{NoWorker: true})
	s := e.stack

	env := []string{
		"DATABASE_URL=" + databaseURL,
		"ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key),
		"TEMPORAL_ADDRESS=" + s.TemporalAddress,
		"TEMPORAL_NAMESPACE=default",
		"ALLOWED_PRIVATE_NETWORKS=127.0.0.0/8",
		"PAYLOAD_KEYS=test-1:" + base64.StdEncoding.EncodeToString(testPayloadKeys[0].Secret),
		"METRICS_ADDR=",
		"LOG_LEVEL=warn",
	}
	first := startWorkerProcess(t, bin, env)

	clientID, apiKey := e.client("acme")
	rcv := newAnswering(t, 200)
	rcv.hold = make(chan struct{})
	e.createWebhook(clientID, apiKey, hookBody("hook", rcv.URL, "PhoneNumber.optedIn"))
	a := e.ingest(clientID, "", map[string]any{"name": "PhoneNumber.optedIn", "phoneNumber": "+15550004", "triggerType": "Manual"})

	// The POST is in flight, held by the receiver: kill the worker now.
	waitFor(t, "the first POST", func() bool { return len(rcv.requests()) == 1 })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	close(rcv.hold) // the receiver answers 200 to a worker that is gone

	startWorkerProcess(t, bin, env)
	r := e.result(a.WorkflowID)
	if len(r.Deliveries) != 1 || r.Deliveries[0].State != "delivered" {
		t.Fatalf("got %s, want delivered", states(r))
	}
	sent := len(rcv.requests())
	list := e.deliveries(clientID, apiKey, "hook", "")
	if len(list) != 1 || list[0].State != "delivered" {
		t.Fatalf("log: got %+v, want one delivered delivery", list)
	}
	if got := len(list[0].Attempts); got != 1 || list[0].Attempts[0].Attempt != 1 || list[0].Attempts[0].StatusCode != http.StatusOK {
		t.Errorf("log: got %d attempt records %+v, want exactly one, attempt 1, 200", got, list[0].Attempts)
	}
	t.Logf("sent %d requests for 1 attempt (at-least-once), %d duplicated, 0 lost; 1 attempt record", sent, sent-1)
	if sent < 2 {
		t.Errorf("receiver got %d requests, want the killed worker's and the retry's", sent)
	}
	if id := rcv.requests()[1].Header.Get("webhook-id"); id != a.EventID {
		t.Errorf("the retried request: got webhook-id %q, want %q", id, a.EventID)
	}
}
