package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Endpoint names, used for faults and request counters.
const (
	EPReports         = "reports"
	EPReport          = "report"
	EPEvents          = "events"
	EPVulnerabilities = "vulnerabilities"
	EPVulnerability   = "vulnerability"
	EPIndicators      = "indicators"
	EPIndicator       = "indicator"
)

// Endpoints lists every endpoint name.
var Endpoints = []string{EPReports, EPReport, EPEvents, EPVulnerabilities, EPVulnerability, EPIndicators, EPIndicator}

// Fault is what the simulator does wrong on an endpoint. Count limits it to
// the next Count requests (0: until cleared).
type Fault struct {
	Status         int      `json:"status,omitempty"`           // answer with this status (429, 500, 502, 503, ...)
	RetryAfter     string   `json:"retry_after,omitempty"`      // Retry-After value in seconds ("2")
	RetryAfterDate bool     `json:"retry_after_date,omitempty"` // send Retry-After as an HTTP date instead
	Latency        Duration `json:"latency,omitempty"`          // delay before answering
	Reset          bool     `json:"reset,omitempty"`            // reset the connection mid-body
	Truncate       bool     `json:"truncate,omitempty"`         // send half the JSON body, then end the response cleanly
	Conflict       bool     `json:"conflict,omitempty"`         // one item per page has a field of the wrong JSON type
	NotJSON        bool     `json:"not_json,omitempty"`         // answer 200 with an HTML page
	Count          int      `json:"count,omitempty"`
}

// Duration is a time.Duration that reads and writes as "1.5s" in JSON.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("latency: want a duration such as \"250ms\"")
		}
		*d = Duration(time.Duration(n * float64(time.Second)))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("latency %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// ParseFault reads ENDPOINT:key=value,key=value (the --fault flag), for
// example "indicators:status=429,retry_after=1,count=3" or "*:latency=200ms".
func ParseFault(spec string) (string, Fault, error) {
	ep, rest, ok := strings.Cut(spec, ":")
	var f Fault
	if !ok || rest == "" {
		return "", f, fmt.Errorf("fault %q: want ENDPOINT:key=value[,key=value]", spec)
	}
	if ep != "*" && !validEndpoint(ep) {
		return "", f, fmt.Errorf("fault %q: unknown endpoint %q (want * or one of %s)", spec, ep, strings.Join(Endpoints, ", "))
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "retry_after":
			f.RetryAfter = v
		case "retry_after_date":
			f.RetryAfterDate = v == "" || v == "true"
		case "latency":
			var d time.Duration
			d, err = time.ParseDuration(v)
			f.Latency = Duration(d)
		case "reset":
			f.Reset = v == "" || v == "true"
		case "truncate":
			f.Truncate = v == "" || v == "true"
		case "conflict":
			f.Conflict = v == "" || v == "true"
		case "not_json":
			f.NotJSON = v == "" || v == "true"
		case "count":
			f.Count, err = strconv.Atoi(v)
		default:
			return "", f, fmt.Errorf("fault %q: unknown key %q", spec, k)
		}
		if err != nil {
			return "", f, fmt.Errorf("fault %q: %s=%q: %w", spec, k, v, err)
		}
	}
	return ep, f, nil
}

func validEndpoint(ep string) bool {
	for _, e := range Endpoints {
		if e == ep {
			return true
		}
	}
	return false
}

// SetFault installs f on endpoint ("*" for all).
func (s *Server) SetFault(endpoint string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[endpoint] = &f
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]*Fault{}
}

// takeFault returns the fault to apply to this request, consuming one use.
func (s *Server) takeFault(endpoint string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{endpoint, "*"} {
		f, ok := s.faults[key]
		if !ok {
			continue
		}
		out := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				delete(s.faults, key)
			}
		}
		return &out
	}
	return nil
}

// applyStatusFault answers the request when f says so and reports whether it did.
func (s *Server) applyStatusFault(w http.ResponseWriter, f *Fault) bool {
	if f == nil {
		return false
	}
	if f.NotJSON {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<html><body><h1>Service maintenance</h1></body></html>"))
		return true
	}
	if f.Status == 0 {
		return false
	}
	if f.RetryAfterDate {
		secs, _ := strconv.Atoi(f.RetryAfter)
		w.Header().Set("Retry-After", s.now().Add(time.Duration(max(secs, 1))*time.Second).UTC().Format(http.TimeFormat))
	} else if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	body := map[string]any{"detail": http.StatusText(f.Status)}
	if f.Status == 429 {
		body = map[string]any{"detail": "Too Many Requests"}
	}
	writeJSON(w, f.Status, body)
	return true
}

// writeBody sends a successful JSON body, damaged as f asks.
func writeBody(w http.ResponseWriter, header http.Header, body []byte, f *Fault) {
	for k, vs := range header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case f != nil && f.Reset:
		hj, ok := w.(http.Hijacker)
		if !ok {
			break
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			return
		}
		resetMidBody(conn, buf, body)
		return
	case f != nil && f.Truncate:
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// resetMidBody promises the whole body, sends half, then resets the TCP
// connection (SO_LINGER 0 makes Close send RST).
func resetMidBody(conn net.Conn, buf *bufio.ReadWriter, body []byte) {
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}
