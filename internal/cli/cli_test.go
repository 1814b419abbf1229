package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/flintcti/flint/internal/feed"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // closed and replaced at every write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != nil {
		close(s.written)
		s.written = nil
	}
	return s.b.Write(p)
}

// waitFor returns the text after prefix on the first line that starts with
// it, waiting for writes until there is one or done delivers.
func (s *syncBuffer) waitFor(prefix string, done <-chan int) (string, bool) {
	return s.await(done, func(text string) (string, bool) {
		for _, line := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(line, prefix); ok && strings.Contains(text, line+"\n") {
				return rest, true
			}
		}
		return "", false
	})
}

// waitForText waits, as waitFor does, for text anywhere in what was
// written (a log line begins with its time).
func (s *syncBuffer) waitForText(text string, done <-chan int) bool {
	_, ok := s.await(done, func(all string) (string, bool) { return "", strings.Contains(all, text) })
	return ok
}

// await checks what was written with found after each write, until it
// finds what it wants or done delivers.
func (s *syncBuffer) await(done <-chan int, found func(string) (string, bool)) (string, bool) {
	for {
		s.mu.Lock()
		if v, ok := found(s.b.String()); ok {
			s.mu.Unlock()
			return v, true
		}
		if s.written == nil {
			s.written = make(chan struct{})
		}
		w := s.written
		s.mu.Unlock()
		select {
		case <-w:
		case <-done:
			return "", false
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDemoOnce(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	code := Run(context.Background(), []string{"--data-dir", dir, "demo", "--once"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"Flashpoint Ignite simulator: http://127.0.0.1:", "demo/reports: ok", "demo/vulnerabilities: ok",
		"demo/indicators: ok", "first poll done in", `collection "demo Indicators"`, "critical: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	// A second run reuses the instance, pointed at the new simulator.
	out.Reset()
	if code := Run(context.Background(), []string{"--data-dir", dir, "demo", "--once"}, &out, &errb); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "demo/indicators: ok") {
		t.Errorf("second run:\n%s", out.String())
	}
}

func TestSimCommandServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		// The forms README and --help give: commas inside one flag's value.
		done <- Run(ctx, []string{"sim", "--listen", "127.0.0.1:0", "--indicators", "50", "--token", "abc:indicators,reports",
			"--fault", "reports:status=503,retry_after=7"}, &out, &errb)
	}()
	_, ok := out.waitFor("clock ", done) // the last line of its banner
	base, _ := out.waitFor("Flashpoint Ignite simulator listening on ", done)
	if !ok {
		t.Fatalf("no address printed: %s %s", out.String(), errb.String())
	}
	if n := strings.Count(out.String(), "\ntoken "); n != 1 || !strings.Contains(out.String(), "token abc:reports,indicators\n") {
		t.Fatalf("want the one token abc with reports and indicators, got %d tokens: %s", n, out.String())
	}
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if c := get("/technical-intelligence/v2/indicators?size=5", "abc"); c != 200 {
		t.Fatalf("indicators: %d", c)
	}
	if c := get("/vulnerability-intelligence/v1/vulnerabilities", "abc"); c != 403 {
		t.Fatalf("vulnerabilities without entitlement: %d", c)
	}
	if c := get("/technical-intelligence/v2/indicators?size=5", "reports"); c != 401 {
		t.Fatalf("a token named after a dataset: %d", c)
	}
	req, _ := http.NewRequest("GET", base+"/finished-intelligence/v1/reports", nil)
	req.Header.Set("Authorization", "Bearer abc")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 503 || res.Header.Get("Retry-After") != "7" {
		t.Fatalf("the fault's second key was lost: %v %v", err, res)
	} else {
		res.Body.Close()
	}
	// Faults from the flag, then changed at run time through the admin API.
	req, _ = http.NewRequest("PUT", base+"/_sim/faults/indicators", strings.NewReader(`{"status": 502, "count": 1}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("set fault: %v %v", err, res)
	}
	if c := get("/technical-intelligence/v2/indicators?size=5", "abc"); c != 502 {
		t.Fatalf("after PUT fault: %d", c)
	}
	if c := get("/technical-intelligence/v2/indicators?size=5", "abc"); c != 200 {
		t.Fatalf("fault with count 1 should be gone: %d", c)
	}
	res, err = http.Post(base+"/_sim/clock", "application/json", strings.NewReader(`{"advance": "48h"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("advance: %v %v", err, res)
	}
	res, err = http.Get(base + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Counts map[string]int
		Faults map[string]json.RawMessage
	}
	json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if st.Counts["indicators"] <= 50 || st.Faults["reports"] == nil {
		t.Fatalf("state after advancing: %+v", st)
	}
	cancel()
	if code := <-done; code != 0 { // a sim that does not stop hangs until the test binary's timeout
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "--token", "x:secrets"},
		{"sim", "--fault", "nowhere:status=500"},
		{"sim", "--non-premium-detail", "maybe"},
		{"no-such-command"},
	} {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
		if errb.Len() == 0 {
			t.Errorf("%v: no error message", args)
		}
	}
	var out bytes.Buffer
	if code := Run(context.Background(), []string{"--version"}, &out, io.Discard); code != 0 || !strings.Contains(out.String(), Version) {
		t.Errorf("--version: exit %d, %q", code, out.String())
	}
}

func TestProgressLine(t *testing.T) {
	r := feed.PollRun{Counts: feed.Counts{Pages: 3, New: 250, Updated: 50, Unchanged: 0}, Remaining: 700}
	got := progressLine("prod/indicators", r, 12*time.Second)
	want := "prod/indicators: [=========>                    ]  30% of 1000: 300 items (250 new, 50 updated), 3 pages, 12s"
	if got != want {
		t.Errorf("with a known remainder:\n got %q\nwant %q", got, want)
	}
	r.New, r.Remaining = 950, 0
	if got := progressLine("p/i", r, time.Second); !strings.Contains(got, "[==============================] 100% of 1000:") {
		t.Errorf("at the end: %q", got)
	}
	r.Remaining = -1
	if got, want := progressLine("p/i", r, time.Second), "p/i: 1000 items (950 new, 50 updated), 3 pages, 1s"; got != want {
		t.Errorf("with no total from the server:\n got %q\nwant %q", got, want)
	}
}

// A demo whose address is taken fails before it polls, and says what to do.
func TestDemoBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"--data-dir", t.TempDir(), "demo", "--listen", busy.Addr().String()}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "--listen 127.0.0.1:0") || strings.Contains(out.String(), "demo/indicators") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
}

