package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
)

// instance finds the instance of the {id} path segment: its numeric id or
// its name.
func (s *Server) instance(r *http.Request) (feed.Instance, error) {
	ref := r.PathValue("id")
	ins, err := s.Store.Instances(r.Context())
	if err != nil {
		return feed.Instance{}, err
	}
	// All digits is an id, never a name (names may not be all digits).
	id, err := strconv.ParseInt(ref, 10, 64)
	numeric := err == nil && strings.Trim(ref, "0123456789") == ""
	for _, in := range ins {
		if (numeric && in.ID == id) || (!numeric && strings.EqualFold(in.Name, ref)) {
			return in, nil
		}
	}
	return feed.Instance{}, intel.Errorf(intel.ENOTFOUND, "no instance %q (give its id or its name)", ref)
}

// channel finds the channel of the {id} and {channel} path segments.
func (s *Server) channel(r *http.Request) (feed.Channel, error) {
	in, err := s.instance(r)
	if err != nil {
		return feed.Channel{}, err
	}
	k, err := feed.ParseKind(r.PathValue("channel"))
	if err != nil {
		return feed.Channel{}, intel.Errorf(intel.ENOTFOUND, "%s", intel.ErrorMessage(err))
	}
	return s.Store.Channel(r.Context(), in.Name, k)
}

// instanceView is an instance with its channels.
type instanceView struct {
	feed.Instance
	Channels []feed.Channel `json:"channels"`
	Warnings []string       `json:"warnings,omitempty"`
}

func (s *Server) view(r *http.Request, in feed.Instance) (instanceView, error) {
	chs, err := s.Store.Channels(r.Context(), in.Name)
	if chs == nil {
		chs = []feed.Channel{}
	}
	return instanceView{Instance: in, Channels: chs}, err
}

// tlsWarnings are the warnings of a create or update whose result has TLS
// verification off while the request said so.
func tlsWarnings(q instanceRequest, in feed.Instance) []string {
	if q.VerifyTLS != nil && !in.VerifyTLS {
		return []string{feed.NoVerifyTLSWarning}
	}
	return nil
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ins, err := s.Store.Instances(r.Context())
	if err != nil {
		return err
	}
	out := []instanceView{}
	for _, in := range ins {
		v, err := s.view(r, in)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"instances": out})
	return nil
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	in, err := s.instance(r)
	if err != nil {
		return err
	}
	v, err := s.view(r, in)
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

// check validates the fields present, collecting every field error.
func (q *instanceRequest) check(in *feed.Instance) (token string, err error) {
	var bad []intel.FieldError
	if q.Name != nil {
		if err := feed.ValidateName(*q.Name); err != nil {
			bad = append(bad, intel.FieldError{Field: "name", Message: intel.ErrorMessage(err)})
		}
		in.Name = *q.Name
	}
	if q.BaseURL != nil {
		u, err := feed.ValidateBaseURL(*q.BaseURL)
		if err != nil {
			bad = append(bad, intel.FieldError{Field: "base_url", Message: intel.ErrorMessage(err)})
		}
		in.BaseURL = u
	}
	if q.VerifyTLS != nil {
		in.VerifyTLS = *q.VerifyTLS
	}
	if q.Token != nil {
		token = strings.TrimSpace(*q.Token)
		if err := feed.ValidateToken(token); err != nil {
			bad = append(bad, intel.FieldError{Field: "token", Message: intel.ErrorMessage(err)})
		}
	}
	return token, intel.Invalid(bad)
}

