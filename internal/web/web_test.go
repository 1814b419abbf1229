package web_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/web"
)

// client is a browser-like HTTP client: a cookie jar, no redirects
// followed, so that each answer can be checked.
type client struct {
	t   *testing.T
	c   *console
	h   *http.Client
	tok string // the CSRF token of the last page read
}

func (c *console) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: c.t, c: c, h: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (cl *client) do(method, path string, form url.Values, header map[string]string) (*http.Response, string) {
	cl.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, cl.c.url+path, body)
	if err != nil {
		cl.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := cl.h.Do(req)
	if err != nil {
		cl.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := csrfRE.FindSubmatch(b); m != nil {
		cl.tok = string(m[1])
	}
	return res, string(b)
}

func (cl *client) signIn(name, pw string) {
	cl.t.Helper()
	res, body := cl.do("POST", "/login", url.Values{"name": {name}, "password": {pw}, "next": {"/sources"}}, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/sources" {
		cl.t.Fatalf("sign in as %s: %d %s", name, res.StatusCode, body)
	}
	cl.do("GET", "/sources", nil, nil) // reads the CSRF token
}

// Every answer carries the security headers; the session cookie is
// HttpOnly and SameSite; a sign-in goes back only to this site; a wrong
// password and an unknown name read the same; an address that keeps
// failing is held back.
func TestSignInAndHeaders(t *testing.T) {
	c := newConsole(t)
	pw := c.user("ana", auth.Admin, "")
	cl := c.client()
	res, _ := cl.do("GET", "/sources", nil, nil)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login?next=") {
		t.Fatalf("a page without a session: %d %v", res.StatusCode, res.Header)
	}
	res, body := cl.do("GET", "/login", nil, nil)
	for k, want := range map[string]string{"Content-Security-Policy": "frame-ancestors 'none'", "X-Content-Type-Options": "nosniff",
		"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if !strings.Contains(res.Header.Get(k), want) {
			t.Errorf("%s: %q", k, res.Header.Get(k))
		}
	}
	if strings.Contains(res.Header.Get("Content-Security-Policy"), "unsafe-inline") || strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
		t.Error("inline script or style on the sign-in page")
	}
	res, _ = cl.do("POST", "/login", url.Values{"name": {"ana"}, "password": {pw}, "next": {"//evil.example/x"}}, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/sources" {
		t.Errorf("next to another site: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "flint_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Secure {
		t.Errorf("session cookie: %+v", session)
	}
	_, wrong := c.client().do("POST", "/login", url.Values{"name": {"ana"}, "password": {"not the password at all"}}, nil)
	_, unknown := c.client().do("POST", "/login", url.Values{"name": {"nobody"}, "password": {"not the password at all"}}, nil)
	msg := regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)
	if m1, m2 := msg.FindStringSubmatch(wrong), msg.FindStringSubmatch(unknown); m1 == nil || m2 == nil || m1[1] != m2[1] {
		t.Errorf("a wrong password and an unknown name read differently: %v / %v", m1, m2)
	}
	// One address failing again and again is held back (before the
	// password is even checked).
	bad := c.client()
	var last *http.Response
	for range 15 {
		last, _ = bad.do("POST", "/login", url.Values{"name": {"nobody"}, "password": {"not the password at all"}}, nil)
	}
	if last.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the 15th failure from one address: %d", last.StatusCode)
	}
	// Signing out ends the session on the server, not only in the browser.
	cl.do("GET", "/sources", nil, nil)
	cookie := cl.h.Jar.Cookies(mustURL(c.url))
	cl.do("POST", "/logout", url.Values{"csrf": {cl.tok}}, nil)
	replay := c.client()
	replay.h.Jar.SetCookies(mustURL(c.url), cookie)
	if res, _ := replay.do("GET", "/sources", nil, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a signed-out session's cookie still opens pages: %d", res.StatusCode)
	}
}

func mustURL(s string) *url.URL {
	u, _ := url.Parse(s)
	return u
}

