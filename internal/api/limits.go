package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"time"

	"github.com/flintcti/flint/internal/auth"
)

// Defaults of the limits on costly requests.
const (
	// DefaultQueryBudget is how long a search, lookup or CMDB match may
	// run before it is stopped with a 503 that says so.
	DefaultQueryBudget = 10 * time.Second
	// heavyQueue is how many heavy requests may wait, per running slot,
	// before more are refused at once.
	heavyQueue = 2
)

// errBudget is a request that outran its time budget.
type errBudget struct{ budget time.Duration }

func (e errBudget) Error() string {
	return fmt.Sprintf("the query took longer than its budget of %s and was stopped; narrow it (a longer product name, a CVSS range, a smaller limit)", e.budget)
}

func (s *Server) queryBudget() time.Duration {
	if s.QueryBudget > 0 {
		return s.QueryBudget
	}
	return DefaultQueryBudget
}

// budget runs h under the query budget: a query still running when it
// ends is cancelled, and the answer is a 503 naming the budget.
func (s *Server) budget(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		b := s.queryBudget()
		ctx, cancel := context.WithTimeoutCause(r.Context(), b, errBudget{b})
		defer cancel()
		err := h(w, r.WithContext(ctx), p)
		if err != nil && ctx.Err() != nil && r.Context().Err() == nil {
			return errBudget{b}
		}
		return err
	}
}

// heavy admits h (a request whose body and work may be large: a lookup of
// 10,000 values, a CMDB match) only while fewer than MaxHeavy such
// requests run server-wide, before its body is read; a few more wait for a
// slot, and beyond them the answer is a 503 with Retry-After. It runs
// under the query budget.
func (s *Server) heavy(h handler) handler {
	h = s.budget(h)
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		s.initHeavy()
		select {
		case s.heavySlots <- struct{}{}:
		default:
			select {
			case s.heavyWait <- struct{}{}:
			default:
				w.Header().Set("Retry-After", "1")
				return &httpError{http.StatusServiceUnavailable, "busy",
					fmt.Sprintf("the server is running %d lookups or CMDB matches, with as many waiting; retry in a moment", cap(s.heavySlots))}
			}
			select {
			case s.heavySlots <- struct{}{}:
				<-s.heavyWait
			case <-r.Context().Done():
				<-s.heavyWait
				return r.Context().Err()
			}
		}
		defer func() { <-s.heavySlots }()
		return h(w, r, p)
	}
}

func (s *Server) initHeavy() {
	s.heavyOnce.Do(func() {
		n := s.MaxHeavy
		if n <= 0 {
			n = max(2, runtime.GOMAXPROCS(0))
		}
		s.heavySlots = make(chan struct{}, n)
		s.heavyWait = make(chan struct{}, n*heavyQueue)
	})
}

// isBudget reports whether err is a request that outran its budget.
func isBudget(err error) bool {
	var b errBudget
	return errors.As(err, &b)
}
