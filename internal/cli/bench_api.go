package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// BenchAPICmd measures the REST API over HTTP: the store is loaded like
// bench store, `flint serve` runs on it as a child process, and this
// process is the load generator.
type BenchAPICmd struct {
	Indicators      int           `default:"1000000" help:"Indicators to store."`
	Vulnerabilities int           `default:"300000" help:"Vulnerabilities to store."`
	Rate            int           `default:"1000" help:"Single lookups per second, sent open-loop."`
	Duration        time.Duration `default:"20s" help:"How long to send single lookups."`
	Bulk            int           `default:"10" help:"Bulk lookups of 10,000 values to time."`
	Searches        int           `default:"100" help:"Vulnerability searches by product to time."`
	Keep            bool          `help:"Keep the temporary SQLite file (and reuse it with --db next time)."`
}

// APIResult is what bench api measures.
type APIResult struct {
	Indicators        int     `json:"indicators"`
	Vulnerabilities   int     `json:"vulnerabilities"`
	LookupRate        float64 `json:"lookup_rate_sent"`
	LookupRequests    int     `json:"lookup_requests"`
	LookupErrors      int     `json:"lookup_errors"`
	LookupP50Ms       float64 `json:"lookup_p50_ms"`
	LookupP99Ms       float64 `json:"lookup_p99_ms"`
	LookupMaxMs       float64 `json:"lookup_max_ms"`
	BulkP50Ms         float64 `json:"bulk_10000_p50_ms"`
	BulkMaxMs         float64 `json:"bulk_10000_max_ms"`
	ProductSearchP50  float64 `json:"product_search_p50_ms"`
	ProductSearchP99  float64 `json:"product_search_p99_ms"`
	ServerPeakRSSMB   float64 `json:"server_peak_rss_mb"`
	LoadGenGOMAXPROCS int     `json:"loadgen_gomaxprocs"`
}

// Run runs the benchmark.
func (c *BenchAPICmd) Run(ctx context.Context, e *env) error {
	dsn := e.g.DB
	if dsn == "" {
		dir, err := os.MkdirTemp("", "flint-bench-api-")
		if err != nil {
			return err
		}
		if !c.Keep {
			defer os.RemoveAll(dir)
		}
		dsn = filepath.Join(dir, "flint.db")
		fmt.Fprintf(e.stderr, "bench api: SQLite file %s\n", dsn)
	}
	s, err := store.Open(ctx, store.Options{DSN: dsn, Logger: e.log})
	if err != nil {
		return err
	}
	if n, err := s.Count(ctx, store.Query{}); err == nil && n == 0 {
		fmt.Fprintf(e.stderr, "bench api: loading %d indicators and %d vulnerabilities\n", c.Indicators, c.Vulnerabilities)
		_, err := BenchStore(ctx, s, &BenchStoreCmd{Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities, Lookups: 10, Searches: 1},
			func(msg string) { fmt.Fprintln(e.stderr, "bench api: "+msg) })
		if err != nil {
			s.Close()
			return err
		}
	}
	key, err := (&service.Service{Store: s}).CreateKey(ctx, auth.Operator("bench"), service.KeyInput{Name: "bench", Role: string(auth.Analyst)})
	s.Close()
	if err != nil {
		return err
	}
	base, stop, err := startServeProcess(ctx, dsn, e.g.DataDir)
	if err != nil {
		return err
	}
	defer stop()
	res, err := BenchAPI(ctx, base, key.Token, c)
	if err != nil {
		return err
	}
	res.ServerPeakRSSMB = stop()
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "single lookups at %.0f/s among %d indicators: %d requests, %d errors; p50 %.2f ms, p99 %.2f ms, max %.1f ms\n",
		res.LookupRate, res.Indicators, res.LookupRequests, res.LookupErrors, res.LookupP50Ms, res.LookupP99Ms, res.LookupMaxMs)
	fmt.Fprintf(e.stdout, "bulk lookup of 10,000 values: p50 %.0f ms, max %.0f ms\n", res.BulkP50Ms, res.BulkMaxMs)
	fmt.Fprintf(e.stdout, "vulnerability search by product among %d: p50 %.1f ms, p99 %.1f ms; server peak RSS %.0f MB\n",
		res.Vulnerabilities, res.ProductSearchP50, res.ProductSearchP99, res.ServerPeakRSSMB)
	return nil
}

