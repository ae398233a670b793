package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"gopkg.in/yaml.v3"
)

// TestOpenAPIMatchesRouter checks that every (method, path) the router
// serves is documented, and every documented one is served.
func TestOpenAPIMatchesRouter(t *testing.T) {
	var doc struct {
		OpenAPI    string                          `yaml:"openapi"`
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components struct {
			SecuritySchemes map[string]yaml.Node `yaml:"securitySchemes"`
			Schemas         map[string]yaml.Node `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("parse openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("got openapi %q, want 3.x", doc.OpenAPI)
	}
	for _, name := range []string{"clientAuth", "ingestAuth"} {
		if _, ok := doc.Components.SecuritySchemes[name]; !ok {
			t.Errorf("security scheme %s is not documented", name)
		}
	}
	for _, name := range []string{"Webhook", "Error", "EventIngestion", "EventAccepted", "Delivery", "Attempt", "DeliveredEvent"} {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schema %s is not documented", name)
		}
	}

	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for key := range item {
			if method := strings.ToUpper(key); slices.Contains([]string{"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"}, method) {
				documented[method+" "+path] = true
			}
		}
	}
	served := map[string]bool{}
	err := newServer(Config{}).router().Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s has no methods", path)
			return nil
		}
		for _, m := range methods {
			served[m+" "+path] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk router: %v", err)
	}
	if len(served) != 15 {
		t.Errorf("got %d served routes, want 15: %v", len(served), served)
	}
	for route := range served {
		if !documented[route] {
			t.Errorf("%s is served but not documented", route)
		}
	}
	for route := range documented {
		if !served[route] {
			t.Errorf("%s is documented but not served", route)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	h := newFakeServer(newFakeStore(), &fakeStarter{}, nil)
	rec := serve(h, newRequest(http.MethodGet, "/api/v1/openapi.yaml", "", "", ""))
	if rec.Code != http.StatusOK || rec.Body.String() != string(openAPI) {
		t.Fatalf("got status %d and %d bytes, want 200 and the document", rec.Code, rec.Body.Len())
	}
	if got := rec.Header().Get("Content-Type"); got != "application/yaml" {
		t.Errorf("Content-Type: got %q, want application/yaml", got)
	}
}
