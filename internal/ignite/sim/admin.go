package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// State is what GET /_sim/state answers.
type State struct {
	Clock            time.Time         `json:"clock"`
	Seed             int64             `json:"seed"`
	Counts           map[string]int    `json:"counts"`
	Faults           map[string]Fault  `json:"faults"`
	Requests         map[string]int    `json:"requests"`
	NonPremiumDetail string            `json:"non_premium_detail"`
	Modes            Modes             `json:"modes"`
	Tokens           map[string]string `json:"tokens"`
}

// State returns the simulator's state.
func (s *Server) State() State {
	clock := s.now()
	st := State{
		Clock: clock,
		Seed:  s.cfg.Seed,
		Counts: map[string]int{
			DatasetReports:         s.reportsTL.count(clock),
			DatasetVulnerabilities: s.vulnsTL.count(clock),
			DatasetIndicators:      s.indsTL.count(clock),
		},
		Faults:   map[string]Fault{},
		Requests: s.Requests(),
		Tokens:   map[string]string{},
	}
	s.mu.RLock()
	for k, f := range s.faults {
		st.Faults[k] = *f
	}
	st.NonPremiumDetail = s.nonPremium
	st.Modes = s.modes
	s.mu.RUnlock()
	for _, t := range s.cfg.Tokens {
		st.Tokens[t.Value] = t.String()
	}
	return st
}

func (s *Server) adminState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.State())
}

// POST /_sim/clock {"advance": "24h"} or {"set": "2026-01-02T03:04:05Z"}.
func (s *Server) adminClock(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Advance string    `json:"advance"`
		Set     time.Time `json:"set"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "body: " + err.Error()})
		return
	}
	switch {
	case req.Advance != "":
		d, err := time.ParseDuration(req.Advance)
		if err != nil || d < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "advance: want a positive duration such as \"24h\""})
			return
		}
		s.Advance(d)
	case !req.Set.IsZero():
		now := s.now()
		if req.Set.Before(now) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "set: the clock only moves forward"})
			return
		}
		s.Advance(req.Set.Sub(now))
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "want {\"advance\": DURATION} or {\"set\": TIME}"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"clock": s.now()})
}

func (s *Server) adminFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.State().Faults)
}

// PUT /_sim/faults/{endpoint} with a Fault body.
func (s *Server) adminSetFault(w http.ResponseWriter, r *http.Request) {
	ep := r.PathValue("endpoint")
	if ep != "*" && !validEndpoint(ep) {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "unknown endpoint " + ep})
		return
	}
	var f Fault
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "fault: " + err.Error()})
		return
	}
	s.SetFault(ep, f)
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) adminClearFaults(w http.ResponseWriter, r *http.Request) {
	if ep := r.PathValue("endpoint"); ep != "" {
		s.mu.Lock()
		delete(s.faults, ep)
		s.mu.Unlock()
	} else {
		s.ClearFaults()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminNonPremium(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Mode string `json:"mode"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<12)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
		return
	}
	if err := s.SetNonPremiumDetail(req.Mode); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, req)
}

// PUT /_sim/modes with the modes as JSON ({"max_page": 3}).
func (s *Server) adminModes(w http.ResponseWriter, r *http.Request) {
	var m Modes
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<12))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
		return
	}
	if err := s.SetModes(m); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// Truth is the ground-truth answer: every id a query matches, in the
// endpoint's order, ignoring paging.
type Truth struct {
	Count int      `json:"count"`
	IDs   []string `json:"ids"`
}

// GET /_sim/truth/{dataset}?<the endpoint's own query parameters>. dataset is
// reports, vulnerabilities, indicators or events (events needs report=ID).
func (s *Server) adminTruth(w http.ResponseWriter, r *http.Request) {
	t, err := s.Truth(r.PathValue("dataset"), r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, t)
}
