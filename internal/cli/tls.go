package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// certReloader serves a certificate read from files, read again on
// SIGHUP (a renewed certificate takes effect without a restart; a file
// that does not load leaves the one in use).
type certReloader struct {
	certFile, keyFile string

	mu   sync.RWMutex
	cert *tls.Certificate
}

func (c *certReloader) load() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("serve: TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.mu.Lock()
	c.cert = &cert
	c.mu.Unlock()
	return nil
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert, nil
}

// reloadOnHangup reads the files again on each SIGHUP until ctx ends or
// the returned stop is called.
func (c *certReloader) reloadOnHangup(ctx context.Context, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-hup:
				if err := c.load(); err != nil {
					log.Error("tls: the certificate was not reloaded; the previous one stays in use", "error", err)
					continue
				}
				log.Info("tls: certificate reloaded", "cert", c.certFile)
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}
