package notify_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/notify"
	"github.com/flintcti/flint/internal/secret"
	"github.com/flintcti/flint/internal/store"
)

func TestParseTargetAndAllowList(t *testing.T) {
	for _, c := range []struct{ url, err string }{
		{"https://hooks.slack.com/services/T0/B0/SECRETPATH", ""},
		{"http://127.0.0.1:9000/hook", ""},
		{"http://10.1.2.3/hook", ""},
		{"http://example.com/hook", "plain http"},
		{"ftp://example.com/", "scheme"},
		{"https://user:pw@example.com/", "credentials"},
		{"https://example.com/#frag", "fragment"},
		{"example.com/hook", "absolute"},
		{"https://example.com:99999/", "port"},
	} {
		_, err := notify.ParseTarget(c.url)
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.url, err, c.err)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") || err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("the error quotes the URL: %v", err)
		}
	}
	tg, _ := notify.ParseTarget("https://hooks.slack.com/services/T0/B0/SECRETPATH")
	if tg.Hint != "https://hooks.slack.com/…" || tg.Host != "hooks.slack.com:443" {
		t.Errorf("target: %+v", tg)
	}
	for _, c := range []struct{ in, want string }{
		{"Hooks.Slack.com", "hooks.slack.com"}, {"*.example.com:8443", "*.example.com:8443"}, {"127.0.0.1:9000", "127.0.0.1:9000"},
		{"[2001:db8::1]:443", "[2001:db8::1]:443"}, {"2001:db8::1", "[2001:db8::1]"},
		{"*.com", ""}, {"a*b.com", ""}, {"https://x.com", ""}, {"x.com:0", ""}, {"", ""}, {"bad host", ""},
	} {
		got, err := notify.ParsePattern(c.in)
		if got != c.want || (c.want == "") != (err != nil) {
			t.Errorf("pattern %q: %q %v, want %q", c.in, got, err, c.want)
		}
	}
	allowed := func(url string, patterns ...string) bool {
		tg, err := notify.ParseTarget(url)
		if err != nil {
			t.Fatal(err)
		}
		_, ok := notify.Allowed(tg, patterns)
		return ok
	}
	for _, c := range []struct {
		url      string
		patterns []string
		want     bool
	}{
		{"https://hooks.slack.com/x", []string{"hooks.slack.com"}, true},
		{"https://hooks.slack.com:8443/x", []string{"hooks.slack.com"}, false}, // no port: the default only
		{"https://a.b.example.com/x", []string{"*.example.com"}, true},
		{"https://example.com/x", []string{"*.example.com"}, false},
		{"https://evilexample.com/x", []string{"*.example.com"}, false},
		{"https://example.com.evil.net/x", []string{"example.com"}, false},
		{"http://127.0.0.1:9000/x", []string{"127.0.0.1:9000"}, true},
		{"http://127.0.0.1:9001/x", []string{"127.0.0.1:9000"}, false},
		{"https://[2001:db8::1]/x", []string{"[2001:db8::1]"}, true},
		{"https://[2001:db8::1]:8443/x", []string{"[2001:db8::1]:8443"}, true},
	} {
		if got := allowed(c.url, c.patterns...); got != c.want {
			t.Errorf("%s against %v: %v", c.url, c.patterns, got)
		}
	}
	for a, want := range map[string]bool{"8.8.8.8": true, "127.0.0.1": false, "10.0.0.1": false, "169.254.169.254": false,
		"100.64.1.1": false, "::1": false, "fd00::1": false, "2606:4700::1": true, "::ffff:127.0.0.1": false, "0.0.0.0": false} {
		if got := notify.Public(netip.MustParseAddr(a)); got != want {
			t.Errorf("Public(%s) = %v", a, got)
		}
	}
}

