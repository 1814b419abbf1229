package ignite

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"
)

// The default limit of requests to one instance: 20 a second, 5 at once.
const (
	DefaultRateLimit = 20
	DefaultRateBurst = 5
)

// DefaultBaseURL is the production Flashpoint Ignite API.
const DefaultBaseURL = "https://api.flashpoint.io"

// Options configures a Client. The zero value of each field means its default.
type Options struct {
	BaseURL            string        // default DefaultBaseURL
	Token              string        // bearer token (required)
	InsecureSkipVerify bool          // turn TLS verification off (per instance; default on)
	Timeout            time.Duration // per request, default 120 s
	MaxAttempts        int           // requests per call, retries included; default 5
	RetryBase          time.Duration // first backoff, default 1 s
	RetryMax           time.Duration // longest backoff, default 30 s
	RetryAfterCap      time.Duration // longest Retry-After honoured, default 60 s
	RateLimit          float64       // requests per second per Client; default 20; < 0 disables (Limiter too)
	RateBurst          int           // default 5
	Version            string        // Flint's version, for User-Agent and X-FP-Integration* headers
	MaxBodyBytes       int64         // largest response body read, default 512 MiB
	Transport          http.RoundTripper
	Logger             *slog.Logger
	// Addresses, when set, decides which addresses may be dialled (checked
	// after resolution, on every connection); nil checks nothing.
	Addresses *AddrPolicy
	// Limiter, when set, paces every request instead of the client's own
	// limiter of RateLimit and RateBurst: one limiter shared by the clients
	// of an instance (and across replicas) keeps them all under its limit.
	Limiter Limiter
	// Observer, when set, is told of each request, retry and wait (metrics).
	Observer Observer
}

// Limiter paces requests: Wait returns when one may be sent.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Observer is told what a client does: each response or failure of a
// request (status 0 with the failure's code when there was no response),
// each retry with its reason, and each wait for the rate limiter.
type Observer interface {
	UpstreamRequest(endpoint string, status int, code string, took time.Duration)
	UpstreamRetry(endpoint, reason string)
	UpstreamWait(took time.Duration)
}

// Client calls one Flashpoint Ignite instance. It is safe for concurrent use;
// all calls share one rate limiter.
type Client struct {
	base    *url.URL
	token   string
	secret  *regexp.Regexp // the token in upstream text, any case, escaped or not
	opts    Options
	http    *http.Client
	limiter Limiter
	obs     Observer
	log     *slog.Logger
	ua      string
	bufs    chan *bytes.Buffer // body buffers kept across GCs (a sync.Pool is emptied by each one and its buffers regrow)
	sent    atomic.Int64       // requests sent, retries included
}

// Requests is how many requests the client has sent, retries included.
func (c *Client) Requests() int64 { return c.sent.Load() }

// keptBuffers is how many body buffers a client keeps for reuse.
const keptBuffers = 4

// New returns a Client for opts.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("ignite: base URL %q must be an absolute http(s) URL", opts.BaseURL)
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("ignite: base URL %q must not carry a query or fragment", opts.BaseURL)
	}
	if strings.TrimSpace(opts.Token) == "" {
		return nil, errors.New("ignite: a bearer token is required")
	}
	if strings.ContainsAny(opts.Token, "\r\n") {
		return nil, errors.New("ignite: the bearer token contains a line break")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 120 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 30 * time.Second
	}
	if opts.RetryAfterCap <= 0 {
		opts.RetryAfterCap = 60 * time.Second
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.RateBurst <= 0 {
		opts.RateBurst = DefaultRateBurst
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 512 << 20
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	tr := opts.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if opts.Addresses != nil {
			d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: opts.Addresses.control}
			t.DialContext = d.DialContext
		}
		t.MaxIdleConnsPerHost = 8
		t.ResponseHeaderTimeout = opts.Timeout
		if opts.InsecureSkipVerify {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // per-instance opt-out (docs/domain.md §1)
		}
		tr = t
	}
	c := &Client{
		base:  base,
		token: opts.Token,
		secret: regexp.MustCompile(`(?i)` + regexp.QuoteMeta(opts.Token) + `|` + regexp.QuoteMeta(url.QueryEscape(opts.Token)) +
			`|` + regexp.QuoteMeta(url.PathEscape(opts.Token))),
		opts: opts,
		http: &http.Client{
			Transport: tr,
			// Never follow a redirect to another host with the token.
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				if req.URL.Host != base.Host || req.URL.Scheme != base.Scheme {
					return fmt.Errorf("redirect to %s refused: the token is only sent to %s", req.URL.Host, base.Host)
				}
				return nil
			},
		},
		log: opts.Logger,
		ua:  "Flint/" + opts.Version + " (+https://github.com/flintcti/flint)",
	}
	lim := rate.Inf
	if opts.RateLimit > 0 {
		lim = rate.Limit(opts.RateLimit)
	}
	c.limiter = rate.NewLimiter(lim, opts.RateBurst)
	if opts.Limiter != nil && opts.RateLimit > 0 { // a negative RateLimit turns every limit off
		c.limiter = opts.Limiter
	}
	c.obs = opts.Observer
	if c.obs == nil {
		c.obs = noObserver{}
	}
	c.bufs = make(chan *bytes.Buffer, keptBuffers)
	return c, nil
}

