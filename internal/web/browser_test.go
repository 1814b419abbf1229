package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flintcti/flint/internal/api"
	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite/sim"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/scheduler"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/testenv"
	"github.com/flintcti/flint/internal/web"
)

// console is Flint's HTTP endpoint (the API and the console on one mux,
// as flint serve has them) over loopback, on a SQLite store, with the
// simulator behind it.
type console struct {
	t    *testing.T
	url  string
	sim  string // the simulator's base URL
	svc  *service.Service
	env  *testenv.Env
	done chan feed.PollRun
}

func newConsole(t *testing.T) *console {
	t.Helper()
	te := testenv.New(t, "sqlite", sim.Config{Seed: 11, Reports: 10, Vulnerabilities: 60, Indicators: 200,
		IndicatorWindow: 5 * 24 * time.Hour, VulnWindow: 5 * 24 * time.Hour, ReportWindow: 5 * 24 * time.Hour})
	c := &console{t: t, sim: te.URL, env: te, done: make(chan feed.PollRun, 10)}
	sched := &scheduler.Scheduler{Store: te.Store, Box: te.Box, Holder: "web-test", Now: te.Sim.Clock, Version: "test", PageSize: 100,
		Addresses: testenv.Loopback, Client: testenv.FastClient, OnEnd: func(r feed.PollRun) { c.done <- r }}
	c.svc = &service.Service{Store: te.Store, Scheduler: sched, Now: te.Sim.Clock, Seal: te.Seal}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	base := func() context.Context { return ctx }
	mux := http.NewServeMux()
	apiH := (&api.Server{Service: c.svc, Now: te.Sim.Clock, BaseContext: base}).Handler()
	for _, p := range api.Prefixes() {
		mux.Handle(p, apiH)
	}
	mux.Handle("/", (&web.Server{Service: c.svc, BaseContext: base}).Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// user adds a console user.
func (c *console) user(name string, role auth.Role, maxTLP string) string {
	c.t.Helper()
	pw := "password of " + name + " for tests"
	if _, err := c.svc.CreateUser(context.Background(), auth.Operator("test"), service.UserInput{Name: name, Role: string(role), MaxTLP: maxTLP, Password: pw}); err != nil {
		c.t.Fatal(err)
	}
	return pw
}

// chromium finds the browser: $FLINT_CHROMIUM, else chromium on the PATH.
// Without one the test is skipped, unless FLINT_REQUIRE_BROWSER=1 (CI),
// where a missing browser fails the run.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FLINT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FLINT_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium: install it (apt-get install -y chromium) or set FLINT_CHROMIUM; CI requires the browser tests")
	}
	t.Skip("no chromium on this machine (apt-get install -y chromium); browser tests skipped")
	return ""
}

// browser starts a headless chromium for the test. Its deadline is a
// safety net against a hung browser, not a measure of speed.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 10*time.Minute)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// run runs browser actions, failing the test on an error.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// submit clicks what posts a form or follows a link on the page and waits
// for the page it leads to before then: the page it was clicked on may
// already hold what then waits for (a table, a heading).
func submit(t *testing.T, ctx context.Context, what string, click chromedp.Action[chromedp.Void], then ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	get(t, ctx, what+": mark the page", chromedp.Evaluate[bool](`document.documentElement.dataset.left = "1"; true`))
	run(t, ctx, what, append([]chromedp.Action[chromedp.Void]{click, chromedp.WaitReady(chromedp.CSS("html:not([data-left])"))}, then...)...)
}

