package api

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/auth"
)

// At most MaxHeavy heavy requests run at once, a queue of twice as many
// waits, and the next is refused at once with 503 and Retry-After.
func TestHeavyRequestsAreCapped(t *testing.T) {
	s := &Server{MaxHeavy: 1}
	release := make(chan struct{})
	h := s.heavy(func(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
		<-release
		w.WriteHeader(http.StatusOK)
		return nil
	})
	serve := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		if err := h(w, httptest.NewRequest("POST", "/api/v1/lookup", nil), nil); err != nil {
			writeError(w, httptest.NewRequest("POST", "/", nil), s.log(), err)
		}
		return w
	}
	s.initHeavy()
	done := make(chan int, 3)
	for range 3 {
		go func() { done <- serve().Code }()
	}
	// Wait until one runs and two wait (by the server's own state).
	for len(s.heavySlots) != 1 || len(s.heavyWait) != 2 {
		runtime.Gosched()
	}
	w := serve()
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("a fourth heavy request with one slot and a queue of two: %d %s", w.Code, w.Body)
	}
	close(release)
	for range 3 {
		if c := <-done; c != http.StatusOK {
			t.Errorf("an admitted request ended %d", c)
		}
	}
}

// A query that outruns its budget is stopped and answered 503 "timeout".
func TestQueryBudget(t *testing.T) {
	s := &Server{QueryBudget: time.Nanosecond}
	h := s.budget(func(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
		<-r.Context().Done() // the query, cancelled by the budget
		return r.Context().Err()
	})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/api/v1/vulnerabilities?product=a", nil)
	writeError(w, r, s.log(), h(w, r, nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"timeout"`) || !strings.Contains(w.Body.String(), "budget of 1ns") {
		t.Errorf("over budget: %d %s", w.Code, w.Body)
	}
}
