package cli

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/notify"
)

// hook is a webhook receiver for the test: it records every request and
// answers as the test's script says.
type hook struct {
	mu     sync.Mutex
	keys   []string
	bodies [][]byte
	sigs   []string
	answer func(n int, w http.ResponseWriter, r *http.Request)
	srv    *httptest.Server
}

func newHook(t *testing.T) *hook {
	h := &hook{answer: func(int, http.ResponseWriter, *http.Request) {}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.keys, h.bodies, h.sigs = append(h.keys, r.Header.Get(notify.IdempotencyHeader)), append(h.bodies, b),
			append(h.sigs, r.Header.Get(notify.SignatureHeader))
		n, answer := len(h.keys), h.answer
		h.mu.Unlock()
		answer(n, w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) count() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.keys) }

// within waits for cond, checked every 50 ms, failing the test after the
// deadline (a bound on a hang, not a measure of speed).
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Exposures reach a webhook from a real flint serve: the event written
// while no daemon ran is delivered when one starts; a receiver that fails
// and then times out gets the same idempotency key each time, signed as an
// independent HMAC computes; a daemon killed (SIGKILL) in the middle of a
// delivery delivers it again after restarting, with the same key, so the
// receiver can tell; nothing is lost and no event gets two keys. A
// destination off the allow-list is refused when the rule is made.
func TestNotificationsSurviveKill(t *testing.T) {
	cfg := sim.Config{Seed: 9, Reports: 1, Vulnerabilities: 150, Indicators: 1, VulnWindow: 20 * 24 * time.Hour,
		Now: time.Now().UTC().Truncate(time.Second)}
	vuln, prod := vulnerableProduct(t, cfg)
	_, up := upstream(t, cfg)
	dir := t.TempDir()
	mustCLI(t, dir, sim.DefaultToken+"\n", "instance", "add", "main", "--base-url", up)
	mustCLI(t, dir, "", "channel", "set", "main", "vulnerabilities", "--enable", "--schedule", "manual")
	mustCLI(t, dir, "", "channel", "poll", "main", "vulnerabilities")

	h := newHook(t)
	// Phase one: each delivery fails (503), then gets no answer, then
	// succeeds. Phase two: the first request is held while the daemon is
	// killed; every other is answered.
	held, release := make(chan struct{}, 1), make(chan struct{})
	var phase2, heldOne bool // under h.mu
	seen := map[string]int{}
	h.answer = func(n int, w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		key := r.Header.Get(notify.IdempotencyHeader)
		seen[key]++
		k, two := seen[key], phase2
		first := two && !heldOne
		heldOne = heldOne || first
		h.mu.Unlock()
		switch {
		case first:
			held <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case !two && k == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case !two && k == 2:
			<-r.Context().Done() // no answer: the daemon's timeout ends the attempt
		default:
			w.WriteHeader(http.StatusOK)
		}
	}
	const secretText = "whsec-0123456789abcdef"
	t.Setenv("TEST_HOOK_URL", h.srv.URL+"/in/TOKEN-IN-PATH")
	t.Setenv("TEST_HOOK_SECRET", secretText)
	if _, errs, code := cli(t, dir, "", "notify", "add", "exposures", "--on", "exposure", "--webhook-env", "TEST_HOOK_URL"); code == 0 ||
		!strings.Contains(errs, "not on the allow-list") || strings.Contains(errs, "TOKEN-IN-PATH") {
		t.Fatalf("a rule to a destination not allowed: %d %s", code, errs)
	}
	mustCLI(t, dir, "", "notify", "allow", strings.TrimPrefix(h.srv.URL, "http://"))
	out := mustCLI(t, dir, "", "notify", "add", "exposures", "--on", "exposure", "--webhook-env", "TEST_HOOK_URL", "--secret-env", "TEST_HOOK_SECRET")
	if !strings.Contains(out, `rule "exposures" added`) || strings.Contains(out, "TOKEN-IN-PATH") {
		t.Fatalf("add: %s", out)
	}
	if list := mustCLI(t, dir, "", "notify", "list"); strings.Contains(list, "TOKEN-IN-PATH") || !strings.Contains(list, "exposures") {
		t.Fatalf("list: %s", list)
	}

	// The inventory is imported while no daemon runs: the exposure's event waits in the outbox.
	file := filepath.Join(dir, "cmdb.csv")
	os.WriteFile(file, []byte(fmt.Sprintf("asset_id,vendor,product,version\nsrv-1,%s,%s,%s\n", prod.Vendor, prod.Product, prod.Versions[0])), 0o600)
	mustCLI(t, dir, "", "cmdb", "import", file)
	serve := func() *replica {
		return startChild(t, dir, "--data-dir", dir, "--log-level", "info", "--upstream-loopback", "serve", "--listen", "127.0.0.1:0",
			"--notify-allow-internal", "--notify-timeout", "1s", "--notify-backoff", "100ms", "--notify-tick", "100ms")
	}
	r := serve()
	defer func() { r.cmd.Process.Kill() }()
	deliveries := func() []notify.Delivery {
		var ds []notify.Delivery
		if err := json.Unmarshal([]byte(mustCLI(t, dir, "", "--json", "notify", "deliveries")), &ds); err != nil {
			t.Fatal(err)
		}
		return ds
	}
	delivered := func(n int) func() bool {
		return func() bool {
			c := 0
			for _, d := range deliveries() {
				if d.State == notify.Delivered {
					c++
				}
			}
			return c == n
		}
	}
	first := exposures(t, dir, "--asset", "srv-1")
	if len(first) == 0 {
		t.Fatal("no exposure of srv-1")
	}
	within(t, "srv-1's exposures delivered", delivered(len(first)))
	ds := deliveries()
	h.mu.Lock()
	keys, bodies, sigs := append([]string(nil), h.keys...), append([][]byte(nil), h.bodies...), append([]string(nil), h.sigs...)
	h.mu.Unlock()
	byKey := map[string]int{}
	for _, k := range keys {
		byKey[k]++
	}
	phase1 := byKey
	if len(ds) != len(first) || len(byKey) != len(first) {
		t.Fatalf("%d exposures, %d deliveries, %d keys", len(first), len(ds), len(byKey))
	}
	for _, d := range ds {
		if d.Attempts != 3 || d.LastStatus != 200 || byKey[d.Key] != 3 {
			t.Errorf("delivery %d: %d attempts, %d requests with its key, last status %d", d.ID, d.Attempts, byKey[d.Key], d.LastStatus)
		}
	}
	for i, sig := range sigs {
		ts, v1, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",v1=")
		mac := hmac.New(sha256.New, []byte(secretText))
		mac.Write([]byte(ts + "." + string(bodies[i])))
		if hex.EncodeToString(mac.Sum(nil)) != v1 {
			t.Errorf("request %d: the signature %q does not verify", i+1, sig)
		}
	}
	var doc struct {
		ID   string               `json:"id"`
		Type string               `json:"type"`
		Data notify.ExposureFacts `json:"data"`
	}
	if err := json.Unmarshal(bodies[len(bodies)-1], &doc); err != nil || doc.ID != keys[len(keys)-1] || doc.Type != notify.Exposure ||
		doc.Data.Asset.AssetID != "srv-1" || doc.Data.Vulnerability.Name == "" || doc.Data.Exposure.State != "open" {
		t.Fatalf("the document: %s %v", bodies[len(bodies)-1], err)
	}
	named := false
	for _, b := range bodies {
		named = named || strings.Contains(string(b), `"name":"`+vuln.Value+`"`)
	}
	if !named {
		t.Errorf("no document names %s", vuln.Value)
	}

	// A second asset while the daemon runs; the daemon is killed while the
	// receiver holds a delivery, and restarted.
	h.mu.Lock()
	phase2 = true
	h.mu.Unlock()
	os.WriteFile(file, []byte(fmt.Sprintf("asset_id,vendor,product,version\nsrv-2,%s,%s,%s\n", prod.Vendor, prod.Product, prod.Versions[0])), 0o600)
	mustCLI(t, dir, "", "cmdb", "import", file)
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatal("no delivery of srv-2's exposures reached the receiver")
	}
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-r.done
	close(release)
	second := exposures(t, dir, "--asset", "srv-2")
	r = serve()
	within(t, "srv-2's exposures delivered after the restart", delivered(len(first)+len(second)))
	h.mu.Lock()
	keys, bodies = append([]string(nil), h.keys...), append([][]byte(nil), h.bodies...)
	h.mu.Unlock()
	ds = deliveries()
	var events map[int64]bool
	byKey, events = map[string]int{}, map[int64]bool{}
	for i, k := range keys {
		byKey[k]++
		if !strings.Contains(string(bodies[i]), `"id":"`+k+`"`) {
			t.Errorf("request %d: its body does not carry its key %s", i+1, k)
		}
	}
	twice := 0
	for _, d := range ds {
		events[d.EventID] = true
		if byKey[d.Key] == 0 {
			t.Errorf("delivery %d was never sent", d.ID)
		}
		if phase1[d.Key] == 0 && byKey[d.Key] > 1 {
			twice++
		}
	}
	if len(ds) != len(first)+len(second) || len(events) != len(ds) || len(byKey) != len(ds) {
		t.Fatalf("%d deliveries of %d events under %d keys, for %d exposures", len(ds), len(events), len(byKey), len(first)+len(second))
	}
	if twice != 1 {
		t.Errorf("%d of srv-2's deliveries were sent more than once; want the one cut by the kill, again under its key: %v", twice, byKey)
	}
}
