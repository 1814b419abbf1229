package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/auth"
)

// A handler that panics answers a JSON 500 without a stack trace.
func TestPanicIsAJSONError(t *testing.T) {
	s := &Server{}
	h := s.wrap(route{Method: "GET", Pattern: "/boom", h: func(http.ResponseWriter, *http.Request, *auth.Principal) error {
		var m map[string]int
		m["x"]++ // a nil map write
		return nil
	}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusInternalServerError || !strings.Contains(body, `"code":"internal"`) ||
		strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") || strings.Contains(body, "nil map") {
		t.Fatalf("%d %s", rec.Code, body)
	}
}

func TestServerTimeouts(t *testing.T) {
	srv := NewHTTPServer(http.NotFoundHandler())
	for name, d := range map[string]time.Duration{"read header": srv.ReadHeaderTimeout, "read": srv.ReadTimeout,
		"write": srv.WriteTimeout, "idle": srv.IdleTimeout} {
		if d <= 0 || d > 5*time.Minute {
			t.Errorf("%s timeout %v", name, d)
		}
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("max header bytes %d", srv.MaxHeaderBytes)
	}
}

// Every route lies under one of Prefixes, which a server sharing its
// listener with the console sends to the API.
func TestRoutesLieUnderPrefixes(t *testing.T) {
	s := &Server{}
	for _, rt := range append(s.routes(), s.taxiiRoutes()...) {
		ok := false
		for _, p := range Prefixes() {
			ok = ok || strings.HasPrefix(rt.Pattern, p)
		}
		if !ok {
			t.Errorf("%s %s is under none of %v", rt.Method, rt.Pattern, Prefixes())
		}
	}
}