// BaseURL returns the instance's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// get performs GET path?query with retries and returns the decoded result of
// decode. Retries cover 429 (honouring Retry-After), 500/502/503/504 and
// connections reset, with exponential backoff and jitter.
func get[T any](ctx context.Context, c *Client, endpoint string, u *url.URL, decode func(*response) (T, error)) (T, error) {
	attempts := 0
	b := &backoff.ExponentialBackOff{
		InitialInterval:     c.opts.RetryBase,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         c.opts.RetryMax,
	}
	op := func() (T, error) {
		var zero T
		attempts++
		resp, err := c.do(ctx, endpoint, u)
		if err != nil {
			err.Attempts = attempts
			if ctx.Err() != nil {
				return zero, backoff.Permanent(context.Cause(ctx))
			}
			if !err.Retryable() || attempts >= c.opts.MaxAttempts {
				return zero, backoff.Permanent(err)
			}
			c.log.Warn("ignite: retrying", "endpoint", endpoint, "code", err.Code(), "attempt", attempts, "retry_after", err.retry)
			c.obs.UpstreamRetry(endpoint, err.Code())
			return zero, err
		}
		buf := resp.body
		v, derr := decode(resp)
		c.putBuf(buf)
		if derr != nil {
			var e *Error
			if !errors.As(derr, &e) {
				e = &Error{Class: ClassBadResponse, Status: resp.status, Message: derr.Error()}
			}
			e.Endpoint, e.Attempts = endpoint, attempts
			return zero, backoff.Permanent(e)
		}
		return v, nil
	}
	v, err := backoff.Retry(ctx, op,
		backoff.WithBackOff(b),
		backoff.WithMaxTries(uint(c.opts.MaxAttempts)),
		backoff.WithMaxElapsedTime(0))
	if err != nil {
		var zero T
		if e, ok := errors.AsType[*Error](err); ok {
			c.cleanError(e)
		}
		if ctx.Err() != nil && ErrorClass(err) == "" {
			return zero, fmt.Errorf("ignite: %s: %w", endpoint, context.Cause(ctx))
		}
		return zero, err
	}
	return v, nil
}

func (c *Client) putBuf(b []byte) {
	if cap(b) > 16<<20 || cap(b) == 0 {
		return
	}
	select {
	case c.bufs <- bytes.NewBuffer(b[:0]):
	default: // enough kept
	}
}

func (c *Client) getBuf() *bytes.Buffer {
	select {
	case b := <-c.bufs:
		b.Reset()
		return b
	default:
		return new(bytes.Buffer)
	}
}

// do makes one request. The returned body buffer is pooled: decoders must
// copy what they keep (json.Unmarshal into RawMessage does).
func (c *Client) do(ctx context.Context, endpoint string, u *url.URL) (*response, *Error) {
	waited := time.Now()
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, &Error{Class: ClassNetwork, Net: NetTimeout, Endpoint: endpoint, Message: "rate limiter: " + err.Error(), cause: err}
	}
	start := time.Now()
	c.obs.UpstreamWait(start.Sub(waited))
	resp, e := c.send(ctx, endpoint, u)
	if e != nil {
		c.obs.UpstreamRequest(endpoint, e.Status, e.Code(), time.Since(start))
	} else {
		c.obs.UpstreamRequest(endpoint, resp.status, strconv.Itoa(resp.status), time.Since(start))
	}
	return resp, e
}