// Without --data-dir the demo's temporary data directory is removed on
// exit, unless --keep; the commands it prints are ones a shell can run.
func TestDemoTemporaryDataDir(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	for _, keep := range []bool{false, true} {
		args := []string{"demo", "--once"}
		if keep {
			args = append(args, "--keep")
		}
		var out, errb bytes.Buffer
		if code := Run(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var dir string
		for _, line := range strings.Split(out.String(), "\n") {
			if rest, ok := strings.CutPrefix(line, "data directory: "); ok {
				dir, _, _ = strings.Cut(rest, " (")
			}
		}
		_, err := os.Stat(dir)
		if dir == "" || keep != (err == nil) {
			t.Fatalf("keep=%v: data directory %q after exit: %v\n%s", keep, dir, err, out.String())
		}
		if keep && !strings.Contains(out.String(), "go run ./cmd/flint --data-dir "+dir+" channel list") {
			t.Errorf("the printed commands do not run this binary (a test binary stands for go run):\n%s", out.String())
		}
	}
}

// Every flag and argument of every command says what it is for.
func TestEveryFlagHasHelp(t *testing.T) {
	var r root
	parser, err := kong.New(&r, kong.Name("flint"), kong.Vars{"version": Version})
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			if strings.TrimSpace(f.Help) == "" {
				t.Errorf("%s --%s has no help", n.Path(), f.Name)
			}
		}
		for _, p := range n.Positional {
			if strings.TrimSpace(p.Help) == "" {
				t.Errorf("%s <%s> has no help", n.Path(), p.Name)
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(parser.Model.Node)
}

// The example requests of README.md answer with results against the data
// of flint demo.
func TestReadmeExamplesAgainstTheDemo(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	values := regexp.MustCompile(`-d '(\{"values": \[[^']*\]\})'`).FindSubmatch(readme)
	vulnURL := regexp.MustCompile(`'http://127\.0\.0\.1:8080/api/v1/vulnerabilities\?([^']*)'`).FindSubmatch(readme)
	if values == nil || vulnURL == nil {
		t.Fatal("README.md no longer has the lookup and vulnerability examples this test reads")
	}
	var body struct{ Values []string }
	if err := json.Unmarshal(values[1], &body); err != nil || len(body.Values) == 0 {
		t.Fatalf("README's lookup body %s: %v", values[1], err)
	}
	dir := t.TempDir()
	if _, errs, code := cli(t, dir, "", "demo", "--once"); code != 0 {
		t.Fatalf("demo: %s", errs)
	}
	if out, errs, code := cli(t, dir, "", append([]string{"lookup", "--fail-unknown"}, body.Values...)...); code != 0 {
		t.Errorf("README's lookup values are not all known to the demo (exit %d):\n%s%s", code, out, errs)
	}
	q, err := url.ParseQuery(string(vulnURL[1]))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--json", "vuln", "search"}
	for k, vs := range q {
		args = append(args, "--"+strings.ReplaceAll(k, "_", "-")+"="+vs[0])
	}
	out, errs, code := cli(t, dir, "", args...)
	var res struct{ Objects []json.RawMessage }
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Objects) == 0 {
		t.Errorf("README's vulnerability search %s finds nothing in the demo's data: %d %s %s", vulnURL[1], code, out, errs)
	}
}

// Flint refuses to start over sealed tokens whose key file is gone, and its
// database files are its owner's alone.
func TestKeyFileAndDatabaseModes(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // an existing, open directory
		t.Fatal(err)
	}
	if _, errs, code := cli(t, dir, "some-token\n", "instance", "add", "Prod", "--base-url", "http://127.0.0.1:9"); code != 0 {
		t.Fatal(errs)
	}
	a, err := Open(t.Context(), dir, "", nil) // the -wal and -shm files exist while the store is open
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Store.Instances(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"flint.db", "flint.db-wal", "flint.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; want it readable by its owner only", name, fi.Mode().Perm())
		}
	}
	if out, errs, code := cli(t, dir, "", "check"); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("check of a sound store: %d %s %s", code, out, errs)
	}
	if err := os.Remove(filepath.Join(dir, "secret.key")); err != nil {
		t.Fatal(err)
	}
	_, errs, code := cli(t, dir, "", "instance", "list")
	if code == 0 || !strings.Contains(errs, "Restore the file from a backup") {
		t.Errorf("start without the key over sealed tokens: %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "secret.key")); err == nil {
		t.Error("a new key file was created over the sealed tokens")
	}
}

