package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/service"
)

// MaxExports is how many STIX exports run at once server-wide; another is
// answered 503 with Retry-After.
const MaxExports = 2

// exportWriteTime is how long writing one page of an export may take: the
// server's write timeout is extended by it at every page, so an export of
// any size streams to a client that keeps reading.
const exportWriteTime = 2 * time.Minute

// deadlineWriter extends the response's write deadline before each write
// and notes whether anything was written.
type deadlineWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	written bool
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(exportWriteTime)) // not every writer has a deadline to move
	d.written = true
	n, err := d.w.Write(b)
	if err == nil {
		err = d.rc.Flush()
	}
	return n, err
}

// exportSTIX streams the objects matching the filters of GET /objects (the
// key's TLP cap applied) as one STIX 2.1 bundle.
func (s *Server) exportSTIX(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q, err := service.ObjectQuery(r.URL.Query())
	if err != nil {
		return err
	}
	select {
	case s.exportSlots() <- struct{}{}:
		defer func() { <-s.exportSlots() }()
	default:
		w.Header().Set("Retry-After", "5")
		return &httpError{http.StatusServiceUnavailable, "busy", fmt.Sprintf("%d STIX exports are running; retry when one ends", MaxExports)}
	}
	h := w.Header()
	h.Set("Content-Type", "application/stix+json;version=2.1")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="flint-%s.json"`, s.now().UTC().Format("20060102T150405Z")))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	dw := &deadlineWriter{w: w, rc: http.NewResponseController(w)}
	if _, err := s.Service.ExportSTIX(r.Context(), p, q, dw); err != nil {
		if !dw.written {
			h.Del("Content-Disposition")
			return err // nothing sent yet: an ordinary error response
		}
		// Part of the bundle is out: cut the connection, so that the client
		// sees a failed transfer, never a bundle that looks whole.
		s.log().Error("api: STIX export failed midway", "error", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Server) exportSlots() chan struct{} {
	s.exportOnce.Do(func() { s.exports = make(chan struct{}, MaxExports) })
	return s.exports
}