// send sends one request and reads its response.
func (c *Client) send(ctx context.Context, endpoint string, u *url.URL) (*response, *Error) {
	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{Class: ClassInvalidRequest, Endpoint: endpoint, Message: err.Error()}
	}
	c.sent.Add(1)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("X-FP-IntegrationPlatform", "Flint")
	req.Header.Set("X-FP-IntegrationPlatformVersion", c.opts.Version)
	req.Header.Set("X-FP-IntegrationVersion", c.opts.Version)

	res, err := c.http.Do(req)
	if err != nil {
		return nil, c.netError(ctx, endpoint, err)
	}
	defer res.Body.Close()
	buf := c.getBuf()
	if n := res.ContentLength; n > 0 && n <= c.opts.MaxBodyBytes && int(n) > buf.Cap() {
		buf.Grow(int(n) + 1) // one allocation instead of doublings (the +1 lets ReadFrom see EOF without growing)
	}
	_, err = buf.ReadFrom(io.LimitReader(res.Body, c.opts.MaxBodyBytes+1))
	if err != nil {
		c.putBuf(buf.Bytes())
		return nil, c.netError(ctx, endpoint, err)
	}
	if int64(buf.Len()) > c.opts.MaxBodyBytes {
		c.putBuf(buf.Bytes())
		return nil, &Error{Class: ClassBadResponse, Status: res.StatusCode, Endpoint: endpoint,
			Message: fmt.Sprintf("response body larger than %d bytes", c.opts.MaxBodyBytes)}
	}
	resp := &response{status: res.StatusCode, header: res.Header, body: buf.Bytes()}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return resp, nil
	}
	e := c.statusError(endpoint, resp)
	c.putBuf(resp.body)
	return nil, e
}

// noObserver observes nothing.
type noObserver struct{}

func (noObserver) UpstreamRequest(string, int, string, time.Duration) {}
func (noObserver) UpstreamRetry(string, string)                       {}
func (noObserver) UpstreamWait(time.Duration)                         {}

func (c *Client) netError(ctx context.Context, endpoint string, err error) *Error {
	kind := classifyNet(err)
	if ctx.Err() != nil {
		// The caller cancelled: not a network fault.
		return &Error{Class: ClassNetwork, Net: kind, Endpoint: endpoint, Message: "cancelled: " + ctx.Err().Error(), cause: ctx.Err()}
	}
	return &Error{Class: ClassNetwork, Net: kind, Endpoint: endpoint, Message: c.clean(unwrapURLError(err), maxMessageRunes), cause: err}
}

// unwrapURLError drops the "Get \"url\": " prefix: the URL is in the endpoint name.
func unwrapURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

