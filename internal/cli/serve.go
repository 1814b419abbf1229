package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"

	"github.com/flintcti/flint/internal/feed"
)

// ServeCmd runs the daemon.
type ServeCmd struct {
	Listen string `default:"127.0.0.1:8930" help:"Address of the HTTP endpoint (the health check for now; the API joins it)."`
}

// Run runs the scheduler and the HTTP endpoint until interrupted.
func (c *ServeCmd) Run(e *env) error {
	a, err := e.open()
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", c.Listen, err)
	}
	fmt.Fprintf(e.stdout, "flint serving on http://%s (database %s)\n", ln.Addr(), a.Where())
	errc := make(chan error, 1)
	go func() { errc <- serve(e.ctx, ln, a.Handler()) }()
	if err := a.Run(e.ctx); err != nil {
		return err
	}
	return <-errc
}

// Handler serves what the daemon exposes over HTTP.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		chs, err := a.Store.Channels(r.Context(), "")
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"status": "database unavailable"})
			return
		}
		type health struct {
			Instance string      `json:"instance"`
			Channel  feed.Kind   `json:"channel"`
			Enabled  bool        `json:"enabled"`
			Health   feed.Health `json:"health"`
		}
		out := struct {
			Status   string   `json:"status"`
			Channels []health `json:"channels"`
		}{Status: "ok", Channels: []health{}}
		for _, ch := range chs {
			out.Channels = append(out.Channels, health{ch.Instance, ch.Kind, ch.Settings.Enabled, ch.Health})
		}
		json.NewEncoder(w).Encode(out)
	})
	return mux
}
