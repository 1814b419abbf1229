package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/flintcti/flint/internal/api"
	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
)

// concrete fills a route pattern's wildcards.
func concrete(pattern string) string {
	return strings.NewReplacer("{id}", "1", "{channel}", "indicators").Replace(pattern)
}

func TestEveryRouteChecksItsPermission(t *testing.T) {
	e := newEnv(t)
	e.addInstance("main", "good")
	byRole := map[auth.Role]string{}
	for _, r := range auth.Roles() {
		byRole[r] = e.key("k-"+string(r), r, "")
	}
	checked := 0
	for _, rt := range api.Routes() {
		if rt.Perm == "" {
			continue
		}
		path := concrete(rt.Pattern)
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			e.t = t
			// No key: 401 with a challenge.
			r := e.do(rt.Method, path, "", nil)
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("without a key: %d %s", r.status, r.body)
			}
			if b := r.errorBody(t); b.Error.Code != intel.EUNAUTHORIZED {
				t.Errorf("without a key: code %q", b.Error.Code)
			}
			// A key that is not one: 401.
			if r := e.do(rt.Method, path, "flint_notarealkeynotarealkey00", nil); r.status != http.StatusUnauthorized {
				t.Errorf("with an unknown key: %d %s", r.status, r.body)
			}
			for _, role := range auth.Roles() {
				r := e.do(rt.Method, path, byRole[role], nil)
				has := slices.Contains(role.Permissions(), rt.Perm)
				switch {
				case !has && r.status != http.StatusForbidden:
					t.Errorf("%s lacks %s but got %d %s", role, rt.Perm, r.status, r.body)
				case !has:
					if b := r.errorBody(t); b.Error.Code != intel.EFORBIDDEN || !strings.Contains(b.Error.Message, string(rt.Perm)) {
						t.Errorf("%s: 403 does not name the permission: %s", role, r.body)
					}
				case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
					t.Errorf("%s has %s but got %d %s", role, rt.Perm, r.status, r.body)
				}
			}
			checked++
		})
	}
	e.t = t
	if checked < 20 {
		t.Fatalf("only %d routes checked", checked)
	}
}

func TestRolesAndPermissions(t *testing.T) {
	want := map[auth.Role][]auth.Permission{
		auth.Admin:       auth.AllPermissions(),
		auth.FeedManager: {auth.ViewAPIFeed, auth.ViewFeedSource, auth.CreateFeedSource, auth.UpdateFeedSource},
		auth.Analyst:     {auth.ReadIntel, auth.ViewFeedSource, auth.ViewAPIFeed},
	}
	for role, perms := range want {
		got := role.Permissions()
		sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
		sort.Slice(perms, func(i, j int) bool { return perms[i] < perms[j] })
		if !slices.Equal(got, perms) {
			t.Errorf("%s: %v, want %v", role, got, perms)
		}
	}
	if _, err := auth.ParseRole("superuser"); intel.ErrorCode(err) != intel.EINVALID || !strings.Contains(err.Error(), "admin, feed-manager, analyst") {
		t.Errorf("unknown role: %v", err)
	}
}

func TestRevokedKeyIsRefused(t *testing.T) {
	e := newEnv(t)
	key := e.key("temp", auth.Analyst, "")
	if r := e.do("GET", "/api/v1/collections", key, nil); r.status != http.StatusOK {
		t.Fatalf("fresh key: %d %s", r.status, r.body)
	}
	keys, _ := e.store.APIKeys(context.Background())
	var id int64
	for _, k := range keys {
		if k.Name == "temp" {
			id = k.ID
		}
	}
	if r := e.do("DELETE", fmt.Sprintf("/api/v1/keys/%d", id), e.admin, nil); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/collections", key, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d %s", r.status, r.body)
	}
	for _, h := range []string{"Basic abc", "Bearer", "Bearer " + key + "x", "flint_" + strings.Repeat("a", 40)} {
		req, _ := http.NewRequest("GET", e.url+"/api/v1/collections", nil)
		req.Header.Set("Authorization", h)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d", h, res.StatusCode)
		}
	}
}

// The document describes exactly the routes the server has, each with the
// permission the server checks.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIYAML())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	documented := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			perm, _ := op.Extensions["x-permission"].(string)
			documented[method+" "+path] = perm
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s: no operationId or summary", method, path)
			}
		}
	}
	served := map[string]string{}
	for _, r := range api.Routes() {
		served[r.Method+" "+r.Pattern] = string(r.Perm)
	}
	for k, perm := range served {
		d, ok := documented[k]
		switch {
		case !ok:
			t.Errorf("route %s is not documented", k)
		case d != perm:
			t.Errorf("route %s needs %q but the document says %q", k, perm, d)
		}
	}
	for k := range documented {
		if _, ok := served[k]; !ok {
			t.Errorf("documented %s is not served", k)
		}
	}
	// The served JSON is the document.
	e := newEnv(t)
	r := e.do("GET", "/api/v1/openapi.json", "", nil)
	served2, err := loader.LoadFromData(r.body)
	if err != nil || r.status != http.StatusOK || len(served2.Paths.Map()) != len(doc.Paths.Map()) {
		t.Fatalf("served document: %d %v", r.status, err)
	}
}
