package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 document of every route; a test checks that it
// and the router agree.
//
//go:embed openapi.yaml
var openAPI []byte

func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPI)
}