// startServeProcess runs `flint serve` on the database as a child, on a free
// loopback port, with a rate limit above the benchmark's; stop ends it and
// returns its peak RSS in MB.
func startServeProcess(ctx context.Context, dsn, dataDir string) (base string, stop func() float64, err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	if dataDir == "" {
		dataDir = filepath.Dir(dsn)
	}
	cmd := exec.CommandContext(ctx, exe, "--data-dir", dataDir, "--db", dsn, "--log-level", "warn", "serve", "--listen", "127.0.0.1:0",
		"--rate-limit", "100000", "--rate-burst", "100000")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("bench: start flint serve: %w", err)
	}
	var once sync.Once
	var rss float64
	stop = func() float64 {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
			if cmd.ProcessState != nil {
				rss = maxRSSMB(cmd.ProcessState)
			}
		})
		return rss
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), "serving on "); ok {
			base, _, _ = strings.Cut(rest, " ")
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return base, stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("bench: flint serve did not say where it listens")
}

// BenchAPI measures the API at base with an analyst key.
func BenchAPI(ctx context.Context, base, key string, c *BenchAPICmd) (APIResult, error) {
	res := APIResult{Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities, LoadGenGOMAXPROCS: maxProcs()}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512,
		IdleConnTimeout: time.Minute}}
	post := func(body []byte) (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/lookup", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		r, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("lookup: status %d", r.StatusCode)
		}
		return time.Since(t0), nil
	}
	value := func(r *rand.Rand, k int) string {
		if k%10 == 0 {
			return fmt.Sprintf("203.0.113.%d", k%250) // 10% unknown
		}
		return benchIndicator(r.IntN(max(1, c.Indicators))).Value
	}

	// Warm up the connections and caches.
	r := rand.New(rand.NewPCG(7, 8))
	for k := range 200 {
		b, _ := json.Marshal(map[string][]string{"values": {value(r, k)}})
		if _, err := post(b); err != nil {
			return res, err
		}
	}
	// Single lookups, open loop: latency counts from when the request was
	// due, so a stall is not hidden by sending less (no coordinated omission).
	n := int(c.Duration.Seconds() * float64(c.Rate))
	bodies := make([][]byte, n)
	for k := range bodies {
		bodies[k], _ = json.Marshal(map[string][]string{"values": {value(r, k)}})
	}
	lat := make([]time.Duration, n)
	errs := make([]bool, n)
	interval := time.Second / time.Duration(c.Rate)
	start := time.Now()
	var wg sync.WaitGroup
	for k := range n {
		due := start.Add(time.Duration(k) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := post(bodies[k]); err != nil {
				errs[k] = true
			}
			lat[k] = time.Since(due)
		}()
	}
	wg.Wait()
	res.LookupRequests = n
	res.LookupRate = float64(n) / time.Since(start).Seconds()
	var ok []time.Duration
	for k := range lat {
		if errs[k] {
			res.LookupErrors++
		} else {
			ok = append(ok, lat[k])
		}
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 }
	res.LookupP50Ms, res.LookupP99Ms, res.LookupMaxMs = ms(pct(ok, 50)), ms(pct(ok, 99)), ms(pct(ok, 100))

	// Bulk lookups of 10,000 values.
	var bulk []time.Duration
	for b := range c.Bulk {
		vals := make([]string, store.MaxLookup)
		for k := range vals {
			vals[k] = value(r, k+b)
		}
		body, _ := json.Marshal(map[string][]string{"values": vals})
		d, err := post(body)
		if err != nil {
			return res, err
		}
		bulk = append(bulk, d)
	}
	res.BulkP50Ms, res.BulkMaxMs = ms(pct(bulk, 50)), ms(pct(bulk, 100))

	// Vulnerability search by product, over HTTP.
	var prod []time.Duration
	for range c.Searches {
		_, product := benchProduct(r.IntN(10000))
		words := strings.Fields(product)
		q := url.Values{"product": {strings.ToLower(words[len(words)-2] + " " + words[len(words)-1])}}
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/vulnerabilities?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+key)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return res, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return res, fmt.Errorf("vulnerability search: status %d", resp.StatusCode)
		}
		prod = append(prod, time.Since(t0))
	}
	res.ProductSearchP50, res.ProductSearchP99 = ms(pct(prod, 50)), ms(pct(prod, 99))
	return res, nil
}

func maxProcs() int { return runtime.GOMAXPROCS(0) }

// maxRSSMB is a finished child's peak RSS.
func maxRSSMB(ps *os.ProcessState) float64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024 // Linux reports KiB
	}
	return 0
}
