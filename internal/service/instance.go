package service

import (
	"context"
	"strconv"
	"strings"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
)

// InstanceInput is a change to an instance: the fields given (not nil) are
// set, the others kept. The token is write-only: no result carries it.
type InstanceInput struct {
	Name      *string
	BaseURL   *string
	VerifyTLS *bool
	Token     *string
}

// apply validates the fields given onto in, collecting every field error.
func (q InstanceInput) apply(in *feed.Instance) (token string, err error) {
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

// warnings are a change's warnings: TLS verification turned off.
func (q InstanceInput) warnings(in feed.Instance) []string {
	if q.VerifyTLS != nil && !in.VerifyTLS {
		return []string{feed.NoVerifyTLSWarning}
	}
	return nil
}

// InstanceView is an instance with its channels, and the warnings of the
// change that produced it.
type InstanceView struct {
	feed.Instance
	Channels []feed.Channel `json:"channels"`
	Warnings []string       `json:"warnings,omitempty"`
}

// findInstance resolves ref: an instance's id (all digits; names never
// are) or its name, in any case.
func (s *Service) findInstance(ctx context.Context, ref string) (feed.Instance, error) {
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || strings.Trim(ref, "0123456789") != "" {
		return s.Store.Instance(ctx, ref)
	}
	ins, err := s.Store.Instances(ctx)
	if err != nil {
		return feed.Instance{}, err
	}
	for _, in := range ins {
		if in.ID == id {
			return in, nil
		}
	}
	return feed.Instance{}, intel.Errorf(intel.ENOTFOUND, "no instance %q (give its id or its name)", ref)
}

func (s *Service) view(ctx context.Context, in feed.Instance) (InstanceView, error) {
	chs, err := s.Store.Channels(ctx, in.Name)
	if chs == nil {
		chs = []feed.Channel{}
	}
	return InstanceView{Instance: in, Channels: chs}, err
}

// Instances lists the instances with their channels.
func (s *Service) Instances(ctx context.Context, p *auth.Principal) ([]InstanceView, error) {
	if err := need(p, auth.ViewFeedSource); err != nil {
		return nil, err
	}
	ins, err := s.Store.Instances(ctx)
	if err != nil {
		return nil, err
	}
	out := []InstanceView{}
	for _, in := range ins {
		v, err := s.view(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Instance finds an instance by id or name, with its channels.
func (s *Service) Instance(ctx context.Context, p *auth.Principal, ref string) (InstanceView, error) {
	if err := need(p, auth.ViewFeedSource); err != nil {
		return InstanceView{}, err
	}
	in, err := s.findInstance(ctx, ref)
	if err != nil {
		return InstanceView{}, err
	}
	return s.view(ctx, in)
}

// CreateInstance adds an instance, its three channels disabled. Name and
// token are required; the base URL defaults to Flashpoint Ignite's and TLS
// verification to on.
func (s *Service) CreateInstance(ctx context.Context, p *auth.Principal, q InstanceInput) (InstanceView, error) {
	if err := need(p, auth.CreateFeedSource); err != nil {
		return InstanceView{}, err
	}
	var missing []intel.FieldError
	if q.Name == nil {
		missing = append(missing, intel.FieldError{Field: "name", Message: "name is required (1–64 characters)"})
	}
	if q.Token == nil {
		missing = append(missing, intel.FieldError{Field: "token", Message: "token is required: the Flashpoint Ignite bearer token"})
	}
	in := feed.Instance{VerifyTLS: true, BaseURL: feed.DefaultBaseURL}
	token, err := q.apply(&in)
	if err := intel.Invalid(append(missing, intel.Fields(err)...)); err != nil {
		return InstanceView{}, err
	}
	if in, err = s.Store.CreateInstance(ctx, in, token, s.Seal, nil); err != nil {
		return InstanceView{}, err
	}
	s.audit(ctx, p, "instance.create", in.Ref(), map[string]any{"base_url": in.BaseURL, "verify_tls": in.VerifyTLS, "token": "set"})
	v, err := s.view(ctx, in)
	v.Warnings = q.warnings(in)
	return v, err
}

// UpdateInstance changes the fields given of an instance.
func (s *Service) UpdateInstance(ctx context.Context, p *auth.Principal, ref string, q InstanceInput) (InstanceView, error) {
	if err := need(p, auth.UpdateFeedSource); err != nil {
		return InstanceView{}, err
	}
	in, err := s.findInstance(ctx, ref)
	if err != nil {
		return InstanceView{}, err
	}
	before := in
	token, err := q.apply(&in)
	if err != nil {
		return InstanceView{}, err
	}
	if in, err = s.Store.UpdateInstance(ctx, in, token, s.Seal); err != nil {
		return InstanceView{}, err
	}
	s.audit(ctx, p, "instance.update", in.Ref(), changes(before, in, token != ""))
	v, err := s.view(ctx, in)
	v.Warnings = q.warnings(in)
	return v, err
}

// changes says what changed, for the audit trail; of the token only that
// it was replaced.
func changes(a, b feed.Instance, token bool) map[string]any {
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

// RemoveInstance removes an instance with its channels, cursors and poll
// history; the intelligence it brought stays, with its provenance.
func (s *Service) RemoveInstance(ctx context.Context, p *auth.Principal, ref string) (feed.Instance, error) {
	if err := need(p, auth.UpdateFeedSource); err != nil {
		return feed.Instance{}, err
	}
	in, err := s.findInstance(ctx, ref)
	if err != nil {
		return feed.Instance{}, err
	}
	if err := s.Store.DeleteInstance(ctx, in.Name); err != nil {
		return feed.Instance{}, err
	}
	s.audit(ctx, p, "instance.delete", in.Ref(), nil)
	return in, nil
}

// Migrated is an instance moved to a new base URL and token, and the
// connectivity test of its channels that followed.
type Migrated struct {
	Instance InstanceView `json:"instance"`
	Results  []TestResult `json:"results"`
}

// MigrateInstance moves a legacy instance to Flashpoint Ignite: a new base
// URL and token in one step; channels, cursors, collections and history
// stay. Its channels are tested at once.
func (s *Service) MigrateInstance(ctx context.Context, p *auth.Principal, ref, baseURL, token string) (Migrated, error) {
	if err := need(p, auth.UpdateFeedSource); err != nil {
		return Migrated{}, err
	}
	var bad []intel.FieldError
	if baseURL == "" {
		bad = append(bad, intel.FieldError{Field: "base_url", Message: "base_url is required: the Flashpoint Ignite base URL"})
	}
	if token == "" {
		bad = append(bad, intel.FieldError{Field: "token", Message: "token is required: the Flashpoint Ignite bearer token"})
	}
	in, err := s.findInstance(ctx, ref)
	if err != nil {
		return Migrated{}, err
	}
	before := in
	var q InstanceInput
	if baseURL != "" {
		q.BaseURL = &baseURL
	}
	if token != "" {
		q.Token = &token
	}
	tok, err := q.apply(&in)
	if err := intel.Invalid(append(bad, intel.Fields(err)...)); err != nil {
		return Migrated{}, err
	}
	if in, err = s.Store.UpdateInstance(ctx, in, tok, s.Seal); err != nil {
		return Migrated{}, err
	}
	s.audit(ctx, p, "instance.migrate", in.Ref(), changes(before, in, true))
	res, err := s.testAll(ctx, in)
	if err != nil {
		return Migrated{}, err
	}
	v, err := s.view(ctx, in)
	return Migrated{v, res}, err
}

// TestResult is a channel's connectivity test: its working status and
// error code. Message (the upstream's words, as the health machine
// recorded them) is for the operator at the command line and the console;
// the API leaves it out, so that a base URL pointed at an internal service
// shows nothing of it there.
type TestResult struct {
	Channel   feed.Kind   `json:"channel"`
	OK        bool        `json:"ok"`
	Status    feed.Status `json:"status"`
	ErrorCode string      `json:"error_code,omitempty"`
	Message   string      `json:"-"`
}

func (s *Service) test(ctx context.Context, ch feed.Channel) TestResult {
	h, err := s.Scheduler.Test(ctx, ch)
	res := TestResult{Channel: ch.Kind, OK: err == nil, Status: h.Status}
	if err != nil {
		res.ErrorCode, res.Message = h.ErrorCode, h.ErrorMessage
		if res.ErrorCode == "" {
			res.ErrorCode, res.Message = intel.ErrorCode(err), intel.ErrorMessage(err)
		}
	}
	return res
}

func (s *Service) testAll(ctx context.Context, in feed.Instance) ([]TestResult, error) {
	chs, err := s.Store.Channels(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	out := []TestResult{}
	for _, ch := range chs {
		out = append(out, s.test(ctx, ch))
	}
	return out, nil
}

// TestInstance tests the connectivity of each of an instance's channels,
// updating their health.
func (s *Service) TestInstance(ctx context.Context, p *auth.Principal, ref string) ([]TestResult, error) {
	if err := need(p, auth.UpdateFeedSource); err != nil {
		return nil, err
	}
	in, err := s.findInstance(ctx, ref)
	if err != nil {
		return nil, err
	}
	return s.testAll(ctx, in)
}
