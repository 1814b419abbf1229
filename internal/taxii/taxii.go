// Package taxii holds the TAXII 2.1 protocol (OASIS TAXII Version 2.1):
// its media types and content negotiation, its resources (discovery, API
// root, collection, envelope, manifest, versions, error), the filters of
// the objects endpoints (added_after, limit, next, match[...]) and the
// opaque, tamper-evident next token. It is pure: the use cases are in
// service/, the HTTP routes in api/.
package taxii

import (
	"mime"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Media types.
const (
	MediaType     = "application/taxii+json;version=2.1"
	STIXMediaType = "application/stix+json;version=2.1"
)

// Acceptable reports whether an Accept header admits TAXII 2.1 responses:
// application/taxii+json, with version=2.1 or no version.
func Acceptable(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		typ, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || typ != "application/taxii+json" {
			continue
		}
		if v, ok := params["version"]; !ok || v == "2.1" {
			return true
		}
	}
	return false
}

// collectionNamespace derives the TAXII ids of Flint's collections.
var collectionNamespace = uuid.MustParse("1b7e6c0a-51a4-4b0e-8d33-0d8e4f2b6c71")

// CollectionID is the TAXII id of a Flint collection: a UUIDv5 of its name
// (case-insensitively, as Flint names collections), so that it stays the
// same across restarts, stores and replicas.
func CollectionID(name string) string {
	return uuid.NewSHA1(collectionNamespace, []byte(strings.ToLower(strings.TrimSpace(name)))).String()
}

// Timestamp writes a TAXII timestamp: UTC, microseconds, a literal Z (the
// added log's stamps are microseconds; fewer digits would merge them).
func Timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// Discovery is the server's discovery resource.
type Discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots"`
}

// APIRoot describes an API root.
type APIRoot struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// Collection is a collection resource.
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
}

// Collections is the collections resource.
type Collections struct {
	Collections []Collection `json:"collections,omitempty"`
}

// ManifestRecord describes one object of a manifest.
type ManifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type"`
}

// Manifest is the manifest resource.
type Manifest struct {
	More    bool             `json:"more"`
	Next    string           `json:"next,omitempty"`
	Objects []ManifestRecord `json:"objects,omitempty"`
}

// Versions is the versions resource.
type Versions struct {
	More     bool     `json:"more"`
	Next     string   `json:"next,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

// Error is a TAXII error message.
type Error struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status,omitempty"`
}
