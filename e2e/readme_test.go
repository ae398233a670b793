package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocelot/webhooks"
	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/stack"
)

// readmeOrigin is the address the README's commands talk to: `make run`'s
// API (config.DefaultHTTPAddr).
const readmeOrigin = "http://127.0.0.1:8080"

// readmeReceiverAddr is where the README's receiver ("Your deliveries")
// listens, as its Go program has it.
const readmeReceiverAddr = "127.0.0.1:9999"

// readmeBlock is one ```sh block of the README.
type readmeBlock struct {
	section string
	line    int // of the opening fence, 1-based
	text    string
}

// readmeShellBlocks returns the ```sh blocks of the README's "## <section>"
// sections, in order.
func readmeShellBlocks(readme string, sections ...string) []readmeBlock {
	var blocks []readmeBlock
	section, inBlock := "", false
	var cur readmeBlock
	var body []string
	for i, line := range strings.Split(readme, "\n") {
		switch {
		case inBlock && line == "```":
			cur.text = strings.Join(body, "\n") + "\n"
			blocks = append(blocks, cur)
			inBlock, body = false, nil
		case inBlock:
			body = append(body, line)
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case line == "```sh":
			for _, s := range sections {
				if s == section {
					inBlock, cur = true, readmeBlock{section: section, line: i + 1}
				}
			}
		}
	}
	return blocks
}

// onlyClientCommands reports whether a block holds nothing but the operator's
// `go run ./cmd/webhooks client …` lines, which cmd/webhooks'
// TestReadmeClientCommands runs.
func onlyClientCommands(text string) bool {
	commands := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, "go run ./cmd/webhooks client ") {
			return false
		}
		commands++
	}
	return commands > 0
}

// exchange is one request the README's commands made and its answer.
type exchange struct {
	method, uri string
	status      int
	location    string
	body        []byte
}

func (x exchange) String() string {
	return fmt.Sprintf("%s %s -> %d %s", x.method, x.uri, x.status, x.body)
}

// recorder is a reverse proxy in front of the test stack's API that
// records every request the README's commands make, so that the test
// checks each answer's status without changing a command.
//
// It answers an accepted event once the event's workflow has finished, as
// a reader typing the next command would find it: the README's sequence
// (ingest, then list the deliveries, page through them, resend the newest)
// does not wait, and the README promises its answers for deliveries that
// have been made.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	got  []exchange
	errs []error
}

func newRecorder(t *testing.T, target string, finished func(workflowID string) error) *recorder {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		r.got = append(r.got, exchange{
			method: resp.Request.Method, uri: resp.Request.URL.RequestURI(), status: resp.StatusCode,
			location: resp.Header.Get("Location"), body: body,
		})
		r.mu.Unlock()
		if resp.Request.Method == http.MethodPost && resp.Request.URL.Path == "/api/v1/events" && resp.StatusCode == http.StatusAccepted {
			var a accepted
			if err := json.Unmarshal(body, &a); err != nil {
				return err
			}
			if err := finished(a.WorkflowID); err != nil {
				r.mu.Lock()
				r.errs = append(r.errs, fmt.Errorf("event %s: %w", a.EventID, err))
				r.mu.Unlock()
			}
		}
		return nil
	}
	r.Server = httptest.NewServer(proxy)
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.got...)
}

// readmeStack starts a test stack configured as `make run` is where the
// README's commands depend on it: the demo client and the dev ingest
// credential.
func readmeStack(t *testing.T) *env {
	t.Helper()
	cfg := testConfig()
	cfg.IngestUsername = "ingest"
	cfg.IngestPassword = config.DevIngestPassword
	e := startWith(t, cfg, dbtest.NewStore(t), stack.Options{})
	demo := webhooks.Client{ID: config.DevClientID, Name: "demo", KeyHash: webhooks.HashAPIKey(config.DevClientKey)}
	if err := e.store.CreateClient(context.Background(), demo); err != nil {
		t.Fatalf("create the demo client: %v", err)
	}
	return e
}

