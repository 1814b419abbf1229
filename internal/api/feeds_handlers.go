package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
)

// channelRef is the channel of the {id} and {channel} path segments.
func channelRef(r *http.Request) service.ChannelRef {
	return service.ChannelRef{Instance: r.PathValue("id"), Kind: r.PathValue("channel")}
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out, err := s.Service.Instances(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"instances": out})
	return nil
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	v, err := s.Service.Instance(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// instanceRequest is the body of POST and PATCH on instances and of migrate.
// The token is write-only: no response carries it.
type instanceRequest struct {
	Name      *string `json:"name"`
	BaseURL   *string `json:"base_url"`
	VerifyTLS *bool   `json:"verify_tls"`
	Token     *string `json:"token"`
}

func (q instanceRequest) input() service.InstanceInput {
	return service.InstanceInput{Name: q.Name, BaseURL: q.BaseURL, VerifyTLS: q.VerifyTLS, Token: q.Token}
}

func (s *Server) createInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q instanceRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	v, err := s.Service.CreateInstance(r.Context(), p, q.input())
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/instances/%d", v.ID))
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) updateInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if _, err := s.Service.Instance(r.Context(), p, r.PathValue("id")); err != nil {
		return err // an unknown instance is a 404 before its body is judged
	}
	var q instanceRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	v, err := s.Service.UpdateInstance(r.Context(), p, r.PathValue("id"), q.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) deleteInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if _, err := s.Service.RemoveInstance(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) testInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	res, err := s.Service.TestInstance(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res})
	return nil
}

// migrateInstance moves a legacy instance to Flashpoint Ignite: a new base
// URL and token; channels, cursors, collections and history stay. The
// channels are tested at once.
func (s *Server) migrateInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if _, err := s.Service.Instance(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	var q instanceRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	if q.Name != nil || q.VerifyTLS != nil {
		return intel.Invalid([]intel.FieldError{{Field: "name", Message: "migrate takes base_url and token only; rename with PATCH"}})
	}
	var base, token string
	if q.BaseURL != nil {
		base = *q.BaseURL
	}
	if q.Token != nil {
		token = *q.Token
	}
	m, err := s.Service.MigrateInstance(r.Context(), p, r.PathValue("id"), base, token)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	chs, err := s.Service.Channels(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": chs})
	return nil
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ch, err := s.Service.Channel(r.Context(), p, channelRef(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ch)
	return nil
}

// updateChannel applies a partial settings object: the fields given replace
// the channel's (a list replaces the old one; objects such as filters merge
// field by field); every bad field is reported. "enabled": true also
// re-enables a channel the health machine disabled.
func (s *Server) updateChannel(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if _, err := s.Service.Channel(r.Context(), p, channelRef(r)); err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := decode(r, &raw); err != nil {
		return err
	}
	if v, ok := raw["start_at"]; ok {
		var ts string
		if json.Unmarshal(v, &ts) != nil {
			return intel.Invalid([]intel.FieldError{{Field: "start_at", Message: "start_at must be an RFC 3339 time string such as 2026-11-01T00:00:00Z"}})
		}
		if _, err := time.Parse(time.RFC3339, ts); err != nil {
			return intel.Invalid([]intel.FieldError{{Field: "start_at", Message: fmt.Sprintf("start_at %q is not an RFC 3339 time such as 2026-11-01T00:00:00Z", ts)}})
		}
	}
	body, _ := json.Marshal(raw)
	e, given := raw["enabled"]
	res, err := s.Service.UpdateChannel(r.Context(), p, channelRef(r), service.ChannelEdit{
		Apply:  func(next *feed.Settings) error { return strictUnmarshal(body, next) },
		Enable: given && string(e) == "true",
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// pollChannel starts a poll and answers 202 with its run id; the poll goes
// on after the response (GET .../runs follows it). 409 when a poll of the
// channel is already running, here or on another replica.
func (s *Server) pollChannel(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if _, err := s.Service.Channel(r.Context(), p, channelRef(r)); err != nil {
		return err
	}
	if err := drain(r); err != nil {
		return err
	}
	// The poll outlives the request: it runs under the server's context.
	started, err := s.Service.StartPoll(s.baseContext(), p, channelRef(r))
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/instances/%d/channels/%s/runs", started.Channel.InstanceID, started.Channel.Kind))
	writeJSON(w, http.StatusAccepted, map[string]any{"run_id": started.Run.ID, "status": started.Run.Outcome})
	return nil
}

func (s *Server) testChannel(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	res, err := s.Service.TestChannel(r.Context(), p, channelRef(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	limit, err := intParam(r, "limit", 20, 1, 1000)
	if err != nil {
		return err
	}
	runs, err := s.Service.Runs(r.Context(), p, channelRef(r), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
	return nil
}

// listCollections counts, in each collection, the objects the key may see.
func (s *Server) listCollections(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	cs, err := s.Service.Collections(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"collections": cs})
	return nil
}
