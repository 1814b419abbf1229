package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/stix"
	"github.com/flintcti/flint/internal/taxii"
)

// TAXII 2.1, read-only, on the API's listener and keys (docs/taxii.md).
const (
	taxiiBase = "/taxii2/"
	taxiiRoot = "/taxii2/flint/"
	taxiiColl = taxiiRoot + "collections/{collection}/"
)

// taxiiRoutes are TAXII's routes: every one needs read_intel, negotiates
// application/taxii+json;version=2.1 and answers errors as TAXII error
// messages; those that read objects run under the query budget (a page is
// whole or a 503: the next token is given with the page only).
func (s *Server) taxiiRoutes() []route {
	return []route{
		{"GET", taxiiBase + "{$}", auth.ReadIntel, s.taxiiDiscovery},
		{"GET", taxiiRoot + "{$}", auth.ReadIntel, s.taxiiAPIRoot},
		{"GET", taxiiRoot + "collections/{$}", auth.ReadIntel, s.taxiiCollections},
		{"GET", taxiiColl + "{$}", auth.ReadIntel, s.taxiiCollection},
		{"GET", taxiiColl + "objects/{$}", auth.ReadIntel, s.budget(s.taxiiObjects)},
		{"POST", taxiiColl + "objects/{$}", auth.ReadIntel, s.taxiiReadOnly},
		{"GET", taxiiColl + "objects/{object}/{$}", auth.ReadIntel, s.budget(s.taxiiObject)},
		{"DELETE", taxiiColl + "objects/{object}/{$}", auth.ReadIntel, s.taxiiReadOnly},
		{"GET", taxiiColl + "objects/{object}/versions/{$}", auth.ReadIntel, s.budget(s.taxiiVersions)},
		{"GET", taxiiColl + "manifest/{$}", auth.ReadIntel, s.budget(s.taxiiManifest)},
		{"GET", taxiiRoot + "status/{status}/{$}", auth.ReadIntel, s.taxiiStatus},
	}
}

// TAXIIRoutes lists TAXII's routes with their permission, for tests.
func TAXIIRoutes() []Route {
	var out []Route
	for _, r := range (&Server{}).taxiiRoutes() {
		out = append(out, Route{r.Method, r.Pattern, r.Perm})
	}
	return out
}

// mountTAXII adds TAXII's routes to mux, and answers any other request
// under /taxii2/ with a TAXII error (404, or 405 for a method a path does
// not take).
func (s *Server) mountTAXII(mux *http.ServeMux) {
	for _, rt := range s.taxiiRoutes() {
		h := rt.h
		rt.h = func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
			if !taxii.Acceptable(r.Header.Get("Accept")) {
				return &httpError{http.StatusNotAcceptable, "not_acceptable",
					fmt.Sprintf("Accept %q does not admit TAXII 2.1; send Accept: %s", r.Header.Get("Accept"), taxii.MediaType)}
			}
			return h(w, r, p)
		}
		mux.Handle(rt.Method+" "+rt.Pattern, s.guard(rt, s.taxiiError))
	}
	mux.HandleFunc(taxiiBase, func(w http.ResponseWriter, r *http.Request) {
		rr := *r
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			rr.Method = m
			if _, p := mux.Handler(&rr); p != "" && p != taxiiBase {
				w.Header().Set("Allow", m)
				s.taxiiError(w, r, &httpError{http.StatusMethodNotAllowed, "method_not_allowed",
					fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)})
				return
			}
		}
		s.taxiiError(w, r, &httpError{http.StatusNotFound, "not_found",
			fmt.Sprintf("no TAXII resource at %s (the API root is %s)", r.URL.Path, taxiiRoot)})
	})
}

// taxiiError writes an error as a TAXII error message. A malformed request
// is a 400, as TAXII has it (the API answers 422).
func (s *Server) taxiiError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := classify(r, s.log(), err)
	if status == http.StatusUnprocessableEntity {
		status = http.StatusBadRequest
	}
	desc := body.Error.Message
	for _, f := range body.Error.Fields {
		if !strings.Contains(desc, f.Message) {
			desc += "; " + f.Message
		}
	}
	writeTAXII(w, status, taxii.Error{Title: http.StatusText(status), Description: desc, HTTPStatus: strconv.Itoa(status)})
}

func writeTAXII(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", taxii.MediaType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (s *Server) taxiiDiscovery(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	writeTAXII(w, http.StatusOK, taxii.Discovery{Title: "Flint", Default: taxiiRoot, APIRoots: []string{taxiiRoot},
		Description: "Flint's TAXII 2.1 server: Flashpoint Ignite intelligence, read-only, one collection per Flint collection."})
	return nil
}

func (s *Server) taxiiAPIRoot(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	maxBody := s.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	writeTAXII(w, http.StatusOK, taxii.APIRoot{Title: "Flint", Versions: []string{taxii.MediaType}, MaxContentLength: maxBody,
		Description: "Flint's collections of Flashpoint Ignite intelligence as STIX 2.1."})
	return nil
}

