package intel

import (
	"errors"
	"fmt"
	"strings"
)

// Application error codes. Every user-facing failure is classified with one
// of these, and the API maps each code to an HTTP status in one table.
const (
	ENOTFOUND     = "not_found"
	EINVALID      = "invalid"
	ECONFLICT     = "conflict"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	EINTERNAL     = "internal"
)

// Error is an application error: a code from the list above and a message
// that is safe to show to the user (it never carries a secret).
type Error struct {
	Code    string
	Message string
	Fields  []FieldError // for EINVALID: every field that is wrong, when known
}

// FieldError names one invalid field of a request and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Invalid returns an EINVALID error listing every field error; its message
// joins theirs. It returns nil when fields is empty.
func Invalid(fields []FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	msgs := make([]string, len(fields))
	for i, f := range fields {
		msgs[i] = f.Message
	}
	return &Error{Code: EINVALID, Message: strings.Join(msgs, "; "), Fields: fields}
}

// Fields returns the field errors of err, if it is (or wraps) an *Error that has them.
func Fields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the application code of err, or EINTERNAL when err is not
// (and does not wrap) an *Error. A nil error has no code.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the *Error's message,
// or a generic text for internal errors, whose details belong in the log.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