func (s *Server) createInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q instanceRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	var missing []intel.FieldError
	if q.Name == nil {
		missing = append(missing, intel.FieldError{Field: "name", Message: "name is required (1–64 characters)"})
	}
	if q.Token == nil {
		missing = append(missing, intel.FieldError{Field: "token", Message: "token is required: the Flashpoint Ignite bearer token"})
	}
	in := feed.Instance{VerifyTLS: true, BaseURL: feed.DefaultBaseURL}
	token, err := q.check(&in)
	if err := intel.Invalid(append(missing, intel.Fields(err)...)); err != nil {
		return err
	}
	in, err = s.Store.CreateInstance(r.Context(), in, token, s.Seal, nil)
	if err != nil {
		return err
	}
	s.audit(r, p, "instance.create", in.Ref(), map[string]any{"base_url": in.BaseURL, "verify_tls": in.VerifyTLS,
		"token": "set"})
	v, err := s.view(r, in)
	if err != nil {
		return err
	}
	v.Warnings = tlsWarnings(q, in)
	w.Header().Set("Location", fmt.Sprintf("/api/v1/instances/%d", in.ID))
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) updateInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	in, err := s.instance(r)
	if err != nil {
		return err
	}
	var q instanceRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	before := in
	token, err := q.check(&in)
	if err != nil {
		return err
	}
	if in, err = s.Store.UpdateInstance(r.Context(), in, token, s.Seal); err != nil {
		return err
	}
	s.audit(r, p, "instance.update", in.Ref(), InstanceChanges(before, in, token != ""))
	v, err := s.view(r, in)
	if err != nil {
		return err
	}
	v.Warnings = tlsWarnings(q, in)
	writeJSON(w, http.StatusOK, v)
	return nil
}

// InstanceChanges says what changed, for the audit trail; of the token only
// that it was replaced.
func InstanceChanges(a, b feed.Instance, token bool) map[string]any {
	d := map[string]any{}
	if a.Name != b.Name {
		d["name"] = []string{a.Name, b.Name}
	}
	if a.BaseURL != b.BaseURL {
		d["base_url"] = []string{a.BaseURL, b.BaseURL}
	}
	if a.VerifyTLS != b.VerifyTLS {
		d["verify_tls"] = []bool{a.VerifyTLS, b.VerifyTLS}
	}
	if token {
		d["token"] = "replaced"
	}
	return d
}

