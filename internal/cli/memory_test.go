//go:build !race

// Run without the race detector (make test runs it in its non-race step):
// the detector multiplies a process's memory, which this test measures.

package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const envServeDir = "FLINT_SERVE_CHILD_DIR"

// TestServeChild is the flint serve process of TestServeMemoryUnderHeavyLookups.
func TestServeChild(t *testing.T) {
	dir := os.Getenv(envServeDir)
	if dir == "" {
		t.Skip("started by TestServeMemoryUnderHeavyLookups only")
	}
	os.Exit(Run(context.Background(), []string{"--data-dir", dir, "serve", "--listen", "127.0.0.1:0"}, os.Stdout, os.Stderr))
}

// 64 concurrent 15 MiB lookups from one key (within its burst) leave the
// server under 500 MB of resident memory, and each gets an answer: the
// admitted ones a 422 (the value is over the length limit), the others a
// 503 busy (or, when the server refused before reading the body, a
// connection the server closed), never a hang or a 500.
func TestServeMemoryUnderHeavyLookups(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 960 MiB over loopback")
	}
	dir := t.TempDir()
	out, errs, code := cli(t, dir, "", "apikey", "create", "--name", "heavy", "--role", "analyst")
	if code != 0 {
		t.Fatal(errs)
	}
	key := strings.TrimSpace(out)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envServeDir+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var base string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "flint serving on "); ok {
			base, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if base == "" {
		t.Fatal("the server printed no address")
	}
	go io.Copy(io.Discard, stdout)

	body := []byte(`{"values": ["` + strings.Repeat("a", 15<<20) + `"]}`)
	var mu sync.Mutex
	statuses := map[string]int{}
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", base+"/api/v1/lookup", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			outcome := ""
			switch {
			case err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe") ||
				errors.Is(err, io.EOF) || strings.Contains(err.Error(), "server closed")):
				outcome = "closed before the body was read"
			case err != nil:
				outcome = "error: " + err.Error()
			default:
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				outcome = strconv.Itoa(res.StatusCode)
			}
			mu.Lock()
			statuses[outcome]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	hwm := peakRSS(t, cmd.Process.Pid)
	t.Logf("answers %v; server peak RSS %d MB", statuses, hwm>>20)
	for outcome, n := range statuses {
		if outcome != "422" && outcome != "503" && outcome != "closed before the body was read" {
			t.Errorf("%d requests ended %s", n, outcome)
		}
	}
	if statuses["422"] == 0 {
		t.Error("no lookup was admitted")
	}
	if hwm > 500<<20 {
		t.Errorf("the server's peak RSS was %d MB; the bound is 500 MB", hwm>>20)
	}
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