// TestReadmeCurlExamples runs the ```sh blocks of the README's "Using the
// API" and "Your deliveries" sections, as a reader would: in order, in one
// `bash -euo pipefail` session (later blocks use the variables earlier ones
// set: AUTH, API, SECRET), from the repository's root, against a test stack
// with the demo client and the dev ingest credential. The receiver block
// builds and starts the README's Go receiver on 127.0.0.1:9999 as written.
//
// The one rewrite: the README's address, http://127.0.0.1:8080, becomes the
// test's (a recording proxy in front of the test stack), wherever the blocks
// name it: the `API=` assignment and the /healthz and /readyz lines. Nothing
// else in a block is changed; the test only adds a line before each block
// that prints where it comes from. The proxy records every answer, and the
// test checks each against the status the README's comment promises and
// the values the sed lines should extract (SECRET, CURSOR, DELIVERY). The
// proxy answers an ingested event once its workflow has finished, so that
// the deliveries the following commands read are made: the README's own
// pace, a command typed after another, not a rewrite.
//
// The webhook of "Using the API" points at example.com, but it is renamed
// and deleted before the event is ingested, so no delivery is tried there
// (the test stack's egress guard would refuse it; there is no internet).
func TestReadmeCurlExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's commands need %s: %v", tool, err)
		}
	}
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	for _, b := range readmeShellBlocks(string(raw), "Using the API", "Your deliveries") {
		if onlyClientCommands(b.text) {
			t.Logf("README.md:%d: the client commands are run by cmd/webhooks' TestReadmeClientCommands", b.line)
			continue
		}
		blocks = append(blocks, b)
	}
	if len(blocks) != 4 {
		t.Fatalf("got %d ```sh blocks with curl examples in the README, want 4 (Using the API: 1, Your deliveries: 3); update this test with the README", len(blocks))
	}
	if !regexp.MustCompile(`(?m)^API=` + regexp.QuoteMeta(readmeOrigin) + `/api/v1$`).MatchString(blocks[0].text) {
		t.Fatalf("README.md:%d: no `API=%s/api/v1` line", blocks[0].line, readmeOrigin)
	}

	// The receiver listens on a fixed port: fail clearly when it is taken
	// rather than deliver to whatever holds it.
	if ln, err := net.Listen("tcp", readmeReceiverAddr); err != nil {
		t.Fatalf("the README's receiver needs %s, which is taken: %v", readmeReceiverAddr, err)
	} else {
		ln.Close()
	}

	e := readmeStack(t)
	proxy := newRecorder(t, e.stack.APIURL, func(workflowID string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		return e.stack.Client.GetWorkflow(ctx, workflowID, "").Get(ctx, nil)
	})

	var script strings.Builder
	rewritten := 0
	for _, b := range blocks {
		rewritten += strings.Count(b.text, readmeOrigin)
		fmt.Fprintf(&script, "echo '>>> README.md:%d (%s)' >&2\n", b.line, b.section)
		script.WriteString(strings.ReplaceAll(b.text, readmeOrigin, proxy.URL))
	}
	if rewritten != 3 {
		t.Fatalf("the README names %s %d times in these blocks, want 3 (API=, /healthz, /readyz); check what else now points at make run's address", readmeOrigin, rewritten)
	}
	dir := t.TempDir()
	scriptPath := filepath.Join(dir, "readme.sh")
	if err := os.WriteFile(scriptPath, []byte(script.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// Files, not buffers: the receiver the script starts in the background
	// keeps writing to them (its log of verified requests) after bash exits.
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", scriptPath)
	cmd.Dir = ".." // the repository's root, where the README's commands are run
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so that the receiver it leaves running is
	// stopped with it when the test ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	output := func() string {
		out, _ := os.ReadFile(stdout.Name())
		errOut, _ := os.ReadFile(stderr.Name())
		return fmt.Sprintf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the README's commands failed: %v\nscript:\n%s\n%s\nrequests:\n%s", err, script.String(), output(), formatExchanges(proxy.exchanges()))
	}

	got := proxy.exchanges()
	proxy.mu.Lock()
	for _, err := range proxy.errs {
		t.Errorf("waiting for an ingested event's workflow: %v", err)
	}
	proxy.mu.Unlock()
	checkReadmeAnswers(t, got)
	if t.Failed() {
		t.Logf("%s\nrequests:\n%s", output(), formatExchanges(got))
		return
	}

	// The receiver verified the signature of every delivery and test event:
	// the three events, the resend when it was accepted, the three test
	// events (the last one after the rotation, on the old secret).
	wantEvents := 3
	for _, x := range got {
		if strings.HasSuffix(x.uri, "/resend") && x.status == http.StatusAccepted {
			wantEvents++
		}
	}
	verified := func(test bool) int {
		errOut, _ := os.ReadFile(stderr.Name())
		n := 0
		for _, line := range strings.Split(string(errOut), "\n") {
			if strings.Contains(line, " verified ") && strings.Contains(line, `(webhook-test="true")`) == test {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for verified(false) < wantEvents || verified(true) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver verified %d deliveries and %d test events, want %d and 3\n%s", verified(false), verified(true), wantEvents, output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d requests answered as the README says; the receiver verified %d deliveries and 3 test events", len(got), wantEvents)
}

// readmeAnswer is what the README promises for one request: the method and
// request URI (a regular expression) and the statuses its comment names.
type readmeAnswer struct {
	request  string
	statuses []int
	check    func(x exchange) string // "" when the answer is as promised
}

// checkReadmeAnswers compares the requests the README's commands made with
// what its comments promise, in order.
func checkReadmeAnswers(t *testing.T, got []exchange) {
	t.Helper()
	const hooks = "/api/v1/webhooks"
	const deliveries = hooks + `/log-demo/deliveries`
	// What the commands that read a value with sed (CURSOR, DELIVERY) should
	// have read, from the answers they read it from.
	var cursor, newest string
	want := []readmeAnswer{
		// Using the API
		{`POST ` + hooks, []int{201}, location(hooks + "/my-incoming-sms-webhook")},
		{`GET ` + hooks, []int{200}, jsonHas(`"id":"my-incoming-sms-webhook"`)},
		{`GET ` + hooks + `/my-incoming-sms-webhook`, []int{200}, jsonHas(`"id":"my-incoming-sms-webhook"`)},
		{`PUT ` + hooks + `/my-incoming-sms-webhook`, []int{200}, jsonHas(`"id":"sms-hook"`)},
		{`DELETE ` + hooks + `/sms-hook`, []int{204}, nil},
		{`POST /api/v1/events`, []int{202}, jsonHas(`"eventId":"evt-1"`, `"workflowId":`)},
		{`GET /healthz`, []int{200}, nil},
		{`GET /readyz`, []int{200}, nil},
		// Your deliveries: the webhook and its secret
		{`POST ` + hooks, []int{201}, location(hooks + "/log-demo")},
		{`GET ` + hooks + `/log-demo/secret`, []int{200}, jsonHas(`"key":"whsec_`)},
		{`GET ` + hooks + `/log-demo/secret`, []int{200}, jsonHas(`"key":"whsec_`)},
		// the events and what became of them
		{`POST /api/v1/events`, []int{202}, jsonHas(`"eventId":"log-demo-1"`)},
		{`POST /api/v1/events`, []int{202}, jsonHas(`"eventId":"log-demo-2"`)},
		{`POST /api/v1/events`, []int{202}, jsonHas(`"eventId":"log-demo-3"`)},
		{`GET ` + deliveries, []int{200}, page(3, "delivered", nil)},
		{`GET ` + deliveries + `\?state=delivered&eventName=IncomingSms\.received`, []int{200}, page(3, "delivered", nil)},
		{`GET ` + deliveries + `\?limit=2`, []int{200}, page(2, "delivered", nil)},
		{`GET ` + deliveries + `\?limit=2`, []int{200}, page(2, "delivered", func(p pageView) string {
			if p.NextCursor == nil {
				return "nextCursor is null, want a cursor to the third delivery"
			}
			cursor = *p.NextCursor
			return ""
		})},
		{`GET ` + deliveries + `\?limit=2&cursor=[^&]*`, []int{200}, func(x exchange) string {
			if c := strings.TrimPrefix(x.uri[strings.Index(x.uri, "&cursor="):], "&cursor="); c != cursor {
				return fmt.Sprintf("CURSOR is %q, want the previous page's nextCursor %q", c, cursor)
			}
			return page(1, "delivered", func(p pageView) string {
				if p.NextCursor != nil {
					return fmt.Sprintf("nextCursor is %q on the last page, want null", *p.NextCursor)
				}
				return ""
			})(x)
		}},
		{`GET ` + deliveries + `\?limit=500&state=lost`, []int{400}, jsonHas(`"statusCode":400`, `"details":[`, `"field":"limit"`, `"field":"state"`)},
		{`GET /api/v1/events/log-demo-1`, []int{200}, jsonHas(`"eventId":"log-demo-1"`, `"payload":{`, `"deliveries":[{`)},
		{`GET ` + deliveries + `\?limit=1`, []int{200}, page(1, "delivered", func(p pageView) string {
			newest = p.Data[0].ID
			return ""
		})},
		{`POST ` + deliveries + `/[^/]*/resend`, []int{202}, func(x exchange) string {
			if x.uri != deliveries+"/"+newest+"/resend" {
				return fmt.Sprintf("DELIVERY is not the newest delivery, %q", newest)
			}
			return jsonHas(`"deliveryId":"`, `"workflowId":"`)(x)
		}},
		{`POST ` + hooks + `/log-demo/test`, []int{200}, jsonHas(`"eventId":"test-`, `"attempt":1`, `"statusCode":204`)},
		{`POST ` + hooks + `/log-demo/test`, []int{200}, jsonHas(`"eventId":"test-`, `"statusCode":204`)},
		{`POST ` + hooks + `/log-demo/secret/rotate`, []int{200}, jsonHas(`"key":"whsec_`)},
		{`POST ` + hooks + `/log-demo/test`, []int{200}, jsonHas(`"statusCode":204`)},
	}
	if len(got) != len(want) {
		t.Errorf("the README's commands made %d requests, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		x, w := got[i], want[i]
		if !regexp.MustCompile(`^` + w.request + `$`).MatchString(x.method + " " + x.uri) {
			t.Errorf("request %d: got %s %s, want %s", i+1, x.method, x.uri, w.request)
			continue
		}
		ok := false
		for _, s := range w.statuses {
			ok = ok || x.status == s
		}
		if !ok {
			t.Errorf("request %d: %s: got %d %s, want %v", i+1, w.request, x.status, x.body, w.statuses)
			continue
		}
		if x.status != http.StatusNoContent && !json.Valid(x.body) {
			t.Errorf("request %d: %s: the answer is not JSON: %s", i+1, w.request, x.body)
		}
		if w.check != nil {
			if problem := w.check(x); problem != "" {
				t.Errorf("request %d: %s: %s", i+1, w.request, problem)
			}
		}
	}
}

// page checks a page of deliveries: n of them, all in state, and then more.
func page(n int, state string, more func(pageView) string) func(exchange) string {
	return func(x exchange) string {
		var p pageView
		if err := json.Unmarshal(x.body, &p); err != nil {
			return fmt.Sprintf("not a page of deliveries (%v): %s", err, x.body)
		}
		if len(p.Data) != n {
			return fmt.Sprintf("got %d deliveries, want %d: %s", len(p.Data), n, x.body)
		}
		for _, d := range p.Data {
			if d.State != state || d.WebhookID != "log-demo" || len(d.Attempts) == 0 {
				return fmt.Sprintf("delivery %s of %s is %s with %d attempts, want log-demo's, %s: %s", d.ID, d.WebhookID, d.State, len(d.Attempts), state, x.body)
			}
		}
		if more != nil {
			return more(p)
		}
		return ""
	}
}

func location(want string) func(exchange) string {
	return func(x exchange) string {
		if x.location != want {
			return fmt.Sprintf("got Location %q, want %q", x.location, want)
		}
		return ""
	}
}

// jsonHas checks that the answer holds each fragment of compact JSON.
func jsonHas(fragments ...string) func(exchange) string {
	return func(x exchange) string {
		var compact bytes.Buffer
		if err := json.Compact(&compact, x.body); err != nil {
			return fmt.Sprintf("the answer is not JSON (%v): %s", err, x.body)
		}
		for _, f := range fragments {
			if !strings.Contains(compact.String(), f) {
				return fmt.Sprintf("the answer lacks %s: %s", f, compact.String())
			}
		}
		return ""
	}
}

func formatExchanges(xs []exchange) string {
	var b strings.Builder
	for i, x := range xs {
		fmt.Fprintf(&b, "%2d. %s\n", i+1, x)
	}
	return b.String()
}
