// Package cli holds Flint's commands, one file per command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/flintcti/flint/internal/intel"
)

// Version is Flint's version, set at build time with
// -ldflags "-X github.com/flintcti/flint/internal/cli.Version=v1.2.3".
var Version = "0.1.0-dev"

// Globals are the flags every command takes.
type Globals struct {
	DataDir  string           `name:"data-dir" env:"FLINT_DATA_DIR" help:"Data directory (default: the user's data directory)." type:"path"`
	DB       string           `name:"db" env:"FLINT_DB" help:"Database: a postgres:// DSN, or a SQLite file (default: flint.db in the data directory)."`
	JSON     bool             `help:"Print JSON instead of text."`
	LogLevel string           `name:"log-level" enum:",debug,info,warn,error" default:"" help:"Log level: debug, info, warn, error (default: info for serve and sim; warn for the other commands, demo included, so that logs do not interleave with their output)."`
	Version  kong.VersionFlag `help:"Print the version and exit."`

	UpstreamLoopback bool   `name:"upstream-loopback" env:"FLINT_UPSTREAM_LOOPBACK" help:"Let instances reach loopback addresses (a local simulator). Off by default: a base URL that resolves to 127.0.0.1 or ::1 is refused when connecting."`
	UpstreamAllow    string `name:"upstream-allow" env:"FLINT_UPSTREAM_ALLOW" help:"Comma-separated CIDR ranges: instances may reach only these addresses (default: any but the refused ones)."`
	UpstreamDeny     string `name:"upstream-deny" env:"FLINT_UPSTREAM_DENY" help:"Comma-separated CIDR ranges instances may never reach, besides link-local, cloud metadata, multicast and unspecified addresses, which are always refused."`
}

// root is the command tree.
type root struct {
	Globals
	Instance InstanceCmd `cmd:"" help:"Manage Flashpoint Ignite instances."`
	Channel  ChannelCmd  `cmd:"" help:"Configure, test and poll an instance's channels."`
	Lookup   LookupCmd   `cmd:"" help:"Is each value a known indicator? With score, TLP, validity, sources and collections."`
	Search   SearchCmd   `cmd:"" help:"Search the intelligence."`
	Vuln     VulnCmd     `cmd:"" help:"Vulnerabilities: search by product, vendor, CVSS, severity, EPSS."`
	Cmdb     CmdbCmd     `cmd:"" help:"Match a CMDB export against the vulnerabilities, or keep it as the inventory."`
	Exposure ExposureCmd `cmd:"" name:"exposures" help:"Exposures: vulnerabilities matching the stored inventory; acknowledge or dismiss them."`
	Notify   NotifyCmd   `cmd:"" help:"Notifications: rules that send exposures and channel events to webhooks, their deliveries, the allow-list of destinations."`
	Export   ExportCmd   `cmd:"" help:"Export the intelligence: a STIX 2.1 bundle."`
	Edl      EdlCmd      `cmd:"" name:"edl" help:"Blocklists for firewalls (external dynamic lists), served at /edl/NAME."`
	Allow    AllowCmd    `cmd:"" help:"The allow-list: values no blocklist carries, whatever the feed says."`
	Apikey   ApikeyCmd   `cmd:"" help:"Manage the REST API's keys."`
	User     UserCmd     `cmd:"" help:"Manage the console's users."`
	Serve    ServeCmd    `cmd:"" help:"Run the daemon: the REST API, scheduled polls and restore attempts."`
	Sim      SimCmd      `cmd:"" help:"Run the Flashpoint Ignite simulator."`
	Demo     DemoCmd     `cmd:"" help:"Run Flint against a built-in simulator, with no account."`
	Bench    BenchCmd    `cmd:"" help:"Measure Flint's speed."`
	Check    CheckCmd    `cmd:"" help:"Check the database's integrity, every page (slow on a large store; startup does a quick check)."`
	Store    StoreCmd    `cmd:"" help:"Work on the store as a whole: copy a SQLite store to PostgreSQL."`
	Backup   BackupCmd   `cmd:"" help:"Copy a SQLite store while Flint runs: a consistent, checked copy (PostgreSQL: use pg_dump or pg_basebackup)."`
}

// env is what commands get besides their flags and the context (which
// kong passes to each Run as its own argument).
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	g      *Globals
}

// Run parses args and runs the command; it returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	return RunIO(ctx, args, os.Stdin, stdout, stderr)
}

// RunIO is Run with standard input given (a token may be piped in).
func RunIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	var r root
	parser, err := newParser(&r, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "flint:", err)
		return 2
	}
	defer func() {
		if v := recover(); v != nil {
			e, ok := v.(exitPanic)
			if !ok {
				panic(v)
			}
			code = e.code
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintln(stderr, "flint:", err)
		return 2
	}
	level := slog.LevelWarn
	switch cmd, _, _ := strings.Cut(kctx.Command(), " "); {
	case r.LogLevel != "":
		level.UnmarshalText([]byte(r.LogLevel)) //nolint:errcheck // the enum lets through only valid levels
	case cmd == "serve" || cmd == "sim":
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, log: log, g: &r.Globals}
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(e); err != nil {
		if fields := intel.Fields(err); len(fields) > 1 {
			fmt.Fprintln(stderr, "flint: nothing was changed; every invalid field:")
			for _, f := range fields {
				fmt.Fprintf(stderr, "  %s: %s\n", f.Field, f.Message)
			}
		} else {
			fmt.Fprintln(stderr, "flint:", err)
		}
		if errors.Is(err, errUsage) {
			return 2
		}
		var x exitError
		if errors.As(err, &x) {
			return x.code
		}
		return 1
	}
	return 0
}

// newParser builds the command line's parser into r.
func newParser(r *root, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(r,
		kong.Name("flint"),
		kong.Description("Flint: Flashpoint Ignite intelligence in your own tools."),
		kong.Vars{"version": Version},
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		// --help and --version end the parse; turn kong's exit into a return.
		kong.Exit(func(c int) { panic(exitPanic{c}) }),
	)
}

type exitPanic struct{ code int }

// exitError ends a command with its own exit status.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// selfCommand is how a user runs this very binary from a shell: "flint"
// when that is what PATH finds, "go run ./cmd/flint" under go run, else its
// path.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "flint"
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/flint"
	}
	if p, err := exec.LookPath("flint"); err == nil {
		a, aerr := os.Stat(p)
		b, berr := os.Stat(exe)
		if aerr == nil && berr == nil && os.SameFile(a, b) {
			return "flint"
		}
	}
	return exe
}

// errUsage marks an error caused by the user's input (exit status 2).
var errUsage = errors.New("usage")