func (s *Server) deleteInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	in, err := s.instance(r)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteInstance(r.Context(), in.Name); err != nil {
		return err
	}
	s.audit(r, p, "instance.delete", in.Ref(), nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// TestResult is a channel's connectivity test: its working status and
// error code, never what the upstream answered (so that a base URL pointed
// at an internal service shows nothing of it here).
type TestResult struct {
	Channel   feed.Kind   `json:"channel"`
	OK        bool        `json:"ok"`
	Status    feed.Status `json:"status"`
	ErrorCode string      `json:"error_code,omitempty"`
}

func (s *Server) test(r *http.Request, ch feed.Channel) TestResult {
	h, err := s.Scheduler.Test(r.Context(), ch)
	res := TestResult{Channel: ch.Kind, OK: err == nil, Status: h.Status}
	if err != nil {
		res.ErrorCode = h.ErrorCode
	}
	if err != nil && res.ErrorCode == "" {
		res.ErrorCode = intel.ErrorCode(err)
	}
	return res
}

func (s *Server) testAll(r *http.Request, in feed.Instance) ([]TestResult, error) {
	chs, err := s.Store.Channels(r.Context(), in.Name)
	if err != nil {
		return nil, err
	}
	out := []TestResult{}
	for _, ch := range chs {
		out = append(out, s.test(r, ch))
	}
	return out, nil
}

func (s *Server) testInstance(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	in, err := s.instance(r)
	if err != nil {
		return err
	}
	res, err := s.testAll(r, in)
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
	in, err := s.instance(r)
	if err != nil {
		return err
	}
	var q instanceRequest
	if err := decode(r, &q); err != nil {
		return err
	}
	var bad []intel.FieldError
	if q.BaseURL == nil {
		bad = append(bad, intel.FieldError{Field: "base_url", Message: "base_url is required: the Flashpoint Ignite base URL"})
	}
	if q.Token == nil {
		bad = append(bad, intel.FieldError{Field: "token", Message: "token is required: the Flashpoint Ignite bearer token"})
	}
	if q.Name != nil || q.VerifyTLS != nil {
		bad = append(bad, intel.FieldError{Field: "name", Message: "migrate takes base_url and token only; rename with PATCH"})
	}
	before := in
	token, err := q.check(&in)
	if err := intel.Invalid(append(bad, intel.Fields(err)...)); err != nil {
		return err
	}
	if in, err = s.Store.UpdateInstance(r.Context(), in, token, s.Seal); err != nil {
		return err
	}
	s.audit(r, p, "instance.migrate", in.Ref(), InstanceChanges(before, in, true))
	res, err := s.testAll(r, in)
	if err != nil {
		return err
	}
	v, err := s.view(r, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"instance": v, "results": res})
	return nil
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	in, err := s.instance(r)
	if err != nil {
		return err
	}
	v, err := s.view(r, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": v.Channels})
	return nil
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ch, err := s.channel(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ch)
	return nil
}

// updateChannel applies a partial settings object: the fields given replace
// the channel's (filters field by field); the same validation as the CLI,
// every bad field reported. "enabled": true also re-enables a channel the
// health machine disabled.
func (s *Server) updateChannel(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ch, err := s.channel(r)
	if err != nil {
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
	next := ch.Settings // a given list (tags, filter lists) replaces the old one; objects merge field by field
	if err := strictUnmarshal(body, &next); err != nil {
		return err
	}
	if next.TLP != ch.Settings.TLP && !p.MayMark() {
		return intel.Errorf(intel.EFORBIDDEN, "the key %q is capped at TLP %s: only a key without a cap may change a channel's TLP (it marks what the channel brings)",
			p.Name, p.MaxTLP)
	}
	now := s.now().UTC()
	before := ch.Settings
	warnings, err := ch.Update(next, now)
	if err != nil {
		return err
	}
	if e, given := raw["enabled"]; given && string(e) == "true" {
		ch.Health.Enable(now)
	}
	if err := s.Store.SaveChannel(r.Context(), ch); err != nil {
		return err
	}
	if err := s.Scheduler.Reschedule(r.Context(), ch); err != nil {
		return err
	}
	s.audit(r, p, "channel.update", ch.Ref(),
		map[string]any{"before": before, "after": ch.Settings})
	if ch, err = s.Store.ChannelByID(r.Context(), ch.ID); err != nil {
		return err
	}
	if warnings == nil {
		warnings = []string{}
	}
	writeJSON(w, http.StatusOK, struct {
		feed.Channel
		Warnings []string `json:"warnings"`
	}{ch, warnings})
	return nil
}

// pollChannel starts a poll and answers 202 with its run id; the poll goes
// on after the response (GET .../runs follows it). 409 when a poll of the
// channel is already running, here or on another replica.
func (s *Server) pollChannel(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ch, err := s.channel(r)
	if err != nil {
		return err
	}
	if err := drain(r); err != nil {
		return err
	}
	run, done, err := s.Scheduler.Start(s.baseContext(), ch, feed.TriggerManual)
	if err != nil {
		return err
	}
	go func() {
		res := <-done
		if res.Err != nil {
			s.log().Warn("api: poll failed", "channel", ch.ID, "run", res.Run.ID, "error", res.Err)
		}
	}()
	s.audit(r, p, "channel.poll", ch.Ref(), map[string]int64{"run_id": run.ID})
	w.Header().Set("Location", fmt.Sprintf("/api/v1/instances/%d/channels/%s/runs", ch.InstanceID, ch.Kind))
	writeJSON(w, http.StatusAccepted, map[string]any{"run_id": run.ID, "status": run.Outcome})
	return nil
}

func (s *Server) testChannel(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ch, err := s.channel(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.test(r, ch))
	return nil
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ch, err := s.channel(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 20, 1, 1000)
	if err != nil {
		return err
	}
	runs, err := s.Store.Polls(r.Context(), ch.ID, limit)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []feed.PollRun{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
	return nil
}

// listCollections counts, in each collection, the objects the key may see.
func (s *Server) listCollections(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	cs, err := s.Store.CollectionsUpTo(r.Context(), p.Cap())
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []intel.Collection{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"collections": cs})
	return nil
}
