// Package web is Flint's console: server-rendered HTML pages over the use
// cases of service/, for people, behind sign-in (console users, sessions
// kept in the store) with a CSRF token on every form. Templates and static
// files are embedded; the little JavaScript there is only improves pages
// that work without it. No request leaves the machine.
package web

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server is the console.
type Server struct {
	Service *service.Service
	Log     *slog.Logger
	// BaseContext returns the context of work that outlives a request (a
	// poll started from a page).
	BaseContext func() context.Context
	// Secure marks the session cookie Secure: set it when the console is
	// reached over TLS (directly or behind a proxy). A request that came
	// over TLS gets a Secure cookie in any case.
	Secure bool

	once      sync.Once
	pages     map[string]*template.Template
	throttle  *auth.Throttle // failed sign-ins per client address
	crossSite *http.CrossOriginProtection
}

// SessionCookie is the name of the session cookie.
const SessionCookie = "flint_session"

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) baseContext() context.Context {
	if s.BaseContext != nil {
		return s.BaseContext()
	}
	return context.Background()
}

func (s *Server) init() {
	s.once.Do(func() {
		s.pages = map[string]*template.Template{}
		names, err := fs.Glob(templateFS, "templates/*.html")
		if err != nil {
			panic(err)
		}
		for _, n := range names {
			name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
			if name == "layout" || name == "partials" {
				continue
			}
			s.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS,
				"templates/layout.html", "templates/partials.html", n))
		}
		s.crossSite = http.NewCrossOriginProtection()
		s.throttle = &auth.Throttle{Burst: failBurst, Every: time.Second, MaxAddrs: failAddrs}
	})
}

// handler is a page's handler; p is the signed-in user (nil on public
// pages). A returned error becomes an error page.
type handler func(w http.ResponseWriter, r *http.Request, v *visit) error

// visit is one request's sign-in: the principal and its CSRF token.
type visit struct {
	P    *auth.Principal
	CSRF string
}

// Handler returns the console's handler: every page, the static files,
// and security headers on every answer.
func (s *Server) Handler() http.Handler {
	s.init()
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.Handle("GET /login", s.public(s.loginPage))
	mux.Handle("POST /login", s.public(s.login))
	mux.Handle("POST /logout", s.signedIn(s.logout, ""))
	mux.Handle("GET /{$}", http.RedirectHandler("/sources", http.StatusSeeOther))
	for _, rt := range append(append(s.routes(), s.intelRoutes()...), s.adminRoutes()...) {
		mux.Handle(rt.pattern, s.signedIn(rt.h, rt.perm))
	}
	mux.Handle("/", s.signedIn(func(w http.ResponseWriter, r *http.Request, v *visit) error {
		return intel.Errorf(intel.ENOTFOUND, "there is no page %s", r.URL.Path)
	}, ""))
	return s.headers(mux)
}

// route is a page and the permission it needs.
type route struct {
	pattern string
	perm    auth.Permission
	h       handler
}

// headers sets the security headers every answer carries.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// public serves a page that needs no sign-in (the sign-in page).
func (s *Server) public(h handler) http.Handler {
	return s.guard(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if err := s.crossSite.Check(r); err != nil {
				s.fail(w, r, nil, intel.Errorf(intel.EFORBIDDEN, "a form from another site was refused"))
				return
			}
		}
		if err := h(w, r, &visit{}); err != nil {
			s.fail(w, r, nil, err)
		}
	})
}

// signedIn serves a page to a signed-in user holding perm ("" : any),
// and checks the CSRF token of every request that changes something.
func (s *Server) signedIn(h handler, perm auth.Permission) http.Handler {
	return s.guard(func(w http.ResponseWriter, r *http.Request) {
		v, err := s.visitOf(r)
		if err != nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.fail(w, r, nil, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := s.crossSite.Check(r); err != nil {
				s.fail(w, r, v, intel.Errorf(intel.EFORBIDDEN, "a form from another site was refused"))
				return
			}
			if got := r.PostFormValue("csrf"); subtle.ConstantTimeCompare([]byte(got), []byte(v.CSRF)) != 1 {
				s.fail(w, r, v, intel.Errorf(intel.EFORBIDDEN, "the form's security token is missing or stale: reload the page and send it again"))
				return
			}
		}
		if perm != "" && !v.P.Can(perm) {
			s.fail(w, r, v, intel.Errorf(intel.EFORBIDDEN, "your role (%s) lacks the %s permission this page needs", v.P.Role, perm))
			return
		}
		if err := h(w, r, v); err != nil {
			s.fail(w, r, v, err)
		}
	})
}

// guard recovers a panicking page and bounds form bodies.
func (s *Server) guard(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log().Error("web: page panicked", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		h(w, r)
	})
}

// maxForm bounds a form's body (a CMDB file upload fits).
const maxForm = 16 << 20

func (s *Server) visitOf(r *http.Request) (*visit, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, intel.Errorf(intel.EUNAUTHORIZED, "sign in")
	}
	p, csrf, err := s.Service.SessionOf(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	return &visit{P: p, CSRF: csrf}, nil
}

// statusOf maps error codes to statuses for pages.
var statusOf = map[string]int{
	intel.ENOTFOUND:     http.StatusNotFound,
	intel.EINVALID:      http.StatusUnprocessableEntity,
	intel.ECONFLICT:     http.StatusConflict,
	intel.EUNAUTHORIZED: http.StatusUnauthorized,
	intel.EFORBIDDEN:    http.StatusForbidden,
}

// fail renders an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	var mbe *http.MaxBytesError
	status, msg := http.StatusInternalServerError, "Something went wrong on the server; it is logged."
	switch {
	case errors.As(err, &mbe):
		status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is over the limit of %d bytes.", mbe.Limit)
	default:
		if st, ok := statusOf[intel.ErrorCode(err)]; ok {
			status, msg = st, intel.ErrorMessage(err)
		} else {
			s.log().Error("web: page failed", "path", r.URL.Path, "error", err)
		}
	}
	s.render(w, r, status, "error", v, "Error", map[string]any{"Status": status, "StatusText": http.StatusText(status), "Message": msg})
}

// view is what every page template gets.
type view struct {
	Title string
	User  *auth.Principal
	CSRF  string
	Path  string
	Data  any
}

// render writes a page (buffered: a failing template writes nothing).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *visit, title string, data any) {
	t := s.pages[page]
	if t == nil {
		panic("web: no template " + page)
	}
	vw := view{Title: title, Path: r.URL.Path, Data: data}
	if v != nil {
		vw.User, vw.CSRF = v.P, v.CSRF
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", vw); err != nil {
		s.log().Error("web: template failed", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// Failed sign-ins per address: a burst, then one per second; at most
// failAddrs addresses tracked.
const (
	failBurst = 10
	failAddrs = 10000
)

// safeNext keeps a post-sign-in destination on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/sources"
	}
	return next
}

// Route describes a page for tests: its method and pattern, and the
// permission it needs ("" : any signed-in user).
type Route struct {
	Pattern string
	Perm    auth.Permission
}

// Routes lists every page that needs a sign-in.
func Routes() []Route {
	s := &Server{}
	var out []Route
	for _, rt := range append(append(s.routes(), s.intelRoutes()...), s.adminRoutes()...) {
		out = append(out, Route{rt.pattern, rt.perm})
	}
	return out
}