// statusError builds the Error for a non-2xx response from its body:
// {"message"}, {"detail"}, {"detail", "errors":[{loc,msg,input}]},
// {"type","errors":[{"detail"}]} or RFC 7807 problem JSON.
func (c *Client) statusError(endpoint string, r *response) *Error {
	e := &Error{Class: classForStatus(r.status), Status: r.status, Endpoint: endpoint}
	var body struct {
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
		Title   string          `json:"title"`
		Errors  []struct {
			Loc    []any           `json:"loc"`
			Msg    string          `json:"msg"`
			Detail string          `json:"detail"`
			Input  json.RawMessage `json:"input"`
		} `json:"errors"`
	}
	if json.Unmarshal(r.body, &body) == nil {
		var detail string
		if len(body.Detail) > 0 && json.Unmarshal(body.Detail, &detail) != nil {
			detail = string(body.Detail)
		}
		e.Message = firstNonEmpty(body.Message, detail, body.Title)
		for _, fe := range body.Errors {
			f := FieldError{Msg: firstNonEmpty(fe.Msg, fe.Detail)}
			for _, l := range fe.Loc {
				f.Loc = append(f.Loc, fmt.Sprint(l))
			}
			if len(fe.Input) > 0 {
				var s string
				if json.Unmarshal(fe.Input, &s) != nil {
					s = string(fe.Input)
				}
				f.Input = truncate(s, 4*maxInputRunes)
			}
			e.Fields = append(e.Fields, f)
		}
	} else {
		e.Message = strings.TrimSpace(truncate(string(r.body), 2*maxMessageRunes))
	}
	if e.Message == "" {
		e.Message = http.StatusText(r.status)
	}
	c.cleanError(e)
	if r.status == 429 || r.status == 503 {
		if d, ok := parseRetryAfter(r.header.Get("Retry-After"), time.Now()); ok {
			e.retry = min(d, c.opts.RetryAfterCap)
			if e.retry <= 0 {
				e.retry = time.Millisecond
			}
		} else if r.status == 429 {
			// No hint: back off at least the base interval, with jitter.
			e.retry = c.opts.RetryBase + time.Duration(rand.Int64N(int64(c.opts.RetryBase)))
		}
	}
	return e
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(n * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Bounds of the upstream text an Error keeps.
const (
	maxMessageRunes = 300
	maxFieldRunes   = 200
	maxInputRunes   = 64
	maxFields       = 10
)

// redact removes the bearer token from s, in any case and URL-escaped too:
// an upstream that echoes the token (in an error message, a non-JSON body,
// a link) must not carry it into a log, the store or a page.
func (c *Client) redact(s string) string {
	if c.secret == nil {
		return s
	}
	return c.secret.ReplaceAllLiteralString(s, "[REDACTED]")
}

// clean makes a text from upstream safe to keep and show: the token
// redacted, control and bidirectional formatting characters replaced by
// spaces, at most n runes.
func (c *Client) clean(s string, n int) string {
	s = c.redact(strings.ToValidUTF8(s, "?"))
	var b strings.Builder
	runes := 0
	for _, r := range s {
		if runes == n {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			r = ' '
		}
		b.WriteRune(r)
		runes++
	}
	return strings.TrimSpace(b.String())
}

// cleanError bounds and redacts every upstream text of e; every Error the
// client returns passes through it.
func (c *Client) cleanError(e *Error) *Error {
	e.Message = c.clean(e.Message, maxMessageRunes)
	if len(e.Fields) > maxFields {
		e.Fields = e.Fields[:maxFields]
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		f.Msg, f.Input = c.clean(f.Msg, maxFieldRunes), c.clean(f.Input, maxInputRunes)
		for j := range f.Loc {
			f.Loc[j] = c.clean(f.Loc[j], maxInputRunes)
		}
	}
	return e
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// endpointURL builds base + path + query.
func (c *Client) endpointURL(path string, q url.Values) *url.URL {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path
	u.RawQuery = q.Encode()
	return &u
}

// rebase returns the link's path and query on the instance's base URL, so
// the token never goes to a host named in a response. The link must point at
// the expected endpoint path.
func (c *Client) rebase(link, path string) (*url.URL, error) {
	l, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("next link %q is not a URL", c.clean(link, 200))
	}
	want := strings.TrimRight(c.base.Path, "/") + path
	if l.Path != want && l.Path != path {
		return nil, fmt.Errorf("next link path %q is not %q", c.clean(l.Path, 200), path)
	}
	u := *c.base
	u.Path = want
	u.RawQuery = l.RawQuery
	return &u, nil
}

// decodeJSON unmarshals the body into v, classifying failures as bad responses.
func decodeJSON(r *response, v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return &Error{Class: ClassBadResponse, Status: r.status, Message: describeJSONError(r.body, err)}
	}
	return nil
}

func describeJSONError(body []byte, err error) string {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return "empty body"
	case trimmed[0] != '{' && trimmed[0] != '[':
		return "not JSON: " + truncate(string(trimmed), 80)
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) || strings.Contains(err.Error(), "unexpected end of JSON") {
		return fmt.Sprintf("malformed or truncated JSON (%d bytes): %v", len(body), err)
	}
	return "unexpected JSON shape: " + err.Error()
}
