package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/outlet"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/taxii"
)

// OutletsConfig configures the outlets benchmark.
type OutletsConfig struct {
	Indicators  int  // to store (a quarter each IPv4, domain, URL, SHA-256)
	Conditional int  // conditional refreshes to time
	Keep        bool // keep the temporary SQLite file
}

// OutletsResult is what the outlets benchmark measures.
type OutletsResult struct {
	Indicators        int     `json:"indicators"`
	ListEntries       int     `json:"list_entries"`
	ListFirstByteMs   float64 `json:"list_first_byte_ms"`
	ListWholeSeconds  float64 `json:"list_whole_seconds"`
	NotModifiedP50Ms  float64 `json:"not_modified_p50_ms"`
	NotModifiedP99Ms  float64 `json:"not_modified_p99_ms"`
	ExportObjects     int     `json:"export_objects"` // STIX objects in the bundle
	ExportSeconds     float64 `json:"export_seconds"`
	ExportPerSecond   float64 `json:"export_flint_objects_per_second"`
	ExportRSSGrowthMB float64 `json:"export_server_rss_growth_mb"`
	ServerPeakRSSMB   float64 `json:"server_peak_rss_mb"`

	TAXIIObjects     int     `json:"taxii_objects"` // STIX objects of the collection walked by next
	TAXIIPages       int     `json:"taxii_pages"`
	TAXIISeconds     float64 `json:"taxii_seconds"`
	TAXIIPerSecond   float64 `json:"taxii_objects_per_second"`
	TAXIIPageP50Ms   float64 `json:"taxii_page_p50_ms"` // a page of 1,000 objects
	TAXIIPageP99Ms   float64 `json:"taxii_page_p99_ms"`
	TAXIIIndexSecond float64 `json:"taxii_id_index_seconds"` // building the STIX id index of the whole store (what flint serve does after polls)
	TAXIIByIDMs      float64 `json:"taxii_by_id_ms"`         // one objects/{id} once the index is built
}

