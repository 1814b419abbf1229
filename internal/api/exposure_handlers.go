package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// listing is a page of a list, with where the next page starts ("" at the end).
type listing[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// listingOf is a full page of limit items followed by the next's start
// (the last item's id), or the last page.
func listingOf[T any](items []T, limit int, id func(T) int64) listing[T] {
	out := listing[T]{Items: items}
	if out.Items == nil {
		out.Items = []T{}
	}
	if len(items) == limit {
		out.Next = strconv.FormatInt(id(items[len(items)-1]), 10)
	}
	return out
}

// afterParam reads the "after" id of a listing.
func afterParam(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("after")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, intel.Invalid([]intel.FieldError{{Field: "after", Message: "after " + strconv.Quote(v) + " must be a next value this listing gave"}})
	}
	return n, nil
}

// listInventory lists the stored inventory.
func (s *Server) listInventory(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	after, err := afterParam(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	rows, err := s.Service.Inventory(r.Context(), p, after, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listingOf(rows, limit, func(r store.InventoryRow) int64 { return r.ID }))
	return nil
}

// importRequest is the JSON body of an inventory import.
type importRequest struct {
	Assets  []cmdb.Asset `json:"assets"`
	Replace bool         `json:"replace"`
}

// importInventory stores a CMDB export (CSV with ?replace=true, or JSON)
// as the inventory and matches it.
func (s *Server) importInventory(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q importRequest
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/csv") {
		assets, err := cmdb.ParseCSV(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return mbe
			}
			return err
		}
		q.Assets = assets
		switch v := r.URL.Query().Get("replace"); v {
		case "", "false":
		case "true":
			q.Replace = true
		default:
			return intel.Invalid([]intel.FieldError{{Field: "replace", Message: "replace " + strconv.Quote(v) + " must be true or false"}})
		}
	} else if err := decode(r, &q); err != nil {
		return err
	}
	res, err := s.Service.ImportInventory(r.Context(), p, q.Assets, q.Replace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// listExposures lists exposures: state (comma-separated), asset_id,
// after, limit.
func (s *Server) listExposures(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	after, err := afterParam(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	q := store.ExposureQuery{AssetID: r.URL.Query().Get("asset_id"), After: after, Limit: limit}
	for _, st := range strings.Split(r.URL.Query().Get("state"), ",") {
		if st = strings.TrimSpace(st); st != "" {
			q.States = append(q.States, st)
		}
	}
	xs, err := s.Service.Exposures(r.Context(), p, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listingOf(xs, limit, func(x store.Exposure) int64 { return x.ID }))
	return nil
}

func exposureID(r *http.Request) (int64, error) {
	ref := r.PathValue("id")
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 {
		return 0, intel.Errorf(intel.ENOTFOUND, "no exposure %q: ids are positive whole numbers", ref)
	}
	return id, nil
}

// acknowledgeExposure marks an open exposure acknowledged.
func (s *Server) acknowledgeExposure(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := exposureID(r)
	if err != nil {
		return err
	}
	if err := drain(r); err != nil {
		return err
	}
	x, err := s.Service.AcknowledgeExposure(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

// dismissExposure dismisses an exposure: {"reason": "..."}.
func (s *Server) dismissExposure(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := exposureID(r)
	if err != nil {
		return err
	}
	var q struct {
		Reason string `json:"reason"`
	}
	if err := decode(r, &q); err != nil {
		return err
	}
	x, err := s.Service.DismissExposure(r.Context(), p, id, q.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}