// get runs an action that reads a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// fill sets form fields by id, as a person typing would leave them.
func fill(t *testing.T, ctx context.Context, fields map[string]string) {
	t.Helper()
	for id, v := range fields {
		got := get(t, ctx, "fill #"+id, chromedp.Evaluate[string](fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q;
			e.dispatchEvent(new Event("input", {bubbles: true})); return e.value; })()`, id, v)))
		if got != v {
			t.Fatalf("#%s holds %q after setting %q", id, got, v)
		}
	}
}

// shot saves a screenshot of the page as docs/console/NAME.png when
// FLINT_SCREENSHOTS names a directory (make screenshots).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("FLINT_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// text is the page's visible text.
func text(t *testing.T, ctx context.Context) string {
	t.Helper()
	return get(t, ctx, "read the page", chromedp.Text(chromedp.CSS("body")))
}

// mustSee fails unless the page shows each of want.
func mustSee(t *testing.T, ctx context.Context, where string, want ...string) {
	t.Helper()
	got := text(t, ctx)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s: the page does not show %q:\n%s", where, w, got)
		}
	}
}

// signIn signs in through the form with the keyboard alone: the name,
// Tab to the password, Enter.
func signIn(t *testing.T, ctx context.Context, base, name, pw string) {
	t.Helper()
	run(t, ctx, "sign in",
		chromedp.Navigate(base+"/sources"),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#name"), name+"\t"+pw+"\r"),
		chromedp.WaitVisible(chromedp.CSS("form.who")),
	)
}

// a11y checks what every page must have: a title, one h1, a label for
// every input a person fills.
func a11y(t *testing.T, ctx context.Context, where string) {
	t.Helper()
	problems := get(t, ctx, "check accessibility", chromedp.Evaluate[[]string](`(() => {
		const out = [];
		if (!document.title.trim()) out.push("no title");
		if (document.querySelectorAll("h1").length !== 1) out.push("not one h1");
		for (const el of document.querySelectorAll("input, select, textarea")) {
			if (el.type === "hidden" || el.type === "submit") continue;
			const labelled = (el.labels && el.labels.length > 0) || el.getAttribute("aria-label");
			if (!labelled) out.push("no label: " + (el.name || el.id));
		}
		// Every action is a native control a keyboard reaches: no click
		// handler on a plain element, none taken out of the tab order.
		for (const el of document.querySelectorAll("[onclick], [tabindex]")) {
			out.push("not keyboard-native: " + el.outerHTML.slice(0, 80));
		}
		for (const el of document.querySelectorAll("a:not([href])")) out.push("a link without href");
		return out;
	})()`))
	if len(problems) > 0 {
		t.Errorf("%s: %v", where, problems)
	}
}

// The seed's journey through the feed-source pages, in a real browser:
// sign in; add an instance with a wrong token and see Connection Error 401
// with its code; fix the token; configure a channel, first with invalid
// values (every error shown beside its input, nothing saved) then valid
// ones; Test Connectivity shows Running; Poll now and see the history;
// sign out.
func TestFeedSourceJourney(t *testing.T) {
	c := newConsole(t)
	pw := c.user("ana", auth.Admin, "")
	ctx := browser(t)
	signIn(t, ctx, c.url, "ana", pw)
	mustSee(t, ctx, "feed sources", "Feed Sources", "No instance yet", "Add Instance")
	a11y(t, ctx, "feed sources")

	// Add Instance, with a token the simulator refuses.
	run(t, ctx, "open Add Instance", chromedp.Click(chromedp.CSS(`a[href="/sources/new"]`)), chromedp.WaitVisible(chromedp.CSS("#token")))
	a11y(t, ctx, "add instance")
	base := get(t, ctx, "read the base URL", chromedp.Value(chromedp.CSS("#base_url")))
	verify := get(t, ctx, "read Verify SSL", chromedp.Evaluate[bool](`document.querySelector("#verify_tls").checked`))
	if base != "https://api.flashpoint.io" || !verify {
		t.Errorf("defaults: base URL %q, Verify SSL %v", base, verify)
	}
	mustSee(t, ctx, "add instance", "not recommended")
	fill(t, ctx, map[string]string{"base_url": c.sim})
	run(t, ctx, "add the instance",
		chromedp.SendKeys(chromedp.CSS("#name"), "acme"),
		chromedp.SendKeys(chromedp.CSS("#token"), "wrong-token-1234"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(`//h1[text()="acme"]`),
	)
	mustSee(t, ctx, "the instance", "Manage Feed Channels", "…1234", "Reports", "Vulnerabilities", "Indicators")
	shot(t, ctx, "instance")
	if strings.Contains(text(t, ctx), "wrong-token") {
		t.Fatal("the page shows the token")
	}
	a11y(t, ctx, "instance")

	// Test Connectivity: Connection Error with its code, in text and on hover.
	run(t, ctx, "test connectivity",
		chromedp.Click(chromedp.CSS(`a[href="/sources/acme/channels/indicators"]`)),
		chromedp.WaitVisible(`//button[text()="Test Connectivity"]`),
		chromedp.Click(`//button[text()="Test Connectivity"]`),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)),
	)
	mustSee(t, ctx, "a failed test", "Connection Error (401)", "Error code 401", "Test Connectivity failed with error code 401")
	shot(t, ctx, "channel-connection-error")
	tip := get(t, ctx, "read the tooltip", chromedp.AttributeValue(chromedp.CSS(`dd .status`), "title")).Value
	if tip != "Error code 401" {
		t.Errorf("the status's tooltip: %q", tip)
	}
	a11y(t, ctx, "channel details")

	// Fix the token.
	run(t, ctx, "fix the token",
		chromedp.Navigate(c.url+"/sources/acme/edit"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), "good"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(`//h1[text()="acme"]`),
	)

	// Settings, first wrong in every way: every error beside its input,
	// nothing saved.
	run(t, ctx, "open the settings",
		chromedp.Navigate(c.url+"/sources/acme/channels/indicators/settings"),
		chromedp.WaitVisible(chromedp.CSS("#interval_minutes")),
	)
	a11y(t, ctx, "channel settings")
	fill(t, ctx, map[string]string{"interval_minutes": "30", "confidence": "150", "deprecate_after_days": "400", "collection": "",
		"start_at": "2020-01-01T00:00"})
	run(t, ctx, "send bad settings",
		chromedp.Click(chromedp.CSS("#enabled")),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.error")),
	)
	mustSee(t, ctx, "refused settings", "Nothing was saved")
	shot(t, ctx, "channel-settings-refused")
	invalid := get(t, ctx, "list the marked fields", chromedp.Evaluate[[]string](`[...document.querySelectorAll("[aria-invalid=true]")].map(e => e.name)`))
	for _, f := range []string{"interval_minutes", "confidence", "deprecate_after_days", "collection", "start_at"} {
		if !strings.Contains(strings.Join(invalid, " "), f) {
			t.Errorf("%s is not marked invalid (marked: %v)", f, invalid)
		}
	}
	mustSee(t, ctx, "refused settings", "240", "10080")
	ch, err := c.svc.Store.Channel(context.Background(), "acme", feed.Indicators)
	if err != nil || ch.Settings.Enabled || ch.Settings.IntervalMinutes != feed.DefaultInterval {
		t.Fatalf("a refused save changed the channel: %+v %v", ch.Settings, err)
	}
	// Then right.
	fill(t, ctx, map[string]string{"interval_minutes": "480", "confidence": "80", "deprecate_after_days": "30", "collection": "Acme Indicators",
		"start_at": c.env.Sim.Clock().Add(-3 * 24 * time.Hour).UTC().Format("2006-01-02T15:04")})
	run(t, ctx, "send good settings",
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(`//button[text()="Poll now"]`),
	)
	ch, _ = c.svc.Store.Channel(context.Background(), "acme", feed.Indicators)
	if !ch.Settings.Enabled || ch.Settings.IntervalMinutes != 480 || ch.Settings.Confidence != 80 || ch.Settings.Collection != "Acme Indicators" {
		t.Fatalf("the good settings were not saved: %+v", ch.Settings)
	}
	// Test Connectivity now shows Running.
	submit(t, ctx, "test again", chromedp.Click(`//button[text()="Test Connectivity"]`), chromedp.WaitVisible(chromedp.CSS("p.good-note")))
	mustSee(t, ctx, "a good test", "the connection works", "Running")

	// Poll now; the page follows the poll until it ends.
	submit(t, ctx, "poll now", chromedp.Click(`//button[text()="Poll now"]`), chromedp.WaitVisible(`//h2[text()="Poll history"]`))
	ended := <-c.done // the poll's end, observed
	if ended.New == 0 {
		t.Fatalf("the poll brought nothing: %+v", ended)
	}
	run(t, ctx, "reload", chromedp.Navigate(c.url+"/sources/acme/channels/indicators"), chromedp.WaitVisible(`//h2[text()="Poll history"]`))
	mustSee(t, ctx, "after the poll", "manual", "ok")
	shot(t, ctx, "channel-details")
	run(t, ctx, "feed sources", chromedp.Navigate(c.url+"/sources"), chromedp.WaitVisible(chromedp.CSS("table")))
	shot(t, ctx, "feed-sources")
	chart := get(t, ctx, "load the chart", chromedp.Evaluate[string](`fetch("/sources/acme/channels/indicators/chart.svg").then(r => r.text())`,
		chromedp.EvalAwaitPromise))
	if !strings.Contains(chart, "<rect") || !strings.Contains(chart, "new") {
		t.Errorf("the chart draws no bar: %.300s", chart)
	}

	// The items the poll brought, in search.
	ch, _ = c.svc.Store.Channel(context.Background(), "acme", feed.Indicators)
	got, err := c.svc.Store.Search(context.Background(), store.Query{Collection: "Acme Indicators", Limit: 1})
	if err != nil || len(got.Objects) == 0 {
		t.Fatalf("nothing stored in Acme Indicators: %v", err)
	}
	run(t, ctx, "search the poll's items", chromedp.Navigate(c.url+"/intel?collection="+url.QueryEscape("Acme Indicators")),
		chromedp.WaitVisible(chromedp.CSS("table")))
	mustSee(t, ctx, "the poll's items", got.Objects[0].Value)

	// The two other channels enabled from Manage Feed Channels.
	for _, k := range []string{"Reports", "Vulnerabilities"} {
		run(t, ctx, "enable "+k, chromedp.Navigate(c.url+"/sources/acme"), chromedp.WaitVisible(chromedp.CSS("table")),
			chromedp.Click(chromedp.CSS(`button[aria-label="Enable the `+k+` channel"]`)),
			chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Disable the `+k+` channel"]`)))
	}
	for _, k := range feed.Kinds() {
		if ch, err := c.svc.Store.Channel(context.Background(), "acme", k); err != nil || !ch.Settings.Enabled {
			t.Errorf("%s not enabled: %v", k, err)
		}
	}

	// Sign out: the pages need a sign-in again.
	run(t, ctx, "sign out", chromedp.Click(`//button[text()="Log out"]`), chromedp.WaitVisible(chromedp.CSS("#password")))
	run(t, ctx, "after signing out", chromedp.Navigate(c.url+"/sources/acme"), chromedp.WaitVisible(chromedp.CSS("#password")))
}

