package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/flintcti/flint/internal/api"
)

// ServeCmd runs the daemon.
type ServeCmd struct {
	Listen string `default:"127.0.0.1:8080" help:"Address of the REST API (and /healthz, /readyz)."`
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
	go func() { errc <- serveWith(e.ctx, ln, a.HTTPServer(e.ctx)) }()
	if err := a.Run(e.ctx); err != nil {
		return err
	}
	return <-errc
}

// HTTPServer returns the daemon's HTTP server: the REST API with the
// server's timeouts; polls started through it run under ctx.
func (a *App) HTTPServer(ctx context.Context) *http.Server {
	srv := &api.Server{Store: a.Store, Scheduler: a.Scheduler, Seal: a.Seal, Log: a.Log, Version: Version, BaseContext: ctx}
	return api.NewHTTPServer(srv.Handler())
}