// No principal exceeds its grant in the console: an analyst cannot reach
// a feed-source change by link or by a forged post; a post without the
// session's CSRF token, or from another site, is refused; nothing changes.
func TestConsoleRefusesWhatIsNotGranted(t *testing.T) {
	c := newConsole(t)
	c.env.AddInstance(t, "acme", "good", nil)
	admin, analyst := c.client(), c.client()
	admin.signIn("ana", c.user("ana", auth.Admin, ""))
	analyst.signIn("al", c.user("al", auth.Analyst, ""))
	settings := url.Values{"enabled": {"on"}, "collection": {"Stolen"}, "schedule": {"auto"}, "interval_minutes": {"240"}, "tlp": {"clear"},
		"confidence": {"100"}, "deprecate_after_days": {"30"}, "start_at": {"2026-11-19T00:00"}}
	for _, path := range []string{"/sources/new", "/sources/acme/edit", "/sources/acme/channels/indicators/settings", "/sources/acme/remove"} {
		if res, _ := analyst.do("GET", path, nil, nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("an analyst GET %s: %d", path, res.StatusCode)
		}
	}
	withToken := func(cl *client, v url.Values) url.Values {
		out := url.Values{"csrf": {cl.tok}}
		for k, vs := range v {
			out[k] = vs
		}
		return out
	}
	for _, path := range []string{"/sources/acme/channels/indicators/settings", "/sources/acme/channels/indicators/toggle",
		"/sources/acme/channels/indicators/poll", "/sources/acme/remove"} {
		if res, _ := analyst.do("POST", path, withToken(analyst, settings), nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("an analyst POST %s: %d", path, res.StatusCode)
		}
	}
	// The admin, without the token, with a stale one, or from another site.
	if res, body := admin.do("POST", "/sources/acme/channels/indicators/settings", settings, nil); res.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "security token") {
		t.Errorf("a post without the CSRF token: %d", res.StatusCode)
	}
	other := c.client()
	other.signIn("ana", "password of ana for tests")
	if res, _ := admin.do("POST", "/sources/acme/channels/indicators/settings", withToken(other, settings), nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("a post with another session's token: %d", res.StatusCode)
	}
	if res, _ := admin.do("POST", "/sources/acme/channels/indicators/settings", withToken(admin, settings),
		map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); res.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site post: %d", res.StatusCode)
	}
	ch, err := c.svc.Store.Channel(context.Background(), "acme", "indicators")
	if err != nil || ch.Settings.Collection == "Stolen" {
		t.Fatalf("a refused post changed the channel: %+v %v", ch.Settings, err)
	}
	// The same post, rightly made, is taken.
	if res, body := admin.do("POST", "/sources/acme/channels/indicators/settings", withToken(admin, settings), nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the admin's post: %d %s", res.StatusCode, body)
	}
	if ch, _ := c.svc.Store.Channel(context.Background(), "acme", "indicators"); ch.Settings.Collection != "Stolen" {
		t.Errorf("the admin's post was not saved: %+v", ch.Settings)
	}
	// A feed manager capped at a TLP may not re-mark a channel.
	capped := c.client()
	capped.signIn("fm", c.user("fm", auth.FeedManager, "green"))
	settings.Set("tlp", "red")
	if res, _ := capped.do("POST", "/sources/acme/channels/indicators/settings", withToken(capped, settings), nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("a capped user changed a channel's TLP: %d", res.StatusCode)
	}
}

// Every page checks its permission: each role, signed in, gets 403 where
// it lacks it (by GET, or by a POST with its own valid CSRF token), and
// never 401/403 where it has it.
func TestEveryPageChecksItsPermission(t *testing.T) {
	c := newConsole(t)
	c.env.AddInstance(t, "acme", "good", nil)
	clients := map[auth.Role]*client{}
	for _, r := range auth.Roles() {
		cl := c.client()
		cl.signIn("u-"+string(r), c.user("u-"+string(r), r, ""))
		clients[r] = cl
	}
	checked := 0
	for _, rt := range web.Routes() {
		method, pattern, _ := strings.Cut(rt.Pattern, " ")
		path := strings.NewReplacer("{instance}", "acme", "{kind}", "indicators", "{id}", "1", "{name}", "nobody").Replace(pattern)
		for role, cl := range clients {
			var form url.Values
			if method == "POST" {
				form = url.Values{"csrf": {cl.tok}}
			}
			res, body := cl.do(method, path, form, nil)
			has := rt.Perm == "" || slices.Contains(role.Permissions(), rt.Perm)
			switch {
			case !has && res.StatusCode != http.StatusForbidden:
				t.Errorf("%s lacks %s but %s %s answered %d", role, rt.Perm, method, path, res.StatusCode)
			case !has && !strings.Contains(body, string(rt.Perm)):
				t.Errorf("%s %s: the refusal does not name %s", method, path, rt.Perm)
			case has && (res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusUnauthorized):
				t.Errorf("%s has %s but %s %s answered %d", role, rt.Perm, method, path, res.StatusCode)
			}
		}
		checked++
	}
	if checked < 25 {
		t.Fatalf("only %d pages checked", checked)
	}
}

// upload posts a file as a form's "file" field, with the session's CSRF
// token and extra fields, and returns the answer's body.
func (cl *client) upload(path, name, content string, extra url.Values) string {
	cl.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("csrf", cl.tok)
	for k, vs := range extra {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("file", name)
	io.WriteString(fw, content)
	mw.Close()
	req, _ := http.NewRequest("POST", cl.c.url+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := cl.h.Do(req)
	if err != nil {
		cl.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body)
}
