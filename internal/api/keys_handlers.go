package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	keys, err := s.Store.APIKeys(r.Context())
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []auth.Key{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
	return nil
}

// keyRequest is the body of POST /keys.
type keyRequest struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	MaxTLP string `json:"max_tlp"`
}

// CreatedKey is a new key: the only response that carries the key itself.
type CreatedKey struct {
	auth.Key
	Token string `json:"token"`
}

// CreateKey validates and stores a new key for createdBy and returns it
// with its token (shared by the API and the CLI).
// by, when not nil, is the principal creating it, which may grant no more
// than it holds.
func CreateKey(ctx context.Context, st *store.Store, name, role, maxTLP string, by *auth.Principal, createdBy string) (CreatedKey, error) {
	k := auth.Key{Name: name, Role: auth.Role(role), CreatedBy: createdBy}
	if maxTLP != "" {
		t, err := intel.ParseTLP(maxTLP)
		if err != nil {
			t = intel.TLP(maxTLP) // Validate names it
		}
		k.MaxTLP = t
	}
	if role != "" {
		if rl, err := auth.ParseRole(role); err == nil {
			k.Role = rl
		}
	}
	if err := k.Validate(); err != nil {
		return CreatedKey{}, err
	}
	if err := by.Grants(k); err != nil {
		return CreatedKey{}, err
	}
	token, prefix, hash := auth.NewToken()
	k.Prefix = prefix
	k, err := st.CreateAPIKey(ctx, k, hash)
	if err != nil {
		return CreatedKey{}, err
	}
	return CreatedKey{k, token}, nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q keyRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	k, err := CreateKey(r.Context(), s.Store, q.Name, q.Role, q.MaxTLP, p, p.Actor())
	if err != nil {
		return err
	}
	s.audit(r, p, "key.create", keyTarget(k.Key), map[string]any{"role": k.Role, "max_tlp": k.MaxTLP, "prefix": k.Prefix})
	w.Header().Set("Location", fmt.Sprintf("/api/v1/keys/%d", k.ID))
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func keyTarget(k auth.Key) string { return fmt.Sprintf("key:%d %s", k.ID, k.Name) }

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return intel.Errorf(intel.ENOTFOUND, "no API key %q: ids are whole numbers", r.PathValue("id"))
	}
	k, revoked, err := s.Store.RevokeAPIKey(r.Context(), id)
	if err != nil {
		return err
	}
	if revoked { // a key revoked before is answered as it is, with no second record
		s.audit(r, p, "key.revoke", keyTarget(k), nil)
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *Server) auditTrail(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
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
	recs, err := s.Store.AuditTrail(r.Context(), before, limit)
	if err != nil {
		return err
	}
	out := map[string]any{"records": recs}
	if recs == nil {
		out["records"] = []store.AuditRecord{}
	}
	if len(recs) == limit {
		out["next"] = strconv.FormatInt(recs[len(recs)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
