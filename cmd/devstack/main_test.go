package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocelot/webhooks/db/dbtest"
	"github.com/ocelot/webhooks/internal/config"
	"github.com/ocelot/webhooks/internal/stack"
)

// runMainEnv makes the test binary run main() instead of the tests: the
// start-up tests run the dev stack as a process of its own, as `make run`
// does, without linking a second binary of the Temporal server.
const runMainEnv = "DEVSTACK_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// takenAddr returns a loopback address held by the test until it ends.
func takenAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStartupFailures runs the dev stack with one thing wrong at a time and
// wants, each time: exit status 1, one line on stderr naming the cause (no
// panic, no secret), and every port the stack would have used free again.
func TestStartupFailures(t *testing.T) {
	tests := []struct {
		name string
		// env returns the variables that break the start, given the
		// defaults chosen for this run.
		env  func(t *testing.T, d defaults) map[string]string
		want func(d defaults) []string // substrings of the error line
	}{
		{
			name: "HTTP address taken",
			env: func(t *testing.T, d defaults) map[string]string {
				return map[string]string{"HTTP_ADDR": d.taken}
			},
			want: func(d defaults) []string { return []string{"HTTP_ADDR " + d.taken, "address already in use"} },
		},
		{
			name: "HTTP address malformed",
			env: func(t *testing.T, d defaults) map[string]string {
				return map[string]string{"HTTP_ADDR": "nonsense"}
			},
			want: func(d defaults) []string { return []string{"HTTP_ADDR nonsense", "missing port"} },
		},
		{
			name: "Temporal port taken",
			env: func(t *testing.T, d defaults) map[string]string {
				return map[string]string{"TEMPORAL_PORT": port(t, d.taken)}
			},
			want: func(d defaults) []string {
				return []string{"TEMPORAL_PORT " + strings.TrimPrefix(d.taken, "127.0.0.1:"), "address already in use"}
			},
		},
		{
			name: "Temporal UI port taken",
			env: func(t *testing.T, d defaults) map[string]string {
				return map[string]string{"TEMPORAL_UI_ADDR": d.taken}
			},
			want: func(d defaults) []string { return []string{"TEMPORAL_UI_ADDR " + d.taken, "address already in use"} },
		},
		{
			name: "metrics port taken",
			env: func(t *testing.T, d defaults) map[string]string {
				return map[string]string{"METRICS_ADDR": d.taken}
			},
			want: func(d defaults) []string { return []string{"METRICS_ADDR", d.taken, "address already in use"} },
		},
		{
			name: "Temporal unreachable",
			env: func(t *testing.T, d defaults) map[string]string {
				return map[string]string{"TEMPORAL_ADDRESS": d.closed}
			},
			want: func(d defaults) []string { return []string{"temporal", d.closed} },
		},
		{
			name: "PostgreSQL down",
			env: func(t *testing.T, d defaults) map[string]string {
				return map[string]string{"DATABASE_URL": "postgres://postgres:db-secret-pw@" + d.closed + "/webhooks?sslmode=disable"}
			},
			want: func(d defaults) []string { return []string{d.closed, "connection refused"} },
		},
		{
			name: "DATABASE_URL malformed",
			env: func(t *testing.T, d defaults) map[string]string {
				return map[string]string{"DATABASE_URL": "postgres://postgres:db-secret-pw@127.0.0.1:port/webhooks"}
			},
			want: func(d defaults) []string { return []string{"database"} },
		},
		{
			name: "ENCRYPTION_KEY not a key",
			env: func(t *testing.T, d defaults) map[string]string {
				return map[string]string{"ENCRYPTION_KEY": "not-a-key"}
			},
			want: func(d defaults) []string { return []string{"ENCRYPTION_KEY"} },
		},
		{
			name: "local encryption key damaged",
			env: func(t *testing.T, d defaults) map[string]string {
				if err := os.WriteFile(filepath.Join(d.dataDir, "encryption.key"), []byte("damaged\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			want: func(d defaults) []string { return []string{"local encryption key", "encryption.key"} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := defaults{
				http: freeAddr(t), temporal: freeAddr(t), ui: freeAddr(t), metrics: freeAddr(t),
				taken: takenAddr(t), closed: freeAddr(t), dataDir: t.TempDir(),
			}
			env := map[string]string{
				"DATABASE_URL":     dbtest.URL(t),
				"DEV_DATA_DIR":     d.dataDir,
				"HTTP_ADDR":        d.http,
				"TEMPORAL_PORT":    port(t, d.temporal),
				"TEMPORAL_UI_ADDR": d.ui,
				"METRICS_ADDR":     d.metrics,
				"RETRY_SCHEDULE":   "0s,1s",
			}
			for k, v := range tt.env(t, d) {
				env[k] = v
			}
			code, stderr := runDevstack(t, env)
			if code != 1 {
				t.Errorf("got exit status %d, want 1; stderr:\n%s", code, stderr)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			t.Logf("stderr ends: %s", last)
			if !strings.HasPrefix(last, "devstack: ") || slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "devstack:") }) != len(lines)-1 {
				t.Errorf("got stderr\n%s\nwant it to end with the one line \"devstack: <cause>\"", stderr)
			}
			for _, want := range tt.want(d) {
				if !strings.Contains(last, want) {
					t.Errorf("got %q, want it to name %q", last, want)
				}
			}
			for _, bad := range []string{"panic", "goroutine ", "db-secret-pw"} {
				if strings.Contains(stderr, bad) {
					t.Errorf("stderr shows %q:\n%s", bad, stderr)
				}
			}
			// Nothing left running: every port the stack would have bound
			// takes a listener again.
			for _, addr := range []string{d.http, d.temporal, d.ui, d.metrics} {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					t.Errorf("port %s still taken after the failed start: %v", addr, err)
					continue
				}
				ln.Close()
			}
		})
	}
}