func TestPrintable(t *testing.T) {
	if got := printable("ops\x1b[31m\u202eevil"); got != `ops\u001b[31m\u202eevil` {
		t.Errorf("printable = %q", got)
	}
	if got := printable("siem-1"); got != "siem-1" {
		t.Errorf("printable changed a plain name: %q", got)
	}
}

// serve warns of plain HTTP off loopback and of a data directory others
// can read, and of nothing on loopback with a private directory.
func TestServeWarnings(t *testing.T) {
	private, open := t.TempDir(), t.TempDir()
	os.Chmod(private, 0o700)
	os.Chmod(open, 0o755)
	if w := serveWarnings(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, private, false); len(w) != 0 {
		t.Errorf("loopback, private directory: %q", w)
	}
	w := serveWarnings(&net.TCPAddr{IP: net.IPv4(0, 0, 0, 0), Port: 8080}, open, false)
	if len(w) != 2 || !strings.Contains(w[0], "without TLS") || !strings.Contains(w[1], "chmod 700") {
		t.Errorf("all addresses, open directory: %q", w)
	}
	if w := serveWarnings(&net.TCPAddr{IP: net.IPv4(0, 0, 0, 0), Port: 8080}, private, true); len(w) != 0 {
		t.Errorf("all addresses over TLS: %q", w)
	}
}

