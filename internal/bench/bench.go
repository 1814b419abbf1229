// Package bench holds the load generators behind `flint bench …`: each
// takes a plain configuration, runs the real components (a simulator in a
// child process, the client, the scheduler, the store, `flint serve`) and
// returns what it measured. The command line only parses flags and prints.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Env is what every benchmark gets besides its configuration.
type Env struct {
	DB       string       // a postgres:// DSN, or "" for a fresh SQLite file in a temporary directory
	DataDir  string       // the data directory `flint serve` gets (bench api); "" : the database's
	Log      *slog.Logger // default: discard
	Version  string       // the client's User-Agent version
	Progress func(string) // progress messages; may be nil
}

func (e Env) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (e Env) progress(format string, args ...any) {
	if e.Progress != nil {
		e.Progress(fmt.Sprintf(format, args...))
	}
}

// StartSim runs `flint sim` (this very binary) as a child on a free
// loopback port with args, and returns its base URL and token.
func StartSim(ctx context.Context, args ...string) (base, token string, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", "", nil, err
	}
	cmd := exec.CommandContext(ctx, exe, append([]string{"sim", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", "", nil, fmt.Errorf("bench: start simulator: %w", err)
	}
	stop = func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Flashpoint Ignite simulator listening on "); ok {
			base = rest
		}
		if rest, ok := strings.CutPrefix(line, "token "); ok && token == "" {
			token, _, _ = strings.Cut(rest, ":")
			break
		}
	}
	if base == "" || token == "" {
		stop()
		return "", "", nil, fmt.Errorf("bench: the simulator did not report its address")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }() // keep the child from blocking on a full pipe
	return base, token, stop, nil
}

// StartProfile writes a CPU profile to path until the returned stop is
// called; with an empty path it does nothing.
func StartProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// tempDB returns env's database, or a fresh SQLite file in a new temporary
// directory (removed by cleanup unless keep).
func (e Env) tempDB(name string, keep bool) (dsn, dir string, cleanup func(), err error) {
	if e.DB != "" {
		return e.DB, "", func() {}, nil
	}
	if dir, err = os.MkdirTemp("", "flint-bench-"+name+"-"); err != nil {
		return "", "", nil, err
	}
	cleanup = func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}
	return dir + "/flint.db", dir, cleanup, nil
}

func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

// maxRSSMB is a finished child's peak RSS.
func maxRSSMB(ps *os.ProcessState) float64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024
	}
	return 0
}

// cpuSeconds is the CPU time (user and system) this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// pct is the p-th percentile of d.
func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }
