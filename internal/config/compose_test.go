package config_test

import (
	"net"
	"net/url"
	"os"
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
	retention, err := time.ParseDuration(c.Services["temporal"].Environment["DEFAULT_NAMESPACE_RETENTION"])
	if err != nil || retention < 30*24*time.Hour {
		t.Errorf("temporal: retention %q, want at least 30 days (ingestion idempotency)", c.Services["temporal"].Environment["DEFAULT_NAMESPACE_RETENTION"])
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