func TestRuleValidationAndFilters(t *testing.T) {
	r := notify.Rule{Name: "x", Event: notify.ChannelError, MaxTLP: intel.TLPAmber, Filters: notify.Filters{Severities: []string{"high"}}}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "exposure rules only") {
		t.Errorf("a severity filter on a channel rule: %v", err)
	}
	r = notify.Rule{Name: " x", Event: "exposures", Format: "xml", MaxTLP: "pink", Filters: notify.Filters{Severities: []string{"HUGE"}}}
	err := r.Validate()
	for _, want := range []string{"name", "event \"exposures\"", "format \"xml\"", "\"huge\" is not known", "max TLP"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	nine := 9.0
	r = notify.Rule{Name: "crit", Event: notify.Exposure, MaxTLP: intel.TLPAmber, Filters: notify.Filters{MinCVSSv3: &nine,
		Severities: []string{"Critical"}, Instances: []string{"Prod"}}}
	if err := r.Validate(); err != nil || r.Format != notify.FormatJSON || r.Filters.Severities[0] != "critical" {
		t.Fatalf("valid: %v %+v", err, r)
	}
	x := func(score float64, sev string, tlp intel.TLP, how string, instances ...string) *notify.ExposureFacts {
		var f notify.ExposureFacts
		f.Exposure.How, f.Vulnerability.CVSSv3, f.Vulnerability.Severity, f.Vulnerability.TLP, f.Vulnerability.Instances = how, &score, sev,
			tlp, instances
		return &f
	}
	for i, c := range []struct {
		f    *notify.ExposureFacts
		want bool
	}{
		{x(9.8, "critical", intel.TLPAmber, "cpe", "prod"), true},
		{x(8.8, "critical", intel.TLPAmber, "cpe", "prod"), false},
		{x(9.8, "high", intel.TLPAmber, "cpe", "prod"), false},
		{x(9.8, "critical", intel.TLPRed, "cpe", "prod"), false}, // above the rule's cap
		{x(9.8, "critical", intel.TLPAmber, "name_only", "prod"), false},
		{x(9.8, "critical", intel.TLPAmber, "cpe", "lab"), false},
	} {
		if got := r.WantsExposure(c.f); got != c.want {
			t.Errorf("case %d: %v", i, got)
		}
	}
}

// recv is a webhook receiver whose answers the test scripts.
type recv struct {
	mu     sync.Mutex
	got    []*http.Request
	bodies [][]byte
	at     []time.Time // by the test's clock
	clock  func() time.Time
	answer func(n int, w http.ResponseWriter, r *http.Request) // n counts from 1
	srv    *httptest.Server
}

func newRecv(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *recv {
	rv := &recv{answer: answer}
	rv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		rv.got = append(rv.got, r)
		rv.bodies = append(rv.bodies, b)
		if rv.clock != nil {
			rv.at = append(rv.at, rv.clock())
		}
		n := len(rv.got)
		rv.mu.Unlock()
		rv.answer(n, w, r)
	}))
	t.Cleanup(rv.srv.Close)
	return rv
}

func (rv *recv) requests() ([]*http.Request, [][]byte) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]*http.Request(nil), rv.got...), append([][]byte(nil), rv.bodies...)
}

func (rv *recv) host() string { return strings.TrimPrefix(rv.srv.URL, "http://") }

