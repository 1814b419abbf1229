package bench

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
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/bench/gen"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// APIConfig configures the REST API benchmark.
type APIConfig struct {
	Indicators      int           // to store
	Vulnerabilities int           // to store
	Rate            int           // single lookups per second, sent open-loop
	Duration        time.Duration // how long to send single lookups
	Bulk            int           // bulk lookups of 10,000 values to time
	Searches        int           // vulnerability searches by product to time
	Keep            bool          // keep the temporary SQLite file (and reuse it with Env.DB next time)
}

// APIResult is what the API benchmark measures.
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

// API measures the REST API over HTTP: the store is loaded like the store
// benchmark's (once: a store already loaded is reused), `flint serve`
// runs on it as a child process, and this process is the load generator.
func API(ctx context.Context, c APIConfig, env Env) (APIResult, error) {
	dsn, _, cleanup, err := env.tempDB("api", c.Keep)
	if err != nil {
		return APIResult{}, err
	}
	defer cleanup()
	env.progress("database %s", dsnName(dsn))
	s, err := store.Open(ctx, store.Options{DSN: dsn, Logger: env.Log})
	if err != nil {
		return APIResult{}, err
	}
	if n, err := s.Count(ctx, store.Query{}); err == nil && n == 0 {
		env.progress("loading %d indicators and %d vulnerabilities", c.Indicators, c.Vulnerabilities)
		if _, err := Store(ctx, s, StoreConfig{Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities, Lookups: 10, Searches: 1}, env); err != nil {
			s.Close()
			return APIResult{}, err
		}
	}
	key, err := (&service.Service{Store: s}).CreateKey(ctx, auth.Operator("bench"), service.KeyInput{Name: "bench", Role: string(auth.Analyst)})
	s.Close()
	if err != nil {
		return APIResult{}, err
	}
	base, _, stop, err := startServeProcess(ctx, dsn, env.DataDir)
	if err != nil {
		return APIResult{}, err
	}
	defer stop()
	res, err := measureAPI(ctx, base, key.Token, c)
	if err != nil {
		return res, err
	}
	res.ServerPeakRSSMB = stop()
	return res, nil
}

// dsnName is a database's name for a progress message, without a password.
func dsnName(dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return "PostgreSQL"
	}
	return "SQLite file " + dsn
}

// startServeProcess runs `flint serve` on the database as a child, on a free
// loopback port, with a rate limit above the benchmark's; stop ends it and
// returns its peak RSS in MB.
func startServeProcess(ctx context.Context, dsn, dataDir string) (base string, pid int, stop func() float64, err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	if dataDir == "" {
		dataDir = filepath.Dir(dsn)
	}
	cmd := exec.CommandContext(ctx, exe, "--data-dir", dataDir, "--db", dsn, "--log-level", "warn", "serve", "--listen", "127.0.0.1:0",
		"--rate-limit", "100000", "--rate-burst", "100000")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("bench: start flint serve: %w", err)
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
			return base, cmd.Process.Pid, stop, nil
		}
	}
	stop()
	return "", 0, nil, fmt.Errorf("bench: flint serve did not say where it listens")
}

// measureAPI measures the API at base with an analyst key.
func measureAPI(ctx context.Context, base, key string, c APIConfig) (APIResult, error) {
	res := APIResult{Indicators: c.Indicators, Vulnerabilities: c.Vulnerabilities, LoadGenGOMAXPROCS: runtime.GOMAXPROCS(0)}
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
		return indicatorValue(r.IntN(max(1, c.Indicators)))
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
		q := url.Values{"product": {gen.ProductWords(r.IntN(gen.Products))}}
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