// The demo daemon serves what it prints: a TAXII client with the key it
// shows reads the collections it polled, until the demo is stopped.
func TestDemoServesTAXII(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"--data-dir", t.TempDir(), "demo", "--listen", "127.0.0.1:0"}, &out, &errb)
	}()
	line, ok := out.waitFor("  curl -u demo:", done)
	if !ok {
		t.Fatalf("the demo ended: %s\n%s", out.String(), errb.String())
	}
	// flint_KEY -H 'Accept: ...' http://ADDR/taxii2/flint/collections/
	key, _, _ := strings.Cut(line, " ")
	collections := line[strings.LastIndex(line, " ")+1:]
	req, _ := http.NewRequestWithContext(ctx, "GET", collections, nil)
	req.SetBasicAuth("demo", key)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var cs struct {
		Collections []struct {
			ID, Title string
		}
	}
	err = json.NewDecoder(res.Body).Decode(&cs)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || len(cs.Collections) != 3 {
		t.Fatalf("GET %s: %d %v %+v", collections, res.StatusCode, err, cs)
	}
	for _, c := range cs.Collections {
		req, _ := http.NewRequestWithContext(ctx, "GET", collections+c.ID+"/objects/?limit=5", nil)
		req.SetBasicAuth("demo", key)
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			More    bool
			Objects []json.RawMessage
		}
		err = json.NewDecoder(res.Body).Decode(&env)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || len(env.Objects) != 5 || !env.More {
			t.Errorf("%s: %d %v: %d objects, more %v", c.Title, res.StatusCode, err, len(env.Objects), env.More)
		}
	}
	// The console on the same listener, with the password the demo printed.
	console, ok := out.waitFor("console: ", done)
	if !ok {
		t.Fatal("no console line")
	}
	consoleURL, rest, _ := strings.Cut(console, " ")
	pw := strings.TrimSuffix(rest[strings.LastIndex(rest, " ")+1:], ")")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = noFollow.PostForm(consoleURL+"login", url.Values{"name": {"demo"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) == 0 {
		t.Errorf("signing in to the console with the printed password: %d", res.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}

// flint user add|list|passwd|remove, the password never a flag's value.
func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(stdin string, args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := RunIO(context.Background(), append([]string{"--data-dir", dir}, args...), strings.NewReader(stdin), &out, &errb)
		return out.String(), errb.String(), code
	}
	t.Setenv("FLINT_TEST_PW", "a long enough password")
	if out, errs, code := run("", "user", "add", "alice", "--role", "analyst", "--max-tlp", "amber", "--password-env", "FLINT_TEST_PW"); code != 0 ||
		!strings.Contains(out, "user alice added (role analyst, capped at TLP amber)") {
		t.Fatalf("add: %d %s %s", code, out, errs)
	}
	if _, errs, code := run("short\n", "user", "add", "bob", "--role", "admin"); code == 0 || !strings.Contains(errs, "12–256") {
		t.Errorf("a short password from stdin: %d %s", code, errs)
	}
	if _, errs, code := run("another long password\n", "user", "add", "alice", "--role", "admin"); code == 0 || !strings.Contains(errs, "exists") {
		t.Errorf("a second alice: %d %s", code, errs)
	}
	if out, _, code := run("", "user", "list"); code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "amber") || strings.Contains(out, "argon2") {
		t.Errorf("list: %d %s", code, out)
	}
	if out, errs, code := run("a brand new password\n", "user", "passwd", "alice"); code != 0 || !strings.Contains(out, "sessions are ended") {
		t.Errorf("passwd: %d %s %s", code, out, errs)
	}
	if out, errs, code := run("", "user", "remove", "alice"); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("remove: %d %s %s", code, out, errs)
	}
	if _, errs, code := run("", "user", "remove", "alice"); code == 0 || !strings.Contains(errs, "no user") {
		t.Errorf("remove again: %d %s", code, errs)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// to certFile and keyFile, and returns the certificate.
func selfSigned(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "flint test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(cryptorand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// flint serve over TLS, tested over a real TLS connection; on SIGHUP it
// reads its certificate again (a broken file leaves the one in use).
func TestServeTLSReloadsOnHangup(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := selfSigned(t, certFile, keyFile, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"--data-dir", filepath.Join(dir, "data"), "--log-level", "info", "serve", "--listen", "127.0.0.1:0",
			"--tls-cert", certFile, "--tls-key", keyFile}, &out, &errb)
	}()
	line, ok := out.waitFor("flint serving on https://", done)
	if !ok {
		t.Fatalf("serve ended: %s", errb.String())
	}
	addr, _, _ := strings.Cut(line, " ")
	served := func(trust *x509.Certificate) (*big.Int, error) {
		pool := x509.NewCertPool()
		pool.AddCert(trust)
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
		res, err := client.Get("https://" + addr + "/healthz")
		if err != nil {
			return nil, err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.TLS == nil {
			return nil, fmt.Errorf("status %d, TLS %v", res.StatusCode, res.TLS != nil)
		}
		return res.TLS.PeerCertificates[0].SerialNumber, nil
	}
	if serial, err := served(first); err != nil || serial.Int64() != 1 {
		t.Fatalf("over TLS: %v %v", serial, err)
	}
	if res, err := http.Get("http://" + addr + "/healthz"); err == nil && res.StatusCode == http.StatusOK {
		t.Error("plain HTTP answered on the TLS listener")
	}
	second := selfSigned(t, certFile, keyFile, 2)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !errb.waitForText(`tls: certificate reloaded`, done) {
		t.Fatalf("no reload: %s", errb.String())
	}
	if serial, err := served(second); err != nil || serial.Int64() != 2 {
		t.Fatalf("after SIGHUP: %v %v", serial, err)
	}
	if _, err := served(first); err == nil {
		t.Error("the old certificate is still served")
	}
	// A broken file: the certificate in use stays.
	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	if !errb.waitForText(`tls: the certificate was not reloaded`, done) {
		t.Fatalf("no refusal logged: %s", errb.String())
	}
	if serial, err := served(second); err != nil || serial.Int64() != 2 {
		t.Errorf("after a broken reload: %v %v", serial, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}