func (s *Server) taxiiCollections(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	cs, err := s.Service.TAXIICollections(r.Context(), p)
	if err != nil {
		return err
	}
	writeTAXII(w, http.StatusOK, taxii.Collections{Collections: cs})
	return nil
}

func (s *Server) taxiiCollection(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	c, err := s.Service.TAXIICollection(r.Context(), p, r.PathValue("collection"))
	if err != nil {
		return err
	}
	writeTAXII(w, http.StatusOK, c)
	return nil
}

// envelope is TAXII's envelope of objects.
type envelope struct {
	More    bool           `json:"more"`
	Next    string         `json:"next,omitempty"`
	Objects []*stix.Object `json:"objects,omitempty"`
}

// dateAdded sets the headers of the first and last date_added of a page.
func dateAdded(w http.ResponseWriter, objs []service.TAXIIObject) {
	if len(objs) == 0 {
		return
	}
	w.Header().Set("X-TAXII-Date-Added-First", taxii.Timestamp(objs[0].DateAdded))
	w.Header().Set("X-TAXII-Date-Added-Last", taxii.Timestamp(objs[len(objs)-1].DateAdded))
}

func (s *Server) taxiiPage(r *http.Request, p *auth.Principal, params []string, object string) (service.TAXIIPage, error) {
	f, err := taxii.ParseFilter(r.URL.Query(), params...)
	if err != nil {
		return service.TAXIIPage{}, err
	}
	if object != "" {
		if !taxii.ValidID(object) {
			return service.TAXIIPage{}, intel.Errorf(intel.EINVALID, "%q is not a STIX identifier (type--UUID)", object)
		}
		f.IDs = []string{strings.ToLower(object)}
	}
	return s.Service.TAXIIObjects(r.Context(), p, r.PathValue("collection"), f)
}

func (s *Server) writeEnvelope(w http.ResponseWriter, page service.TAXIIPage) {
	env := envelope{More: page.More, Next: page.Next}
	for _, o := range page.Objects {
		env.Objects = append(env.Objects, o.Object)
	}
	dateAdded(w, page.Objects)
	writeTAXII(w, http.StatusOK, env)
}

func (s *Server) taxiiObjects(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	page, err := s.taxiiPage(r, p, taxii.ObjectsParams, "")
	if err != nil {
		return err
	}
	s.writeEnvelope(w, page)
	return nil
}

func (s *Server) taxiiObject(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	page, err := s.taxiiPage(r, p, taxii.ObjectParams, r.PathValue("object"))
	if err != nil {
		return err
	}
	if len(page.Objects) == 0 && r.URL.Query().Get("next") == "" {
		return intel.Errorf(intel.ENOTFOUND, "no object %q in this collection matches", r.PathValue("object"))
	}
	s.writeEnvelope(w, page)
	return nil
}

func (s *Server) taxiiManifest(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	page, err := s.taxiiPage(r, p, taxii.ObjectsParams, "")
	if err != nil {
		return err
	}
	m := taxii.Manifest{More: page.More, Next: page.Next}
	for _, o := range page.Objects {
		m.Objects = append(m.Objects, taxii.ManifestRecord{ID: o.Object.ID, DateAdded: taxii.Timestamp(o.DateAdded),
			Version: taxii.Timestamp(o.Version), MediaType: taxii.STIXMediaType})
	}
	dateAdded(w, page.Objects)
	writeTAXII(w, http.StatusOK, m)
	return nil
}

func (s *Server) taxiiVersions(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	f, err := taxii.ParseFilter(r.URL.Query(), taxii.VersionsParams...)
	if err != nil {
		return err
	}
	id := r.PathValue("object")
	if !taxii.ValidID(id) {
		return intel.Errorf(intel.EINVALID, "%q is not a STIX identifier (type--UUID)", id)
	}
	page, err := s.Service.TAXIIVersions(r.Context(), p, r.PathValue("collection"), strings.ToLower(id), f)
	if err != nil {
		return err
	}
	if len(page.Objects) == 0 && f.Next == "" {
		return intel.Errorf(intel.ENOTFOUND, "no object %q in this collection", id)
	}
	v := taxii.Versions{More: page.More, Next: page.Next}
	for _, o := range page.Objects {
		v.Versions = append(v.Versions, taxii.Timestamp(o.Version))
	}
	dateAdded(w, page.Objects)
	writeTAXII(w, http.StatusOK, v)
	return nil
}

// taxiiReadOnly answers a write: Flint's collections are read-only
// (can_write false), which TAXII answers 403.
func (s *Server) taxiiReadOnly(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if _, err := s.Service.TAXIICollection(r.Context(), p, r.PathValue("collection")); err != nil {
		return err
	}
	return intel.Errorf(intel.EFORBIDDEN, "the collection is read-only (can_write is false): Flint's collections are filled from Flashpoint Ignite")
}

// taxiiStatus answers the status resource: Flint takes no writes, so it
// has no status to report.
func (s *Server) taxiiStatus(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	return intel.Errorf(intel.ENOTFOUND, "no status %q: this server takes no writes", r.PathValue("status"))
}
