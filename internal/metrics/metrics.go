// Package metrics holds Flint's Prometheus collectors (client_golang): polls
// and what they stored, channel health, upstream requests, store writes,
// HTTP requests, the database pools and the Go runtime. One Metrics is made
// in cli/app.go and handed to the parts it observes; its Handler serves the
// exposition format.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
)

const namespace = "flint"

// Source is what the metrics read at scrape time: the channels with their
// health, and the database pools' statistics.
type Source interface {
	Channels(ctx context.Context, instance string) ([]feed.Channel, error)
	PoolStats() map[string]sql.DBStats
}

// Metrics is Flint's set of collectors on its own registry.
type Metrics struct {
	reg *prometheus.Registry

	polls        *prometheus.CounterVec
	pollDuration *prometheus.HistogramVec
	objects      *prometheus.CounterVec
	storeWrite   *prometheus.HistogramVec

	upstreamRequests *prometheus.CounterVec
	upstreamLatency  *prometheus.HistogramVec
	upstreamRetries  *prometheus.CounterVec
	rateLimitWait    prometheus.Counter
	rateLimitWaits   prometheus.Counter

	httpRequests *prometheus.CounterVec
	httpLatency  *prometheus.HistogramVec

	retentionPurged prometheus.Counter
	notifyAttempts  *prometheus.CounterVec
}

// New registers Flint's collectors, the Go runtime's and the process's on a
// new registry; src is read at each scrape (channel health, pools).
func New(src Source, version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.polls = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "polls_total",
		Help: "Polls ended, by instance, channel and outcome (ok, failed)."}, []string{"instance", "channel", "outcome"})
	m.pollDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "poll_duration_seconds",
		Help:    "How long polls ran, from taking the lease to recording the end.",
		Buckets: []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600}}, []string{"instance", "channel"})
	m.objects = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "poll_objects_total",
		Help: "Items polls committed, by result: new, updated, unchanged, filtered, invalid, unsupported."},
		[]string{"instance", "channel", "result"})
	m.storeWrite = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "store_write_seconds",
		Help:    "Store writes of polls: apply (a group of pages written) and commit (a transaction committed with its cursor).",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}, []string{"operation"})
	m.upstreamRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "upstream_requests_total",
		Help: "Requests to Flashpoint Ignite, retries included, by instance, endpoint and code (HTTP status, or the failure: timeout, dns, tls, refused, reset, bad_response)."},
		[]string{"instance", "endpoint", "code"})
	m.upstreamLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "upstream_request_duration_seconds",
		Help:    "Latency of requests to Flashpoint Ignite, until the body is read.",
		Buckets: prometheus.ExponentialBuckets(0.01, 3, 9)}, []string{"instance", "endpoint"})
	m.upstreamRetries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "upstream_retries_total",
		Help: "Requests to Flashpoint Ignite retried, by the code of the failure retried (429, 5xx, reset)."},
		[]string{"instance", "endpoint", "code"})
	m.rateLimitWaits = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "upstream_rate_limit_waits_total",
		Help: "Requests to Flashpoint Ignite that waited for the rate limiter."})
	m.rateLimitWait = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "upstream_rate_limit_wait_seconds_total",
		Help: "Time requests to Flashpoint Ignite spent waiting for the rate limiter."})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests served (REST API, TAXII, blocklists, console), by route pattern and status code."},
		[]string{"route", "code"})
	m.httpLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Latency of HTTP requests served, by route pattern, until the handler returned.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9)}, []string{"route"})
	m.retentionPurged = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "retention_purged_objects_total",
		Help: "Deprecated objects purged by retention."})
	m.notifyAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "notify_attempts_total",
		Help: "Webhook delivery attempts, by event kind and result: delivered, failed (retried later), given_up."}, []string{"event", "result"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help: "Flint's version (always 1).", ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	m.reg.MustRegister(m.polls, m.pollDuration, m.objects, m.storeWrite, m.upstreamRequests, m.upstreamLatency,
		m.upstreamRetries, m.rateLimitWaits, m.rateLimitWait, m.httpRequests, m.httpLatency, m.retentionPurged, m.notifyAttempts, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if src != nil {
		m.reg.MustRegister(&stateCollector{src: src})
	}
	return m
}

// Registry returns the registry (tests, lint).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the exposition format. A collector that
// fails (the store unreachable) is reported in the scrape's error and the
// rest still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError,
		MaxRequestsInFlight: 4, Timeout: 30 * time.Second})
}

// Ended counts an ended poll and its duration (scheduler.Observer).
func (m *Metrics) Ended(instance string, kind feed.Kind, run feed.PollRun) {
	m.polls.WithLabelValues(instance, string(kind), string(run.Outcome)).Inc()
	if !run.Ended.IsZero() {
		m.pollDuration.WithLabelValues(instance, string(kind)).Observe(run.Ended.Sub(run.Started).Seconds())
	}
}

// Committed counts what a committed transaction of pages held
// (scheduler.Observer).
func (m *Metrics) Committed(instance string, kind feed.Kind, c feed.Counts) {
	for _, r := range []struct {
		result string
		n      int
	}{{"new", c.New}, {"updated", c.Updated}, {"unchanged", c.Unchanged}, {"filtered", c.Filtered},
		{"invalid", c.Invalid}, {"unsupported", c.Unsupported}} {
		if r.n > 0 {
			m.objects.WithLabelValues(instance, string(kind), r.result).Add(float64(r.n))
		}
	}
}

// Wrote observes a store write of a poll (scheduler.Observer).
func (m *Metrics) Wrote(_ string, _ feed.Kind, op string, took time.Duration) {
	m.storeWrite.WithLabelValues(op).Observe(took.Seconds())
}

// Upstream returns the observer of an instance's client
// (scheduler.Observer).
func (m *Metrics) Upstream(instance string) ignite.Observer { return upstream{m, instance} }

// Purged counts objects purged by retention.
func (m *Metrics) Purged(n int) { m.retentionPurged.Add(float64(n)) }

// NotifyAttempt counts a webhook delivery attempt of an event kind: result
// is delivered, failed or given_up.
func (m *Metrics) NotifyAttempt(event, result string) { m.notifyAttempts.WithLabelValues(event, result).Inc() }

// upstream observes one instance's client.
type upstream struct {
	m        *Metrics
	instance string
}

func (u upstream) UpstreamRequest(endpoint string, _ int, code string, took time.Duration) {
	u.m.upstreamRequests.WithLabelValues(u.instance, endpoint, code).Inc()
	u.m.upstreamLatency.WithLabelValues(u.instance, endpoint).Observe(took.Seconds())
}

func (u upstream) UpstreamRetry(endpoint, code string) {
	u.m.upstreamRetries.WithLabelValues(u.instance, endpoint, code).Inc()
}

// UpstreamWait counts waits for the rate limiter longer than a
// millisecond (a limiter with tokens to spare returns at once).
func (u upstream) UpstreamWait(took time.Duration) {
	if took >= time.Millisecond {
		u.m.rateLimitWaits.Inc()
		u.m.rateLimitWait.Add(took.Seconds())
	}
}

// Instrument counts and times the requests next serves by route: the
// pattern of the ServeMux route that served it (so that the label's values
// are bounded by the routes, not by the paths clients send), "other" for
// what no route matched.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			route := r.Pattern
			if route == "" || route == "/" {
				route = "other"
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
			m.httpLatency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer's Flush and
// deadlines (streamed exports).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush flushes the underlying writer (streamed exports that flush
// through the http.Flusher interface).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
