package config_test

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ocelot/webhooks/internal/config"
)

// No Docker engine runs in CI, so docker-compose.yml is checked against the
// code instead: the services, pinned images, ports and environment.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		Restart     string            `yaml:"restart"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

func readCompose(t *testing.T) compose {
	data, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

func TestComposeServicesAndImages(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"postgres", "temporal", "temporal-ui", "api", "worker"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	for name, s := range c.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s: neither image nor build", name)
		}
		if s.Image != "" && (!strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest")) {
			t.Errorf("service %s: image %q is not pinned", name, s.Image)
		}
	}
	// The UI image must be the release the dev stack embeds (go.mod).
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/temporalio/ui-server/v2 v(\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require the ui-server module")
	}
	if want := "temporalio/ui:" + string(m[1]); c.Services["temporal-ui"].Image != want {
		t.Errorf("temporal-ui image: got %q, want %q", c.Services["temporal-ui"].Image, want)
	}
	if got := c.Services["api"].Command; !slices.Equal(got, []string{"serve"}) {
		t.Errorf("api command: got %v, want [serve]", got)
	}
	if got := c.Services["worker"].Command; !slices.Equal(got, []string{"worker"}) {
		t.Errorf("worker command: got %v, want [worker]", got)
	}
}

func TestComposeEnvironmentMatchesConfig(t *testing.T) {
	c := readCompose(t)
	required := map[string][]string{
		"api":    {"HTTP_ADDR", "DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "INGEST_PASSWORD", "ENCRYPTION_KEY"},
		"worker": {"DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "ENCRYPTION_KEY"},
	}
	for service, names := range required {
		env := c.Services[service].Environment
		for name := range env {
			if !slices.Contains(config.Variables, name) {
				t.Errorf("%s: %s is not a variable the service reads", service, name)
			}
		}
		for _, name := range names {
			if _, ok := env[name]; !ok {
				t.Errorf("%s: %s missing", service, name)
			}
		}
		// Each service reaches Temporal and PostgreSQL by their compose names
		// and ports.
		host, port, err := net.SplitHostPort(env["TEMPORAL_ADDRESS"])
		if err != nil || host != "temporal" || !publishes(c.Services["temporal"].Ports, port) {
			t.Errorf("%s: TEMPORAL_ADDRESS %q does not name the temporal service's port", service, env["TEMPORAL_ADDRESS"])
		}
		u, err := url.Parse(expand(env["DATABASE_URL"]))
		if err != nil || u.Hostname() != "postgres" || !publishes(c.Services["postgres"].Ports, u.Port()) ||
			strings.TrimPrefix(u.Path, "/") != c.Services["postgres"].Environment["POSTGRES_DB"] {
			t.Errorf("%s: DATABASE_URL %q does not name the postgres service and its database", service, env["DATABASE_URL"])
		}
	}
	_, port, err := net.SplitHostPort(c.Services["api"].Environment["HTTP_ADDR"])
	if err != nil || !publishes(c.Services["api"].Ports, port) {
		t.Errorf("api: HTTP_ADDR %q is not the published port %v", c.Services["api"].Environment["HTTP_ADDR"], c.Services["api"].Ports)
	}
	if _, ok := c.Services["worker"].Environment["HTTP_ADDR"]; ok {
		t.Error("worker: HTTP_ADDR set, but the worker serves no HTTP")
	}
	retention, err := time.ParseDuration(c.Services["temporal-namespace"].Environment["DEFAULT_NAMESPACE_RETENTION"])
	if err != nil || retention < 30*24*time.Hour {
		t.Errorf("temporal-namespace: retention %q, want at least 30 days (ingestion idempotency)", c.Services["temporal-namespace"].Environment["DEFAULT_NAMESPACE_RETENTION"])
	}
}

// publishes reports whether a compose ports list maps the container port.
func publishes(ports []string, port string) bool {
	for _, p := range ports {
		if strings.HasSuffix(p, ":"+port) || p == port {
			return true
		}
	}
	return false
}

// expand resolves ${VAR:-default} to its default, as compose would with VAR
// unset.
func expand(s string) string {
	return regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`).ReplaceAllString(s, "$1")
}

func TestReadmeDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range config.Variables {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README does not document %s", name)
		}
	}
}

// The compose Temporal server (and the admin tools that set up its schema)
// must be the release the tests run: go.temporal.io/server in go.mod.
func TestComposeTemporalMatchesGoMod(t *testing.T) {
	c := readCompose(t)
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*go\.temporal\.io/server v(\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require go.temporal.io/server")
	}
	want := string(m[1])
	servers := 0
	for name, s := range c.Services {
		repo, tag, _ := strings.Cut(s.Image, ":")
		switch repo {
		case "temporalio/server", "temporalio/admin-tools":
			if repo == "temporalio/server" {
				servers++
			}
			if tag != want {
				t.Errorf("service %s: image %s, want tag %s (go.temporal.io/server in go.mod)", name, s.Image, want)
			}
		case "temporalio/auto-setup":
			t.Errorf("service %s: image %s; auto-setup is no longer published for current servers, use temporalio/server", name, s.Image)
		}
	}
	if servers != 1 {
		t.Errorf("got %d temporalio/server services, want 1", servers)
	}
	// Files the services mount must be in the repository.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			if src, _, _ := strings.Cut(v, ":"); strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
	}
}

// The API and the worker start only once PostgreSQL is healthy and
// Temporal's namespace exists (after its schema and server), and are
// restarted when a start-up still fails.
func TestComposeStartOrder(t *testing.T) {
	c := readCompose(t)
	wantDeps := map[string]map[string]string{
		"temporal":           {"temporal-schema": "service_completed_successfully"},
		"temporal-schema":    {"postgres": "service_healthy"},
		"temporal-namespace": {"temporal": "service_healthy"},
		"api":                {"postgres": "service_healthy", "temporal-namespace": "service_completed_successfully"},
		"worker":             {"postgres": "service_healthy", "temporal-namespace": "service_completed_successfully"},
	}
	for service, deps := range wantDeps {
		for dep, cond := range deps {
			if got := c.Services[service].DependsOn[dep].Condition; got != cond {
				t.Errorf("%s depends on %s: got condition %q, want %q", service, dep, got, cond)
			}
		}
	}
	for _, service := range []string{"api", "worker", "temporal"} {
		if got := c.Services[service].Restart; !strings.HasPrefix(got, "on-failure") && got != "unless-stopped" && got != "always" {
			t.Errorf("%s: restart %q, want on-failure", service, got)
		}
	}
}

// The build context (COPY . . in the Dockerfile) must not carry the dev
// stack's keys, local binaries or benchmark output into an image layer.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatalf("read .dockerignore: %v", err)
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			if strings.HasPrefix(line, "!") {
				t.Fatalf(".dockerignore: exception %q is beyond what this test checks", line)
			}
			patterns = append(patterns, strings.TrimPrefix(filepath.Clean(line), "/"))
		}
	}
	tests := []struct {
		path    string
		ignored bool
	}{
		{".data/encryption.key", true},
		{".data/payload.keys", true},
		{".data/temporal.db", true},
		{".data/temporal-visibility.db", true},
		{"bin/devstack", true},
		{"bench-results/report.json", true},
		{".git/config", true},
		{"api/api.test", true},
		{"go.mod", false},
		{"go.sum", false},
		{"cmd/webhooks/main.go", false},
		{"db/migrations/00001_init.sql", false},
		{"api/openapi.yaml", false},
	}
	for _, tt := range tests {
		if got := dockerIgnored(patterns, tt.path); got != tt.ignored {
			t.Errorf("%s: got ignored %v, want %v", tt.path, got, tt.ignored)
		}
	}
}

// dockerIgnored reports whether a pattern excludes path or one of its
// parent directories, as Docker matches .dockerignore ("**" spans any
// number of directories).
func dockerIgnored(patterns []string, path string) bool {
	parts := strings.Split(path, "/")
	for _, p := range patterns {
		re := regexp.QuoteMeta(p)
		re = strings.ReplaceAll(re, `\*\*/`, `(.*/)?`)
		re = strings.ReplaceAll(re, `\*`, `[^/]*`)
		re = strings.ReplaceAll(re, `\?`, `[^/]`)
		rx := regexp.MustCompile("^" + re + "$")
		for i := range parts {
			if rx.MatchString(strings.Join(parts[:i+1], "/")) {
				return true
			}
		}
	}
	return false
}
