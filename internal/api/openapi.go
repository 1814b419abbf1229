package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/flintcti/flint/internal/auth"
)

// openapiYAML is the API's OpenAPI 3.1 document, kept by hand next to the
// routes; a test holds the two together and validates every response of
// the API tests against it.
//
//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPIYAML returns the document as written.
func OpenAPIYAML() []byte { return openapiYAML }

var openapiJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	return json.Marshal(doc)
})

// OpenAPIJSON returns the document as JSON, as /api/v1/openapi.json serves it.
func OpenAPIJSON() ([]byte, error) { return openapiJSON() }

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	b, err := OpenAPIJSON()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err = w.Write(b)
	return err
}
