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
