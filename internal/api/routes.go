package api

import (
	"net/http"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/store"
)

// route is one API route and the permission it needs ("" : public).
type route struct {
	Method  string
	Pattern string
	Perm    auth.Permission
	h       handler
}

// Route describes a route for tests and the OpenAPI check.
type Route struct {
	Method, Pattern string
	Perm            auth.Permission
}

// Prefixes are the paths the API serves (the REST API, TAXII, the
// blocklists, health): a server that shares its listener with the console
// sends these here.
func Prefixes() []string {
	return []string{"/api/", "/taxii2/", "/edl/", "/healthz", "/readyz", "/metrics"}
}

// Routes lists every route of the API with its permission.
func Routes() []Route {
	var out []Route
	for _, r := range (&Server{}).routes() {
		out = append(out, Route{r.Method, r.Pattern, r.Perm})
	}
	return out
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", "", s.healthz},
		{"GET", "/readyz", "", s.readyz},
		{"GET", "/metrics", auth.ViewFeedSource, s.metrics},
		{"GET", "/api/v1/openapi.json", "", s.openapi},

		{"GET", "/api/v1/instances", auth.ViewFeedSource, s.listInstances},
		{"POST", "/api/v1/instances", auth.CreateFeedSource, s.createInstance},
		{"GET", "/api/v1/instances/{id}", auth.ViewFeedSource, s.getInstance},
		{"PATCH", "/api/v1/instances/{id}", auth.UpdateFeedSource, s.updateInstance},
		{"DELETE", "/api/v1/instances/{id}", auth.UpdateFeedSource, s.deleteInstance},
		{"POST", "/api/v1/instances/{id}/test", auth.UpdateFeedSource, s.testInstance},
		{"POST", "/api/v1/instances/{id}/migrate", auth.UpdateFeedSource, s.migrateInstance},
		{"GET", "/api/v1/instances/{id}/channels", auth.ViewFeedSource, s.listChannels},
		{"GET", "/api/v1/instances/{id}/channels/{channel}", auth.ViewFeedSource, s.getChannel},
		{"PATCH", "/api/v1/instances/{id}/channels/{channel}", auth.UpdateFeedSource, s.updateChannel},
		{"POST", "/api/v1/instances/{id}/channels/{channel}/poll", auth.UpdateFeedSource, s.pollChannel},
		{"POST", "/api/v1/instances/{id}/channels/{channel}/test", auth.UpdateFeedSource, s.testChannel},
		{"GET", "/api/v1/instances/{id}/channels/{channel}/runs", auth.ViewFeedSource, s.listRuns},
		{"GET", "/api/v1/collections", auth.ViewAPIFeed, s.listCollections},

		{"GET", "/api/v1/objects", auth.ReadIntel, s.budget(s.searchObjects)},
		{"GET", "/api/v1/objects/{id}", auth.ReadIntel, s.getObject},
		{"POST", "/api/v1/lookup", auth.ReadIntel, s.heavy(s.lookup)},
		{"GET", "/api/v1/vulnerabilities", auth.ReadIntel, s.budget(s.searchVulnerabilities)},
		{"GET", "/api/v1/stix", auth.ReadIntel, s.exportSTIX},
		{"GET", "/api/v1/vulnerabilities/{id}", auth.ReadIntel, s.getVulnerability},
		{"POST", "/api/v1/cmdb/match", auth.ReadIntel, s.heavy(s.cmdbMatch)},
		{"GET", "/api/v1/inventory", auth.ReadIntel, s.listInventory},
		{"POST", "/api/v1/inventory", auth.UpdateFeedSource, s.heavy(s.importInventory)},
		{"GET", "/api/v1/exposures", auth.ReadIntel, s.listExposures},
		{"POST", "/api/v1/exposures/{id}/acknowledge", auth.ReadIntel, s.acknowledgeExposure},
		{"POST", "/api/v1/exposures/{id}/dismiss", auth.ReadIntel, s.dismissExposure},

		{"GET", edlPattern, auth.ViewAPIFeed, s.serveList},
		{"GET", "/api/v1/lists", auth.ViewAPIFeed, s.listLists},
		{"GET", "/api/v1/lists/{name}", auth.ViewAPIFeed, s.getList},
		{"PUT", "/api/v1/lists/{name}", auth.ManageOutlets, s.putList},
		{"DELETE", "/api/v1/lists/{name}", auth.ManageOutlets, s.deleteList},
		{"GET", "/api/v1/allow", auth.ManageOutlets, s.listAllows},
		{"POST", "/api/v1/allow", auth.ManageOutlets, s.addAllow},
		{"DELETE", "/api/v1/allow/{id}", auth.ManageOutlets, s.removeAllow},

		{"GET", "/api/v1/notify/rules", auth.ManageNotifications, s.listRules},
		{"POST", "/api/v1/notify/rules", auth.ManageNotifications, s.addRule},
		{"DELETE", "/api/v1/notify/rules/{name}", auth.ManageNotifications, s.removeRule},
		{"POST", "/api/v1/notify/rules/{name}/test", auth.ManageNotifications, s.testRule},
		{"GET", "/api/v1/notify/deliveries", auth.ManageNotifications, s.listDeliveries},
		{"GET", "/api/v1/notify/destinations", auth.ManageNotifications, s.listDestinations},
		{"POST", "/api/v1/notify/destinations", auth.ManageDestinations, s.allowDestination},
		{"DELETE", "/api/v1/notify/destinations/{pattern}", auth.ManageDestinations, s.disallowDestination},

		{"GET", "/api/v1/keys", auth.ManageKeys, s.listKeys},
		{"POST", "/api/v1/keys", auth.ManageKeys, s.createKey},
		{"DELETE", "/api/v1/keys/{id}", auth.ManageKeys, s.revokeKey},
		{"GET", "/api/v1/audit", auth.ManageKeys, s.auditTrail},
	}
}

