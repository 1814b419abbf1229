package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
)

// Administration: API keys (shown once, revoked), users, the audit trail.

func (s *Server) adminRoutes() []route {
	return []route{
		{"GET /admin/keys", auth.ManageKeys, s.keys},
		{"POST /admin/keys", auth.ManageKeys, s.createKey},
		{"POST /admin/keys/{id}/revoke", auth.ManageKeys, s.revokeKey},
		{"GET /admin/users", auth.ManageKeys, s.users},
		{"POST /admin/users", auth.ManageKeys, s.createUser},
		{"POST /admin/users/{name}/remove", auth.ManageKeys, s.removeUser},
		{"GET /admin/audit", auth.ManageKeys, s.audit},
		{"GET /account", "", s.account},
		{"POST /account/password", "", s.changePassword},
	}
}

func (s *Server) keysPage(w http.ResponseWriter, r *http.Request, v *visit, status int, f *form, created *service.CreatedKey) error {
	keys, err := s.Service.Keys(r.Context(), v.P)
	if err != nil {
		return err
	}
	s.render(w, r, status, "keys", v, "API keys", map[string]any{"Keys": keys, "Form": f, "Created": created,
		"Roles": auth.Roles(), "TLPs": []string{"", "clear", "green", "amber", "amber+strict", "red"}})
	return nil
}

func (s *Server) keys(w http.ResponseWriter, r *http.Request, v *visit) error {
	return s.keysPage(w, r, v, http.StatusOK, newForm(), nil)
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm()
	for _, k := range []string{"name", "role", "max_tlp"} {
		f.Values[k] = r.PostFormValue(k)
	}
	k, err := s.Service.CreateKey(r.Context(), v.P, service.KeyInput{Name: f.Values["name"], Role: f.Values["role"], MaxTLP: f.Values["max_tlp"]})
	if err != nil {
		if !refusable(err) && intel.ErrorCode(err) != intel.EFORBIDDEN {
			return err
		}
		f.refuse(err)
		return s.keysPage(w, r, v, http.StatusUnprocessableEntity, f, nil)
	}
	return s.keysPage(w, r, v, http.StatusOK, newForm(), &k) // the key, this once
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return intel.Errorf(intel.ENOTFOUND, "no key %q", r.PathValue("id"))
	}
	if _, _, err := s.Service.RevokeKey(r.Context(), v.P, id); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/keys", http.StatusSeeOther)
	return nil
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, v *visit, status int, f *form) error {
	us, err := s.Service.Users(r.Context(), v.P)
	if err != nil {
		return err
	}
	s.render(w, r, status, "users", v, "Users", map[string]any{"Users": us, "Form": f, "Roles": auth.Roles(),
		"TLPs": []string{"", "clear", "green", "amber", "amber+strict", "red"}})
	return nil
}

func (s *Server) users(w http.ResponseWriter, r *http.Request, v *visit) error {
	return s.usersPage(w, r, v, http.StatusOK, newForm())
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm()
	for _, k := range []string{"name", "role", "max_tlp"} {
		f.Values[k] = r.PostFormValue(k)
	}
	_, err := s.Service.CreateUser(r.Context(), v.P, service.UserInput{Name: f.Values["name"], Role: f.Values["role"],
		MaxTLP: f.Values["max_tlp"], Password: r.PostFormValue("password")})
	if err != nil {
		if !refusable(err) && intel.ErrorCode(err) != intel.EFORBIDDEN {
			return err
		}
		f.refuse(err)
		return s.usersPage(w, r, v, http.StatusUnprocessableEntity, f)
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
	return nil
}

func (s *Server) removeUser(w http.ResponseWriter, r *http.Request, v *visit) error {
	if _, err := s.Service.RemoveUser(r.Context(), v.P, r.PathValue("name")); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
	return nil
}

// auditLen is how many records an audit page lists.
const auditLen = 100

func (s *Server) audit(w http.ResponseWriter, r *http.Request, v *visit) error {
	var before int64
	if b := r.URL.Query().Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return intel.Errorf(intel.EINVALID, "before %q must be a record id", b)
		}
		before = n
	}
	recs, next, err := s.Service.AuditTrail(r.Context(), v.P, before, auditLen)
	if err != nil {
		return err
	}
	more := ""
	if next != "" {
		more = "/admin/audit?" + url.Values{"before": {next}}.Encode()
	}
	s.render(w, r, http.StatusOK, "audit", v, "Audit trail", map[string]any{"Records": recs, "More": more})
	return nil
}

func (s *Server) account(w http.ResponseWriter, r *http.Request, v *visit) error {
	s.render(w, r, http.StatusOK, "account", v, "Your account", map[string]any{"Form": newForm()})
	return nil
}

// changePassword sets the signed-in user's password (which ends its
// sessions, this one too: it signs in again).
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm()
	// The current password first: a session left open is not enough to
	// take the account (a wrong one counts as a failed sign-in).
	if _, err := s.Service.SignIn(r.Context(), v.P.Name, r.PostFormValue("current")); err != nil {
		if intel.ErrorCode(err) != intel.EUNAUTHORIZED {
			return err
		}
		f.Errors["current"] = "the current password is wrong"
		s.render(w, r, http.StatusUnprocessableEntity, "account", v, "Your account", map[string]any{"Form": f})
		return nil
	}
	if r.PostFormValue("password") != r.PostFormValue("again") {
		f.Errors["again"] = "the two passwords differ"
		s.render(w, r, http.StatusUnprocessableEntity, "account", v, "Your account", map[string]any{"Form": f})
		return nil
	}
	if err := s.Service.SetPassword(r.Context(), v.P, v.P.Name, r.PostFormValue("password")); err != nil {
		if !refusable(err) {
			return err
		}
		f.refuse(err)
		s.render(w, r, http.StatusUnprocessableEntity, "account", v, "Your account", map[string]any{"Form": f})
		return nil
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
