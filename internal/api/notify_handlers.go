package api

import (
	"net/http"
	"strconv"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/notify"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// listRules lists the notification rules.
func (s *Server) listRules(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	rs, err := s.Service.Rules(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": rs})
	return nil
}

// addRule adds a notification rule.
func (s *Server) addRule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in service.RuleInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rule, err := s.Service.AddRule(r.Context(), p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rule)
	return nil
}

// removeRule removes a notification rule.
func (s *Server) removeRule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if _, err := s.Service.RemoveRule(r.Context(), p, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testRule sends a test notification through a rule now.
func (s *Server) testRule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := drain(r); err != nil {
		return err
	}
	res, err := s.Service.TestRule(r.Context(), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// listDeliveries lists deliveries, newest first: rule, state, before,
// limit.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	limit, err := intParam(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 0 {
			return intel.Invalid([]intel.FieldError{{Field: "before", Message: "before " + strconv.Quote(v) + " must be a next value this listing gave"}})
		}
	}
	q := store.DeliveryQuery{Rule: r.URL.Query().Get("rule"), State: r.URL.Query().Get("state"), Before: before, Limit: limit}
	ds, err := s.Service.Deliveries(r.Context(), p, q)
	if err != nil {
		return err
	}
	out := listing[notify.Delivery]{Items: ds}
	if len(ds) == limit {
		out.Next = strconv.FormatInt(ds[len(ds)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listDestinations lists the allow-list of webhook destinations.
func (s *Server) listDestinations(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ds, err := s.Service.Destinations(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ds})
	return nil
}

// allowDestination puts a destination on the allow-list: {"pattern": …}.
func (s *Server) allowDestination(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q struct {
		Pattern string `json:"pattern"`
	}
	if err := decode(r, &q); err != nil {
		return err
	}
	d, err := s.Service.AllowDestination(r.Context(), p, q.Pattern)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

// disallowDestination takes a pattern off the allow-list.
func (s *Server) disallowDestination(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.Service.DisallowDestination(r.Context(), p, r.PathValue("pattern")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