// metrics serves the Prometheus metrics (instance names, channel health,
// request rates: what view_feed_source shows) to a key; a scraper without
// a key uses serve's --metrics-listen.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	if s.Metrics == nil {
		return intel.Errorf(intel.ENOTFOUND, "metrics are not served by this process")
	}
	s.Metrics.ServeHTTP(w, r)
	return nil
}

// healthz answers whether the process serves and whether each channel is
// healthy (not in connection error, no error code). Without a key that is
// all it says: no instance names, error messages or version, since it is
// public. A key with view_feed_source gets each channel's instance, kind,
// settings switch and health, and the version.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var detailed bool
	if r.Header.Get("Authorization") != "" {
		p, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="flint"`)
			return err
		}
		detailed = p.Can(auth.ViewFeedSource)
	}
	chs, err := s.Service.Store.Channels(r.Context(), "")
	if err != nil {
		s.log().Warn("api: health check cannot read the channels", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return nil
	}
	type health struct {
		ID       int64        `json:"id"`
		Healthy  bool         `json:"healthy"`
		Instance string       `json:"instance,omitempty"`
		Channel  feed.Kind    `json:"channel,omitempty"`
		Enabled  *bool        `json:"enabled,omitempty"`
		Health   *feed.Health `json:"health,omitempty"`
	}
	out := struct {
		Status   string   `json:"status"`
		Version  string   `json:"version,omitempty"`
		Channels []health `json:"channels"`
	}{Status: "ok", Channels: []health{}}
	if detailed {
		out.Version = s.Version
	}
	for _, ch := range chs {
		h := health{ID: ch.ID, Healthy: ch.Health.ErrorCode == "" && ch.Health.Status != feed.ConnectionError}
		if !h.Healthy {
			out.Status = "degraded"
		}
		if detailed {
			h.Instance, h.Channel, h.Enabled, h.Health = ch.Instance, ch.Kind, &ch.Settings.Enabled, &ch.Health
		}
		out.Channels = append(out.Channels, h)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// readyz answers 200 when the database answers a query, and 503 when it
// does not or says its file is damaged.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	if err := s.Service.Store.Ready(r.Context()); err != nil {
		s.log().Error("api: not ready", "error", err)
		status := "database unavailable"
		if store.Damaged(err) {
			status = "database damaged: run flint check"
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": status})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
