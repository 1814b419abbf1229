package web

import (
	"net/http"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
)

type loginData struct {
	Name, Next, Error string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, _ *visit) error {
	if v, err := s.visitOf(r); err == nil && v != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	s.render(w, r, http.StatusOK, "login", nil, "Sign in", loginData{Next: safeNext(r.URL.Query().Get("next"))})
	return nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *visit) error {
	name, password, next := r.PostFormValue("name"), r.PostFormValue("password"), safeNext(r.PostFormValue("next"))
	again := func(status int, msg string) error {
		s.render(w, r, status, "login", nil, "Sign in", loginData{Name: name, Next: next, Error: msg})
		return nil
	}
	addr := auth.ClientAddr(r)
	if s.throttle.Held(addr) {
		w.Header().Set("Retry-After", "1")
		return again(http.StatusTooManyRequests, "Too many failed sign-ins from this address: wait a moment and try again.")
	}
	in, err := s.Service.SignIn(r.Context(), name, password)
	if err != nil {
		if intel.ErrorCode(err) != intel.EUNAUTHORIZED {
			return err
		}
		s.throttle.Fail(addr)
		s.log().Warn("web: sign-in failed", "user", name, "remote", addr)
		return again(http.StatusUnauthorized, intel.ErrorMessage(err)+".")
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: in.Cookie, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.Secure || r.TLS != nil, MaxAge: int(service.SessionAbsolute / time.Second)})
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *visit) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := s.Service.SignOut(r.Context(), v.P, c.Value); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.Secure || r.TLS != nil, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
