package api_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Text no database takes (a NUL byte, invalid UTF-8) in a query parameter
// is a 422 naming the parameter, never a 500 from the database.
func TestControlCharactersInParameters(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"/api/v1/objects?q=a%00b", "/api/v1/objects?q=%22%00", "/api/v1/objects?value_contains=%ff%fe",
		"/api/v1/vulnerabilities?product=x%00", "/api/v1/objects?tag=%01", "/api/v1/objects?q=" + strings.Repeat("a", 3000)} {
		r := e.do("GET", q, e.admin, nil)
		if r.status != http.StatusUnprocessableEntity || len(r.errorBody(t).Error.Fields) == 0 {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	// FTS syntax is plain text.
	for _, q := range []string{`"`, `a OR`, `NEAR(`, `*`, `-x`, `a:b`} {
		if r := e.do("GET", "/api/v1/objects?q="+urlEscape(q), e.admin, nil); r.status != http.StatusOK {
			t.Errorf("q=%q: %d %s", q, r.status, r.body)
		}
	}
}

func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		b.WriteString("%")
		b.WriteString(strings.ToUpper(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])))
	}
	return b.String()
}

// A CSV body over the limit is a 413, whether its length is said up front
// or found while reading.
func TestCSVOverTheLimit(t *testing.T) {
	e := newEnv(t)
	e.api.MaxBody = 4096
	body := "asset,product,version\n" + strings.Repeat("host,Globex Web Server,2.4.49\n", 400)
	for name, rd := range map[string]io.Reader{
		"with a length": strings.NewReader(body),
		"chunked":       io.MultiReader(strings.NewReader(body)), // hides the length
	} {
		req, _ := http.NewRequest("POST", e.url+"/api/v1/cmdb/match", rd)
		req.Header.Set("Authorization", "Bearer "+e.admin)
		req.Header.Set("Content-Type", "text/csv")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "too_large") {
			t.Errorf("%s: %d %s", name, res.StatusCode, b)
		}
	}
}

// Two Authorization headers are a 400: which one counts must not be a guess.
func TestTwoAuthorizationHeaders(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("GET", e.url+"/api/v1/collections", nil)
	req.Header.Add("Authorization", "Bearer "+e.admin)
	req.Header.Add("Authorization", "Bearer flint_someoneelsesomeoneelse")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("two Authorization headers: %d", res.StatusCode)
	}
}

// Failed authentications are logged without the key presented, and an
// address that fails too often is refused before any look-up.
func TestFailedAuthenticationsAreLoggedAndSlowed(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	e.api.Log = slog.New(slog.NewTextHandler(&logs, nil))
	e.api.AuthFails, e.api.AuthFailEvery = 10, time.Hour // no refill while the test runs, however slowly
	const bad = "flint_notarealkeynotarealkey"
	limited := 0
	for range 15 {
		r := e.do("GET", "/api/v1/collections", bad, nil)
		switch r.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("a bad key: %d %s", r.status, r.body)
		}
	}
	if limited != 5 {
		t.Errorf("15 failed authentications with 10 allowed: %d refused, want 5", limited)
	}
	if r := e.do("GET", "/api/v1/collections", e.admin, nil); r.status != http.StatusTooManyRequests {
		t.Errorf("a good key from the refused address: %d (the address is refused before any look-up)", r.status)
	}
	if !strings.Contains(logs.String(), "authentication failed") || !strings.Contains(logs.String(), "remote=127.0.0.1") ||
		strings.Contains(logs.String(), bad) {
		t.Errorf("failed authentications in the log:\n%s", logs.String())
	}
}

// Turning TLS verification off through the API warns, as the CLI does.
func TestVerifyTLSOffWarns(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/v1/instances", e.admin, map[string]any{"name": "a", "base_url": e.simURL, "token": "good", "verify_tls": false})
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), "TLS verification is off") {
		t.Errorf("create with verify_tls false: %d %s", r.status, r.body)
	}
	r = e.do("PATCH", "/api/v1/instances/a", e.admin, map[string]any{"verify_tls": true})
	if strings.Contains(string(r.body), "warnings") {
		t.Errorf("verify_tls true warns: %s", r.body)
	}
	r = e.do("PATCH", "/api/v1/instances/a", e.admin, map[string]any{"verify_tls": false})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "TLS verification is off") {
		t.Errorf("update to verify_tls false: %d %s", r.status, r.body)
	}
}
