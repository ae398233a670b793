package cluster

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// make cluster and docker-compose.yml describe one topology: the same
// processes, history shards and dynamic configuration (the compose file's
// images and environment are checked against the code in
// internal/config/compose_test.go).
func TestComposeDescribesTheSameTopology(t *testing.T) {
	data, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	temporal := c.Services["temporal"]
	if !strings.HasPrefix(temporal.Image, "temporalio/server:") {
		t.Errorf("compose temporal image %q, want temporalio/server", temporal.Image)
	}
	if temporal.Environment["DB"] != "postgres12" {
		t.Errorf("compose temporal DB %q, want postgres12 as the cluster's", temporal.Environment["DB"])
	}
	if got := temporal.Environment["NUM_HISTORY_SHARDS"]; got != strconv.Itoa(HistoryShards) {
		t.Errorf("compose NUM_HISTORY_SHARDS %q, want %d as the cluster's", got, HistoryShards)
	}
	if !strings.Contains(strings.Join(temporal.Volumes, " "), "./deploy/temporal/dynamicconfig.yaml:") {
		t.Errorf("compose temporal volumes %v: want deploy/temporal/dynamicconfig.yaml, the file make cluster uses", temporal.Volumes)
	}
	if !strings.HasPrefix(c.Services["temporal-ui"].Image, "temporalio/ui:") {
		t.Errorf("compose has no temporal-ui service of temporalio/ui")
	}
	for service, command := range map[string]string{"api": "serve", "worker": "worker"} {
		if got := c.Services[service].Command; len(got) != 1 || got[0] != command {
			t.Errorf("compose %s command %v, want [%s] as the cluster runs it", service, got, command)
		}
	}
	if c.Services["worker"].Environment["REGISTER_SEARCH_ATTRIBUTES"] != "true" {
		t.Errorf("compose worker: want REGISTER_SEARCH_ATTRIBUTES true, as the cluster's workers")
	}
}

func TestServerConfigFollowsTheLayout(t *testing.T) {
	ports, err := choosePorts(7233)
	if err != nil {
		t.Fatal(err)
	}
	want := portLayout{7233, 7243, 7234, 7235, 7239, 6933, 6934, 6935, 6939}
	if ports != want {
		t.Errorf("ports for 7233: got %+v, want Temporal's layout %+v", ports, want)
	}
	path := t.TempDir() + "/temporal.yaml"
	err = writeServerConfig(path, serverSettings{portLayout: ports, DB: database{Host: "db", Port: "5432", User: "u", Password: `p"w`},
		Database: "temporal", Shards: HistoryShards, DynamicConfig: "dc.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Persistence struct {
			NumHistoryShards int `yaml:"numHistoryShards"`
			Datastores       map[string]struct {
				SQL struct {
					PluginName   string `yaml:"pluginName"`
					DatabaseName string `yaml:"databaseName"`
					Password     string `yaml:"password"`
				} `yaml:"sql"`
			} `yaml:"datastores"`
		} `yaml:"persistence"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("the written config is not YAML: %v\n%s", err, data)
	}
	if cfg.Persistence.NumHistoryShards != HistoryShards {
		t.Errorf("numHistoryShards %d, want %d", cfg.Persistence.NumHistoryShards, HistoryShards)
	}
	if got := cfg.Persistence.Datastores["postgres-visibility"].SQL; got.DatabaseName != "temporal_visibility" || got.PluginName != "postgres12" || got.Password != `p"w` {
		t.Errorf("visibility store: got %+v", got)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("config file mode: %v %v, want 0600 (it holds the database password)", info.Mode(), err)
	}
}

// A port two processes would share, or one already taken, is refused
// before anything starts, naming the variables.
func TestCheckPorts(t *testing.T) {
	ports, _ := choosePorts(18733)
	err := checkPorts(ports, Options{HTTPAddr: "127.0.0.1:18480", UIAddr: "127.0.0.1:18433"})
	if err == nil || !strings.Contains(err.Error(), "TEMPORAL_UI_ADDR") || !strings.Contains(err.Error(), "membership") {
		t.Errorf("UI on the frontend's membership port: got %v, want both named", err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ports, _ = choosePorts(0)
	err = checkPorts(ports, Options{HTTPAddr: taken.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "HTTP_ADDR") {
		t.Errorf("HTTP_ADDR taken: got %v, want it named", err)
	}
	if err := checkPorts(ports, Options{HTTPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Workers: 2}); err != nil {
		t.Errorf("free ports: %v", err)
	}
}
