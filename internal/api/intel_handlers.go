package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// page is one page of objects.
type page struct {
	Objects []intel.Object `json:"objects"`
	Next    string         `json:"next,omitempty"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, p *auth.Principal, q store.Query, err error) error {
	if err != nil {
		return err
	}
	res, err := s.Service.Search(r.Context(), p, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page{res.Objects, res.Next})
	return nil
}

func (s *Server) searchObjects(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q, err := service.ObjectQuery(r.URL.Query())
	return s.search(w, r, p, q, err)
}

func (s *Server) searchVulnerabilities(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q, err := service.VulnQuery(r.URL.Query())
	return s.search(w, r, p, q, err)
}

// objectID reads the {id} path segment.
func objectID(r *http.Request) (int64, error) {
	ref := r.PathValue("id")
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 {
		return 0, intel.Errorf(intel.ENOTFOUND, "no object %q: ids are positive whole numbers", ref)
	}
	return id, nil
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := objectID(r)
	if err != nil {
		return err
	}
	v, err := s.Service.Object(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) getVulnerability(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := objectID(r)
	if err != nil {
		return err
	}
	v, err := s.Service.Vulnerability(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// lookupRequest is the body of POST /lookup.
type lookupRequest struct {
	Values []string `json:"values"`
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q lookupRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	res, err := s.Service.Lookup(r.Context(), p, q.Values)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res})
	return nil
}

// cmdbRequest is the JSON body of POST /cmdb/match.
type cmdbRequest struct {
	Assets []cmdb.Asset `json:"assets"`
}

// cmdbMatch matches a CMDB (CSV with a header row, or JSON) against the
// vulnerabilities the key may see.
func (s *Server) cmdbMatch(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var assets []cmdb.Asset
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/csv") {
		var err error
		if assets, err = cmdb.ParseCSV(r.Body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return mbe
			}
			return err
		}
	} else {
		var q cmdbRequest
		if err := decode(r, &q); err != nil {
			return err
		}
		assets = q.Assets
	}
	m, err := s.Service.MatchCMDB(r.Context(), p, assets)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}