// defaults are the addresses and directory of one run.
type defaults struct {
	http, temporal, ui, metrics string
	taken                       string // held by the test
	closed                      string // nothing listens
	dataDir                     string
}

// runDevstack runs main() in a process of its own with env on top of a
// clean environment (none of the service's variables inherited), and
// returns its exit status and stderr.
func runDevstack(t *testing.T, env map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(config.Variables, name) && !strings.HasPrefix(name, "TEMPORAL_") && !strings.HasPrefix(name, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, runMainEnv+"=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("the dev stack did not exit within 3 minutes; stderr:\n%s", stderr.String())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exitErr):
		return exitErr.ExitCode(), stderr.String()
	}
	t.Fatalf("run the dev stack: %v", err)
	return 0, ""
}

func TestBannerShowsOnlyTheDevIngestPassword(t *testing.T) {
	s := &stack.Stack{APIURL: "http://127.0.0.1:8080", TemporalAddress: "127.0.0.1:7233", UIURL: "http://127.0.0.1:8233"}
	tests := []struct {
		password  string
		shown     bool
		wantCurlU string
	}{
		{config.DevIngestPassword, true, "-u ingest:" + config.DevIngestPassword},
		{"operator-chosen-secret", false, "-u ingest:$INGEST_PASSWORD"},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatBool(tt.shown), func(t *testing.T) {
			cfg := config.Config{IngestUsername: "ingest", IngestPassword: tt.password, DevClientID: "demo", DevClientKey: "demo-key", TemporalNamespace: "default"}
			got := banner(cfg, s)
			if strings.Contains(got, tt.password) != tt.shown {
				t.Errorf("banner shows the ingest password: %v, want %v:\n%s", !tt.shown, tt.shown, got)
			}
			if !strings.Contains(got, tt.wantCurlU) {
				t.Errorf("banner lacks %q:\n%s", tt.wantCurlU, got)
			}
		})
	}
}
