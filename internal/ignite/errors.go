package ignite

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Class is the kind of failure of a call to Flashpoint Ignite.
type Class string

// The error classes. Each maps to one health error code (docs/domain.md §4) via Error.Code.
const (
	ClassUnauthorized   Class = "unauthorized"    // 401
	ClassForbidden      Class = "forbidden"       // 403
	ClassNotFound       Class = "not_found"       // 404
	ClassInvalidRequest Class = "invalid_request" // 400, 422
	ClassRateLimited    Class = "rate_limited"    // 429 after retries
	ClassUpstream       Class = "upstream"        // 5xx (after retries) and other unexpected statuses
	ClassNetwork        Class = "network"         // timeout, dns, tls, refused, reset
	ClassBadResponse    Class = "bad_response"    // not JSON, truncated, wrong envelope, paging that does not advance
)

// Network failure kinds, used as health codes for ClassNetwork.
const (
	NetTimeout        = "timeout"
	NetDNS            = "dns"
	NetTLS            = "tls"
	NetRefused        = "refused"
	NetReset          = "reset"
	NetRefusedAddress = "address_refused" // the address policy refused the address dialled
)

// FieldError is one validation error reported by the server (422 errors[]).
type FieldError struct {
	Loc   []string `json:"loc,omitempty"`
	Msg   string   `json:"msg"`
	Input string   `json:"input,omitempty"`
}

func (f FieldError) String() string {
	field := strings.Join(f.Loc, ".")
	if field == "" {
		return f.Msg
	}
	return field + ": " + f.Msg
}

// Error is the error returned by every Client call that fails.
// It never contains the bearer token.
type Error struct {
	Class    Class
	Status   int    // HTTP status, 0 when no response was received
	Net      string // NetTimeout, NetDNS, ... for ClassNetwork
	Endpoint string // "indicators", "vulnerability", ...
	Message  string // the server's message or a description of the failure
	Fields   []FieldError
	Attempts int // requests made, retries included
	cause    error
	retry    time.Duration // Retry-After the server asked for, if any
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ignite: ")
	if e.Endpoint != "" {
		b.WriteString(e.Endpoint)
		b.WriteString(": ")
	}
	b.WriteString(string(e.Class))
	if e.Status != 0 {
		b.WriteString(" (HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
		b.WriteString(")")
	} else if e.Net != "" {
		b.WriteString(" (" + e.Net + ")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(" [")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
		if i == len(e.Fields)-1 {
			b.WriteString("]")
		}
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the underlying cause and, for a 429, the wait the server
// asked for (so backoff.Retry honours Retry-After).
func (e *Error) Unwrap() []error {
	var errs []error
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	if e.retry > 0 {
		errs = append(errs, &backoff.RetryAfterError{Duration: e.retry})
	}
	return errs
}

// Code returns the health error code of docs/domain.md §4: the HTTP status as text
// ("401", "503"), or timeout, dns, tls, refused, reset, bad_response.
func (e *Error) Code() string {
	switch {
	case e.Class == ClassBadResponse:
		return "bad_response"
	case e.Class == ClassNetwork:
		return e.Net
	case e.Status != 0:
		return strconv.Itoa(e.Status)
	}
	return string(e.Class)
}

// Retryable reports whether the failure is worth retrying within one call:
// 429, 500, 502, 503, 504 and connections reset.
func (e *Error) Retryable() bool {
	switch {
	case e.Class == ClassNetwork:
		return e.Net == NetReset
	case e.Status == 429, e.Status == 500, e.Status == 502, e.Status == 503, e.Status == 504:
		return true
	}
	return false
}

// ErrorClass returns the Class of err, or "" when err is not an *Error.
func ErrorClass(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ""
}

// ErrorCode returns the health code of err (see Error.Code), or "" when err
// is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return ""
}

func classForStatus(status int) Class {
	switch {
	case status == 401:
		return ClassUnauthorized
	case status == 403:
		return ClassForbidden
	case status == 404:
		return ClassNotFound
	case status == 400 || status == 422:
		return ClassInvalidRequest
	case status == 429:
		return ClassRateLimited
	}
	return ClassUpstream
}

// classifyNet turns a transport error into a network Error. The per-request
// timeout and the caller's cancellation are told apart by the caller.
func classifyNet(err error) string {
	var dnsErr *net.DNSError
	var certInvalid x509.CertificateInvalidError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	var netErr net.Error
	var refused *refusedError
	switch {
	case errors.As(err, &refused):
		return NetRefusedAddress
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return NetTimeout
		}
		return NetDNS
	case errors.As(err, &verifyErr), errors.As(err, &certInvalid), errors.As(err, &unknownAuth),
		errors.As(err, &hostErr), errors.As(err, &recordErr), errors.As(err, &alert):
		return NetTLS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return NetTimeout
	case errors.As(err, &netErr) && netErr.Timeout():
		return NetTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return NetRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return NetReset
	}
	if strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:") {
		return NetTLS
	}
	return NetReset
}
