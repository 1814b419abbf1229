package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
)

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	keys, err := s.Service.Keys(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
	return nil
}

// keyRequest is the body of POST /keys.
type keyRequest struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	MaxTLP string `json:"max_tlp"`
	List   string `json:"list"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q keyRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	k, err := s.Service.CreateKey(r.Context(), p, service.KeyInput{Name: q.Name, Role: q.Role, MaxTLP: q.MaxTLP, List: q.List})
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/keys/%d", k.ID))
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return intel.Errorf(intel.ENOTFOUND, "no API key %q: ids are whole numbers", r.PathValue("id"))
	}
	// A key revoked before is answered as it is.
	k, _, err := s.Service.RevokeKey(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *Server) auditTrail(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	limit, err := intParam(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			return intel.Invalid([]intel.FieldError{{Field: "before", Message: fmt.Sprintf("before %q must be a record id", v)}})
		}
	}
	recs, next, err := s.Service.AuditTrail(r.Context(), p, before, limit)
	if err != nil {
		return err
	}
	out := map[string]any{"records": recs}
	if next != "" {
		out["next"] = next
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