// Outlets measures the outlets over HTTP: a store of indicators is loaded,
// `flint serve` runs on it as a child, and this process fetches the
// blocklist of every indicator (first byte, whole list), refreshes it
// conditionally (304s), and exports everything as one STIX bundle, reading
// the server's memory before and after.
func Outlets(ctx context.Context, c OutletsConfig, env Env) (OutletsResult, error) {
	res := OutletsResult{Indicators: c.Indicators}
	dsn, _, cleanup, err := env.tempDB("outlets", c.Keep)
	if err != nil {
		return res, err
	}
	defer cleanup()
	s, err := store.Open(ctx, store.Options{DSN: dsn, Logger: env.Log})
	if err != nil {
		return res, err
	}
	if n, err := s.Count(ctx, store.Query{}); err == nil && n == 0 {
		env.progress("loading %d indicators", c.Indicators)
		if _, err := Store(ctx, s, StoreConfig{Indicators: c.Indicators, Lookups: 10}, env); err != nil {
			s.Close()
			return res, err
		}
	}
	svc := &service.Service{Store: s}
	op := auth.Operator("bench")
	if _, err := svc.SaveList(ctx, op, outlet.List{Name: "bench", Types: []outlet.ListType{"ipv4", "domain", "url", "sha256"}, Format: outlet.Plain}); err != nil {
		s.Close()
		return res, err
	}
	fw, err := svc.CreateKey(ctx, op, service.KeyInput{Name: "bench firewall", Role: "analyst", List: "bench"})
	if err != nil {
		s.Close()
		return res, err
	}
	analyst, err := svc.CreateKey(ctx, op, service.KeyInput{Name: "bench export", Role: "analyst"})
	if err != nil {
		s.Close()
		return res, err
	}
	// The STIX id index, which flint serve keeps after each poll, built
	// here before the server starts: timed on its own.
	t0 := time.Now()
	err = svc.IndexSTIX(ctx)
	res.TAXIIIndexSecond = time.Since(t0).Seconds()
	s.Close()
	if err != nil {
		return res, err
	}
	env.progress("STIX id index of %d indicators built in %.1f s", c.Indicators, res.TAXIIIndexSecond)
	base, pid, stop, err := startServeProcess(ctx, dsn, env.DataDir)
	if err != nil {
		return res, err
	}
	defer stop()
	client := &http.Client{Timeout: 10 * time.Minute}
	get := func(path, key string, header map[string]string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth("firewall", key)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return client.Do(req)
	}

	// The whole list, three times (the first warms the caches); the best.
	var etag string
	for round := range 3 {
		t0 := time.Now()
		resp, err := get("/edl/bench", fw.Token, nil)
		if err != nil {
			return res, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return res, fmt.Errorf("bench: GET /edl/bench: status %d", resp.StatusCode)
		}
		br := bufio.NewReaderSize(resp.Body, 64<<10)
		if _, err := br.Peek(1); err != nil {
			resp.Body.Close()
			return res, err
		}
		first := time.Since(t0)
		n := 0
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				n++
			}
			if err == io.EOF {
				break
			}
			if err != nil && err != bufio.ErrBufferFull {
				resp.Body.Close()
				return res, err
			}
		}
		whole := time.Since(t0)
		resp.Body.Close()
		etag = resp.Header.Get("ETag")
		if round == 0 || whole.Seconds() < res.ListWholeSeconds {
			res.ListWholeSeconds, res.ListFirstByteMs, res.ListEntries = whole.Seconds(), ms(first), n
		}
	}
	env.progress("blocklist of %d: first byte %.1f ms, whole %.2f s", res.ListEntries, res.ListFirstByteMs, res.ListWholeSeconds)

	var lat []time.Duration
	for range max(1, c.Conditional) {
		t0 := time.Now()
		resp, err := get("/edl/bench", fw.Token, map[string]string{"If-None-Match": etag})
		if err != nil {
			return res, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			return res, fmt.Errorf("bench: conditional GET /edl/bench: status %d", resp.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	res.NotModifiedP50Ms, res.NotModifiedP99Ms = ms(pct(lat, 50)), ms(pct(lat, 99))

	before := procStatusKB(pid, "VmRSS")
	t0 = time.Now()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/stix", nil)
	req.Header.Set("Authorization", "Bearer "+analyst.Token)
	resp, err := client.Do(req)
	if err != nil {
		return res, err
	}
	peak := before
	finished, done := make(chan struct{}), make(chan struct{})
	go func() { // the server's resident memory while it streams
		defer close(done)
		for {
			select {
			case <-finished:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if rss := procStatusKB(pid, "VmRSS"); rss > peak {
				peak = rss
			}
		}
	}()
	n, err := countObjects(resp.Body)
	resp.Body.Close()
	close(finished)
	<-done
	if err != nil {
		return res, err
	}
	res.ExportSeconds = time.Since(t0).Seconds()
	res.ExportObjects = n
	res.ExportPerSecond = float64(c.Indicators) / res.ExportSeconds
	res.ExportRSSGrowthMB = max(0, peak-before) / 1024
	env.progress("STIX export: %d objects in %.1f s", res.ExportObjects, res.ExportSeconds)

	if err := taxiiWalk(ctx, client, base, analyst.Token, &res); err != nil {
		return res, err
	}
	res.ServerPeakRSSMB = procStatusKB(pid, "VmHWM") / 1024
	return res, nil
}

// taxiiWalk walks the benchmark's TAXII collection by next, in pages of
// 1,000, timing each page, then looks one object up by id.
func taxiiWalk(ctx context.Context, client *http.Client, base, key string, res *OutletsResult) error {
	coll := base + "/taxii2/flint/collections/" + taxii.CollectionID("bench Indicators") + "/objects/"
	get := func(url string, v any) error {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", taxii.MediaType)
		req.SetBasicAuth("siem", key)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("bench: GET %s: status %d: %s", url, resp.StatusCode, b)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}
	var lat []time.Duration
	var lastID string
	next := ""
	t0 := time.Now()
	for {
		u := coll + "?limit=1000"
		if next != "" {
			u += "&next=" + url.QueryEscape(next)
		}
		var env struct {
			More    bool `json:"more"`
			Next    string
			Objects []struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"objects"`
		}
		p0 := time.Now()
		if err := get(u, &env); err != nil {
			return err
		}
		lat = append(lat, time.Since(p0))
		res.TAXIIObjects += len(env.Objects)
		res.TAXIIPages++
		for _, o := range env.Objects {
			if o.Type == "indicator" {
				lastID = o.ID
			}
		}
		if !env.More {
			break
		}
		next = env.Next
	}
	res.TAXIISeconds = time.Since(t0).Seconds()
	res.TAXIIPerSecond = float64(res.TAXIIObjects) / res.TAXIISeconds
	res.TAXIIPageP50Ms, res.TAXIIPageP99Ms = ms(pct(lat, 50)), ms(pct(lat, 99))
	t1 := time.Now()
	var one struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := get(coll+lastID+"/", &one); err != nil {
		return err
	}
	if len(one.Objects) != 1 {
		return fmt.Errorf("bench: objects/%s: %d objects", lastID, len(one.Objects))
	}
	res.TAXIIByIDMs = ms(time.Since(t1))
	return nil
}

// countObjects counts the objects of a streamed bundle by their "type"
// keys at the top level of each object, without holding the bundle.
func countObjects(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	depth, n := 0, 0
	inString, escaped := false, false
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{':
			depth++
			if depth == 2 { // an object of the bundle's objects list
				n++
			}
		case b == '}':
			depth--
		}
	}
}

// procStatusKB reads a field of /proc/PID/status in kB (0 when it cannot).
func procStatusKB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return v
		}
	}
	return 0
}