// pollAll polls every channel of an instance to its end.
func (c *console) pollAll(instance string) {
	c.t.Helper()
	for _, k := range feed.Kinds() {
		ch, err := c.svc.Store.Channel(context.Background(), instance, k)
		if err != nil {
			c.t.Fatal(err)
		}
		if _, err := c.svc.Scheduler.Poll(context.Background(), ch, feed.TriggerManual); err != nil {
			c.t.Fatalf("poll %s: %v", k, err)
		}
		<-c.done
	}
}

// The seed's journey through the intelligence, in a real browser: search
// what was ingested and open an object; look up a defanged indicator;
// filter vulnerabilities by product and CVSS v3 ≥ 9 and open one (its
// vectors decoded); match a CMDB file and see the reason; create an API
// key (shown once) and revoke it. A user capped at a TLP sees nothing
// above it on any of these pages.
func TestIntelligenceJourney(t *testing.T) {
	c := newConsole(t)
	c.env.AddInstance(t, "acme", "good", func(k feed.Kind, s *feed.Settings) {
		if k == feed.Indicators {
			s.TLP = "red"
		}
	})
	c.pollAll("acme")
	ctx := context.Background()
	ips, err := c.svc.Store.Search(ctx, store.Query{Types: []intel.Type{intel.IPv4}, Limit: 1})
	if err != nil || len(ips.Objects) == 0 {
		t.Fatalf("no ipv4 stored: %v", err)
	}
	ip := ips.Objects[0]
	q, _ := service.VulnQuery(url.Values{"min_cvss3": {"9"}, "limit": {"1000"}})
	crit, err := c.svc.Store.Search(ctx, q)
	var vuln intel.Object
	for _, o := range crit.Objects {
		if o.Vulnerability != nil && len(o.Vulnerability.Products) > 0 && len(o.Vulnerability.Products[0].Versions) > 0 {
			vuln = o
			break
		}
	}
	if err != nil || vuln.ID == 0 {
		t.Fatalf("no vulnerability with CVSS v3 ≥ 9 and a versioned product: %v", err)
	}
	prod := vuln.Vulnerability.Products[0]

	b := browser(t)
	signIn(t, b, c.url, "ana", c.user("ana", auth.Admin, ""))

	// Search, and an object's page.
	run(t, b, "search", chromedp.Navigate(c.url+"/intel?type=ipv4&value="+url.QueryEscape(ip.Value[:strings.LastIndex(ip.Value, ".")+1]+"*")), chromedp.WaitVisible(chromedp.CSS("table")))
	a11y(t, b, "search")
	mustSee(t, b, "search", ip.Value)
	shot(t, b, "search")
	run(t, b, "open the object", chromedp.Click(chromedp.CSS(`a[href="/intel/objects/`+fmt.Sprint(ip.ID)+`"]`)), chromedp.WaitVisible(`//h2[text()="STIX 2.1"]`))
	a11y(t, b, "object")
	mustSee(t, b, "object", "Sources", "acme", "indicators", `"type": "indicator"`, `"spec_version": "2.1"`)
	shot(t, b, "object")

	// IOC lookup of a defanged value.
	defanged := strings.ReplaceAll(ip.Value, ".", "[.]")
	run(t, b, "look up", chromedp.Navigate(c.url+"/intel/lookup"), chromedp.WaitVisible(chromedp.CSS("#values")))
	a11y(t, b, "lookup")
	fill(t, b, map[string]string{"values": defanged + "\nnot-known.example"})
	submit(t, b, "send the lookup", chromedp.Click(`//button[text()="Look up"]`), chromedp.WaitVisible(chromedp.CSS("table")))
	mustSee(t, b, "lookup", defanged+" → "+ip.Value, "known", "unknown")
	shot(t, b, "lookup")

	// Vulnerabilities by product and CVSS v3 ≥ 9, and one opened.
	run(t, b, "vulnerabilities", chromedp.Navigate(c.url+"/vulns"), chromedp.WaitVisible(chromedp.CSS("#product")))
	a11y(t, b, "vulnerabilities")
	fill(t, b, map[string]string{"product": prod.Product, "min_cvss3": "9"})
	submit(t, b, "filter", chromedp.Click(`//button[text()="Search"]`), chromedp.WaitVisible(chromedp.CSS("table")))
	mustSee(t, b, "filtered vulnerabilities", vuln.Value)
	run(t, b, "open the vulnerability", chromedp.Click(chromedp.CSS(`a[href="/vulns/`+fmt.Sprint(vuln.ID)+`"]`)), chromedp.WaitVisible(`//h2[text()="Affected products"]`))
	a11y(t, b, "vulnerability")
	mustSee(t, b, "vulnerability", "Attack Vector (AV)", prod.Product, "Exploit code maturity", "Timelines")
	shot(t, b, "vulnerability")

	// A CMDB file with an asset running an affected version.
	dir := t.TempDir()
	file := filepath.Join(dir, "cmdb.csv")
	if err := os.WriteFile(file, []byte("asset,vendor,product,version\nweb-01,"+prod.Vendor+","+prod.Product+","+prod.Versions[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, b, "upload the CMDB", chromedp.Navigate(c.url+"/cmdb"), chromedp.WaitVisible(chromedp.CSS("#file")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}),
		chromedp.Click(`//button[text()="Match"]`), chromedp.WaitVisible(chromedp.CSS("table")))
	a11y(t, b, "cmdb")
	mustSee(t, b, "CMDB matches", "web-01", vuln.Value, "product_version")
	shot(t, b, "cmdb")

	// An API key: created, shown once, revoked.
	run(t, b, "create a key", chromedp.Navigate(c.url+"/admin/keys"), chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "siem"),
		chromedp.Click(`//button[text()="Create key"]`), chromedp.WaitVisible(chromedp.CSS("#new-key")))
	a11y(t, b, "keys")
	token := get(t, b, "read the key", chromedp.Text(chromedp.CSS("#new-key")))
	if !auth.LooksLikeKey(token) {
		t.Fatalf("the new key %q", token)
	}
	run(t, b, "reload", chromedp.Navigate(c.url+"/admin/keys"), chromedp.WaitVisible(chromedp.CSS("table")))
	if strings.Contains(text(t, b), token) {
		t.Fatal("the key is shown twice")
	}
	submit(t, b, "revoke", chromedp.Click(chromedp.CSS(`button[aria-label="Revoke the key siem"]`)), chromedp.WaitVisible(chromedp.CSS("table")))
	mustSee(t, b, "after revoking", "revoked")
	for _, page := range []string{"/admin/users", "/admin/audit", "/account"} {
		run(t, b, "open "+page, chromedp.Navigate(c.url+page), chromedp.WaitVisible(chromedp.CSS("h1")))
		a11y(t, b, page)
	}
	mustSee(t, b, "account", "Change your password")
	run(t, b, "audit", chromedp.Navigate(c.url+"/admin/audit"), chromedp.WaitVisible(chromedp.CSS("table")))
	mustSee(t, b, "audit", "user:ana", "key.create", "key.revoke")

	// A user capped at green: red indicators appear nowhere.
	cl := c.client()
	cl.signIn("gus", c.user("gus", auth.Analyst, "green"))
	for _, path := range []string{"/intel?type=ipv4", "/intel/objects/" + fmt.Sprint(ip.ID)} {
		res, body := cl.do("GET", path, nil, nil)
		if strings.Contains(body, ip.Value) {
			t.Errorf("a green user sees the red %s on %s (%d)", ip.Value, path, res.StatusCode)
		}
	}
	if _, body := cl.do("POST", "/intel/lookup", url.Values{"csrf": {cl.tok}, "values": {ip.Value}}, nil); strings.Contains(body, ">known<") {
		t.Error("a green user's lookup knows a red indicator")
	}
	// The vulnerabilities are amber: the green user sees none of them, by
	// search, by page or through a CMDB match.
	for _, path := range []string{"/vulns?min_cvss3=9", "/vulns/" + fmt.Sprint(vuln.ID)} {
		if _, body := cl.do("GET", path, nil, nil); strings.Contains(body, vuln.Value) {
			t.Errorf("a green user sees the amber %s on %s", vuln.Value, path)
		}
	}
	if body := cl.upload("/cmdb", "cmdb.csv", "asset,vendor,product,version\nweb-01,"+prod.Vendor+","+prod.Product+","+prod.Versions[0]+"\n", nil); strings.Contains(body, vuln.Value) ||
		!strings.Contains(body, "web-01") {
		t.Errorf("a green user's CMDB match: %.400s", body)
	}
	if res, _ := cl.do("GET", "/admin/keys", nil, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("an analyst reached the keys: %d", res.StatusCode)
	}
	// The downloads: the admin's lookup and CMDB match as CSV.
	adm := c.client()
	adm.signIn("ana", "password of ana for tests")
	res, body := adm.do("POST", "/intel/lookup", url.Values{"csrf": {adm.tok}, "values": {defanged + "\n=cmd|' /C calc'!A0"}, "format": {"csv"}}, nil)
	if res.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(body, ip.Value+",true,ipv4") || strings.Contains(body, "\n=cmd") {
		t.Errorf("lookup CSV: %s %s", res.Header.Get("Content-Type"), body)
	}
	body = adm.upload("/cmdb", "cmdb.csv", "asset,vendor,product,version\nweb-01,"+prod.Vendor+","+prod.Product+","+prod.Versions[0]+"\n", url.Values{"format": {"csv"}})
	if !strings.HasPrefix(body, "asset,vendor,product,version,cpe,vulnerability") || !strings.Contains(body, "web-01") || !strings.Contains(body, vuln.Value) {
		t.Errorf("CMDB CSV: %.400s", body)
	}
}
