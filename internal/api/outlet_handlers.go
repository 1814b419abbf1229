package api

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/outlet"
)

// edlPattern is the route of a blocklist, the only one a key bound to a
// list may use.
const edlPattern = "/edl/{name}"

// serveList serves a blocklist to a firewall: plain text (or CSV), one
// value a line, with a validator so that a refresh of an unchanged list is
// a 304.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	v, err := s.Service.ListVersion(r.Context(), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", v.ETag)
	h.Set("Last-Modified", v.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", "no-cache") // may be kept, but asked again each time
	if notModified(r, v.ETag, v.LastModified) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if v.List.Format == outlet.CSV {
		h.Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return nil
	}
	dw := &deadlineWriter{w: w, rc: http.NewResponseController(w)}
	bw := bufio.NewWriterSize(dw, 64<<10) // a write (and a flush to the client) per 64 KiB, not per line
	_, err = s.Service.WriteList(r.Context(), v, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		if !dw.written {
			h.Del("ETag")
			h.Del("Last-Modified")
			return err
		}
		s.log().Error("api: blocklist failed midway", "list", v.List.Name, "error", err)
		panic(http.ErrAbortHandler) // a firewall must not take half a list for the whole
	}
	return nil
}

// notModified applies If-None-Match, else If-Modified-Since (RFC 9110
// §13.2.2). Flint's entity tags are quoted hex, so a list of them splits
// at its commas.
func notModified(r *http.Request, etag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			if tag = strings.TrimSpace(tag); tag == "*" || tag == etag || tag == "W/"+etag {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !modified.After(t) {
			return true
		}
	}
	return false
}

func (s *Server) listLists(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ls, err := s.Service.Lists(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"lists": ls})
	return nil
}

func (s *Server) getList(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	l, err := s.Service.List(r.Context(), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

// listRequest is the body of PUT /lists/{name}.
type listRequest struct {
	Types             []outlet.ListType `json:"types"`
	Collection        string            `json:"collection"`
	MinConfidence     int               `json:"min_confidence"`
	MinScore          intel.Score       `json:"min_score"`
	MaxTLP            intel.TLP         `json:"max_tlp"`
	ExcludeDeprecated bool              `json:"exclude_deprecated"`
	Limit             int               `json:"limit"`
	Format            outlet.Format     `json:"format"`
}

func (s *Server) putList(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q listRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	if q.Format == "" {
		q.Format = outlet.Plain
	}
	l, err := s.Service.SaveList(r.Context(), p, outlet.List{Name: r.PathValue("name"), Types: q.Types, Collection: q.Collection,
		MinConfidence: q.MinConfidence, MinScore: q.MinScore, MaxTLP: q.MaxTLP, ExcludeDeprecated: q.ExcludeDeprecated, Limit: q.Limit, Format: q.Format})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) deleteList(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.Service.RemoveList(r.Context(), p, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listAllows(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	as, err := s.Service.Allows(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"allow": as})
	return nil
}

// allowRequest is the body of POST /allow.
type allowRequest struct {
	Entry string `json:"entry"`
	Note  string `json:"note"`
}

func (s *Server) addAllow(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q allowRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	a, err := s.Service.AddAllow(r.Context(), p, q.Entry, q.Note)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/allow/%d", a.ID))
	writeJSON(w, http.StatusCreated, a)
	return nil
}

func (s *Server) removeAllow(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return intel.Errorf(intel.ENOTFOUND, "no allow-list entry %q: ids are whole numbers", r.PathValue("id"))
	}
	if err := s.Service.RemoveAllow(r.Context(), p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
