package scheduler

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/secret"
)

// lockedBuffer collects log lines from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An upstream that echoes the bearer token back, in whatever shape, never
// gets it into the channel's health, the poll records or the logs, and
// what is kept of its body is bounded.
func TestUpstreamEchoingTheTokenIsRedacted(t *testing.T) {
	const token = "Sekr3t-Token_abc/xyz+1"
	echoes := map[string]func(w http.ResponseWriter, tok string){
		"422 errors[].msg and input": func(w http.ResponseWriter, tok string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(422)
			fmt.Fprintf(w, `{"detail":"bad request","errors":[{"loc":["query","%s"],"msg":"token %s is not allowed","input":"%s"}]}`, tok, tok, tok)
		},
		"non-JSON 200 in upper case": func(w http.ResponseWriter, tok string) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<html>Welcome, %s %s</html>", strings.ToUpper(tok), strings.Repeat("padding ", 5000))
		},
		"401 message URL-escaped": func(w http.ResponseWriter, tok string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"message":"token %s (%s) expired"}`, url.QueryEscape(tok), strings.ToLower(tok))
		},
		"detail as an object": func(w http.ResponseWriter, tok string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"detail":{"token":"%s","why":"\u202e%s"}}`, tok, tok)
		},
	}
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect, smallSim())
		var logs lockedBuffer
		for name, echo := range echoes {
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				echo(w, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			}))
			defer upstream.Close()
			in, err := e.store.CreateInstance(context.Background(), feed.Instance{Name: "echo-" + strings.Fields(name)[0], BaseURL: upstream.URL,
				VerifyTLS: true}, token, func(id int64, tok string) ([]byte, error) { return e.box.Seal([]byte(tok), secret.InstanceAD(id)) }, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := e.scheduler("test")
			s.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ch, err := e.store.Channel(context.Background(), in.Name, feed.Indicators)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Poll(context.Background(), ch, feed.TriggerManual); err == nil {
				t.Fatalf("%s: the poll succeeded", name)
			} else if leaks(err.Error(), token) {
				t.Errorf("%s: the poll's error shows the token: %v", name, err)
			}
			s.Test(context.Background(), ch) //nolint:errcheck // its effect on the health is what is checked
			ch, _ = e.store.Channel(context.Background(), in.Name, feed.Indicators)
			runs, _ := e.store.Polls(context.Background(), ch.ID, 10)
			kept := ch.Health.ErrorMessage
			for _, r := range runs {
				kept += "\n" + r.ErrorMessage
			}
			if ch.Health.ErrorMessage == "" || leaks(kept, token) {
				t.Errorf("%s: stored texts show the token (or nothing was kept): %q", name, kept)
			}
			if n := len([]rune(ch.Health.ErrorMessage)); n > 1000 {
				t.Errorf("%s: the health keeps %d characters of upstream text", name, n)
			}
		}
		if leaks(logs.String(), token) {
			t.Errorf("the logs show the token:\n%s", logs.String())
		}
	})
}

// leaks reports whether text holds the token in any case, raw or escaped.
func leaks(text, token string) bool {
	text = strings.ToLower(text)
	for _, form := range []string{token, url.QueryEscape(token), url.PathEscape(token)} {
		if strings.Contains(text, strings.ToLower(form)) {
			return true
		}
	}
	return false
}