// verify checks a Flint-Signature the way a receiver would, written apart
// from notify.Sign: the timestamp within the replay window of now, and
// HMAC-SHA256 over "<t>.<body>".
func verify(header string, secret, body []byte, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("no timestamp in %q", header)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s is outside the replay window", ts)
	}
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "%s.%s", ts, body)
	want, _ := hex.DecodeString(sig)
	if !hmac.Equal(mac.Sum(nil), want) {
		return fmt.Errorf("signature mismatch")
	}
	// And with openssl, where it is installed: a second, independent implementation.
	if path, err := exec.LookPath("openssl"); err == nil {
		cmd := exec.Command(path, "dgst", "-sha256", "-hmac", string(secret))
		cmd.Stdin = strings.NewReader(ts + "." + string(body))
		out, err := cmd.Output()
		if err != nil {
			return err
		}
		if f := strings.Fields(string(out)); len(f) == 0 || f[len(f)-1] != sig {
			return fmt.Errorf("openssl computes %q, the header says %s", out, sig)
		}
	}
	return nil
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// setup opens a SQLite store with an instance, a sealing box and a
// deliverer over them.
func setup(t *testing.T, clk *fakeClock, logs io.Writer) (*store.Store, *secret.Box, *notify.Deliverer, feed.Channel) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DSN: filepath.Join(t.TempDir(), "flint.db"), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	in, err := st.CreateInstance(ctx, feed.Instance{Name: "Prod", BaseURL: feed.DefaultBaseURL}, "tok",
		func(id int64, tok string) ([]byte, error) { return box.Seal([]byte(tok), secret.InstanceAD(id)) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := st.Channel(ctx, in.Name, feed.Indicators)
	d := &notify.Deliverer{Store: st, Holder: "test", AllowInternal: true, Timeout: time.Second, MaxAttempts: 3, Backoff: time.Minute,
		Now: clk.Now, Log: slog.New(slog.NewTextHandler(logs, nil)), UserAgent: "Flint/test",
		Open: func(id int64, what string, sealed []byte) ([]byte, error) {
			return box.Open(sealed, secret.RuleAD(id, what))
		}}
	return st, box, d, ch
}

func addRule(t *testing.T, st *store.Store, box *secret.Box, r notify.Rule, url, secretText string) notify.Rule {
	t.Helper()
	tg, err := notify.ParseTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	r.URLHint, r.Host, r.MaxTLP, r.CreatedBy, r.HasSecret = tg.Hint, tg.Host, intel.TLPAmber, "test", secretText != ""
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err = st.CreateRule(context.Background(), r, func(id int64) (notify.Sealed, error) {
		var x notify.Sealed
		x.URL, _ = box.Seal([]byte(url), secret.RuleAD(id, "url"))
		if secretText != "" {
			x.Secret, _ = box.Seal([]byte(secretText), secret.RuleAD(id, "secret"))
		}
		return x, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A channel error reaches a receiver that fails, then times out, then
// answers: three attempts spaced by the backoff, each with the same
// idempotency key and a signature an independent implementation verifies;
// the delivery is recorded delivered. Another receiver that always fails is
// given up after the bound, with the reason. Neither the URL's token nor
// the secret appears in what is recorded or logged.
func TestDeliverRetriesAndSigns(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	var logs bytes.Buffer
	st, box, d, ch := setup(t, clk, &logs)
	flaky := newRecv(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			<-r.Context().Done() // no answer: the deliverer's timeout ends it
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	down := newRecv(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "https://elsewhere.example/")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	flaky.clock = clk.Now
	const secretText = "s3cret-signing-key-0123456789"
	flakyURL, downURL := flaky.srv.URL+"/hook?token=URLTOKEN1234", down.srv.URL+"/hook/URLTOKEN5678"
	for _, h := range []string{flaky.host(), down.host()} {
		if _, err := st.AddDestination(ctx, h, "test"); err != nil {
			t.Fatal(err)
		}
	}
	addRule(t, st, box, notify.Rule{Name: "ops", Event: notify.ChannelError}, flakyURL, secretText)
	addRule(t, st, box, notify.Rule{Name: "chat", Event: notify.ChannelError, Format: notify.FormatSlack}, downURL, "")
	addRule(t, st, box, notify.Rule{Name: "lab only", Event: notify.ChannelError, Filters: notify.Filters{Instances: []string{"lab"}}}, flakyURL, "")

	var results []string
	d.Attempted = func(event, result string) { results = append(results, event+":"+result) }
	h := ch.Health
	h.Enable(clk.Now())
	h.Failed(clk.Now(), "unauthorized", "401", "the token was refused")
	if err := st.SaveHealth(ctx, ch.ID, h, clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Dispatch(ctx); err != nil || n != 2 {
		t.Fatalf("dispatch: %d %v (two rules want it; the lab-only one does not)", n, err)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		if _, err := d.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := d.DeliverDue(ctx); n != 0 { // nothing is due again before its wait
			t.Fatalf("attempt %d: delivered again at once", attempt)
		}
		clk.Add(time.Minute << (attempt - 1)) // the backoff: 1m, 2m, 4m
	}
	reqs, bodies := flaky.requests()
	if len(reqs) != 3 {
		t.Fatalf("the flaky receiver got %d requests", len(reqs))
	}
	key := reqs[0].Header.Get(notify.IdempotencyHeader)
	for i, r := range reqs {
		if r.Header.Get(notify.IdempotencyHeader) != key || key == "" {
			t.Errorf("request %d: idempotency key %q, first %q", i, r.Header.Get(notify.IdempotencyHeader), key)
		}
		if err := verify(r.Header.Get(notify.SignatureHeader), []byte(secretText), bodies[i], flaky.at[i]); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
		if r.Header.Get(notify.EventHeader) != notify.ChannelError || r.URL.Query().Get("token") != "URLTOKEN1234" {
			t.Errorf("request %d: %v %v", i, r.Header, r.URL)
		}
	}
	if err := verify(reqs[0].Header.Get(notify.SignatureHeader), []byte("another secret"), bodies[0], flaky.at[0]); err == nil {
		t.Error("a signature verifies under another secret")
	}
	if err := verify(reqs[0].Header.Get(notify.SignatureHeader), []byte(secretText), bodies[0], flaky.at[0].Add(6*time.Minute)); err == nil {
		t.Error("a signature verifies past the replay window")
	}
	var doc struct {
		ID   string              `json:"id"`
		Type string              `json:"type"`
		Rule string              `json:"rule"`
		Data notify.ChannelFacts `json:"data"`
	}
	if err := json.Unmarshal(bodies[2], &doc); err != nil || doc.ID != key || doc.Type != notify.ChannelError || doc.Rule != "ops" ||
		doc.Data.Instance != "Prod" || doc.Data.ErrorCode != "401" || doc.Data.Channel != "indicators" {
		t.Errorf("document: %s %v", bodies[2], err)
	}
	// The chat receiver got {"text": …} and no signature; redirects are not followed.
	creqs, cbodies := down.requests()
	if len(creqs) != 3 || creqs[0].Header.Get(notify.SignatureHeader) != "" {
		t.Fatalf("chat receiver: %d requests", len(creqs))
	}
	var text map[string]any
	if err := json.Unmarshal(cbodies[0], &text); err != nil || len(text) != 1 || !strings.Contains(fmt.Sprint(text["text"]), "Prod/indicators is in Connection Error (401)") {
		t.Errorf("chat body: %s", cbodies[0])
	}
	slices.Sort(results)
	if want := []string{"channel_error:delivered", "channel_error:failed", "channel_error:failed", "channel_error:failed",
		"channel_error:failed", "channel_error:given_up"}; !slices.Equal(results, want) {
		t.Errorf("attempts told: %v, want %v", results, want)
	}
	ds, _ := st.Deliveries(ctx, store.DeliveryQuery{Limit: 10})
	states := map[string]notify.Delivery{}
	for _, x := range ds {
		states[x.Rule] = x
	}
	if x := states["ops"]; x.State != notify.Delivered || x.Attempts != 3 || x.LastStatus != 204 || x.Key != key {
		t.Errorf("ops: %+v", x)
	}
	if x := states["chat"]; x.State != notify.GivenUp || x.Attempts != 3 || !strings.Contains(x.LastError, "307") {
		t.Errorf("chat: %+v", x)
	}
	for _, leak := range []string{"URLTOKEN", secretText} {
		if strings.Contains(logs.String(), leak) || strings.Contains(fmt.Sprint(ds), leak) {
			t.Errorf("%q in the logs or the deliveries", leak)
		}
	}
}

// A destination taken off the allow-list, or a host that resolves to an
// internal address without AllowInternal, gets nothing: the attempt fails
// with the reason and the receiver sees no request.
func TestDeliverRefusals(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	var logs bytes.Buffer
	st, box, d, ch := setup(t, clk, &logs)
	rv := newRecv(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	st.AddDestination(ctx, rv.host(), "test")
	addRule(t, st, box, notify.Rule{Name: "ops", Event: notify.NoData}, rv.srv.URL+"/x", "")
	// "localhost" resolves to loopback: allowed by name, refused by address.
	port := rv.srv.URL[strings.LastIndex(rv.srv.URL, ":")+1:]
	st.AddDestination(ctx, "localhost:"+port, "test")
	addRule(t, st, box, notify.Rule{Name: "by name", Event: notify.NoData}, "http://localhost:"+port+"/x", "")
	if err := st.RemoveDestination(ctx, rv.host()); err != nil {
		t.Fatal(err)
	}
	d.AllowInternal = false
	h := ch.Health
	h.Enable(clk.Now())
	for range feed.NoDataAfter {
		h.Succeeded(clk.Now(), 0, true)
	}
	st.SaveHealth(ctx, ch.ID, h, clk.Now())
	d.Dispatch(ctx)
	d.DeliverDue(ctx)
	if reqs, _ := rv.requests(); len(reqs) != 0 {
		t.Fatalf("the receiver got %d requests", len(reqs))
	}
	ds, _ := st.Deliveries(ctx, store.DeliveryQuery{Limit: 10})
	for _, x := range ds {
		want := map[string]string{"ops": "not on the allow-list", "by name": "loopback, private or special address"}[x.Rule]
		if x.State != notify.Pending || x.Attempts != 1 || !strings.Contains(x.LastError, want) {
			t.Errorf("%s: %+v, want %q", x.Rule, x, want)
		}
	}
}

// The three formats: Flint's document with the key; Slack's {"text"} with
// markup from upstream escaped; Teams' message with one Adaptive Card.
func TestBodies(t *testing.T) {
	var x notify.ExposureFacts
	score := 9.8
	x.Exposure.ID, x.Exposure.How = 7, "cpe"
	x.Asset.AssetID, x.Asset.Product, x.Asset.Version = "srv-1", "EdgeGate", "4.2"
	x.Vulnerability.Name, x.Vulnerability.CVSSv3, x.Vulnerability.TLP = "CVE-2026-1 <https://evil.example|click>", &score, intel.TLPAmber
	ev := notify.Event{ID: 3, Kind: notify.Exposure, Created: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	body := func(format string) map[string]any {
		b, err := notify.Body(&notify.Rule{Name: "r", Format: format}, "key-1", ev, &x)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := body(notify.FormatJSON); m["id"] != "key-1" || m["type"] != "exposure" || m["event_id"] != 3.0 || m["rule"] != "r" {
		t.Errorf("json: %v", m)
	}
	slack := body(notify.FormatSlack)
	text, _ := slack["text"].(string)
	if len(slack) != 1 || strings.Contains(text, "<https") || !strings.Contains(text, "&lt;https://evil.example|click&gt;") ||
		!strings.Contains(text, "CVSS v3 9.8") || !strings.Contains(text, "srv-1 (EdgeGate 4.2)") || !strings.Contains(text, "exposure 7") {
		t.Errorf("slack: %v", slack)
	}
	teams := body(notify.FormatTeams)
	att, _ := teams["attachments"].([]any)
	if teams["type"] != "message" || len(att) != 1 {
		t.Fatalf("teams: %v", teams)
	}
	a := att[0].(map[string]any)
	card, _ := a["content"].(map[string]any)
	blocks, _ := card["body"].([]any)
	if a["contentType"] != "application/vnd.microsoft.card.adaptive" || card["type"] != "AdaptiveCard" || len(blocks) != 1 ||
		!strings.Contains(blocks[0].(map[string]any)["text"].(string), "srv-1") {
		t.Errorf("teams: %v", teams)
	}
}
