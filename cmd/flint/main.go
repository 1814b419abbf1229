// Command flint is the Flint threat-intelligence feed platform.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/flintcti/flint/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
