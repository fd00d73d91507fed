package market

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. A FieldError wraps one of the four kinds below (what is
// wrong with the field) and, when there is one, its cause (why), so callers
// branch on either with errors.Is while users read one message per field.
var (
	ErrRequired error = &kind{"is required"}
	ErrInvalid  error = &kind{"is invalid"}
	ErrRange    error = &kind{"is out of range"}
	ErrTooLarge error = &kind{"is too large"}
)

// ErrOverflow: an amount of money (or a score built from one) does not fit
// in an int64. Every money computation in the market is checked and
// returns it rather than wrap or saturate, so nobody is ever paid or held
// an amount nobody chose.
var ErrOverflow = errors.New("market: amount does not fit in int64")

// ErrNoOpenBid: an award names a bid this provider no longer holds open —
// the award came after the bid's window and AwardMargin, or it was already
// accepted once. A provider answers it with a DeclineExpired ack: the
// award was late, which is the requester's doing, not the provider's.
var ErrNoOpenBid = errors.New("market: no open bid")

// kind is a sentinel naming a kind of problem with a field. Like every
// sentinel of the package its message carries the "market:" prefix; inside
// a FieldError only its words are shown ("memory: is out of range: ...").
type kind struct{ words string }

func (k *kind) Error() string { return "market: " + k.words }

// FieldError says what is wrong with one field of a spec or message. The
// same shape ({Field, Value, Err}) serves every validation in the package.
type FieldError struct {
	Field string // dotted path, e.g. "resources.memory"
	Value any    // the offending value, if useful to show
	Err   error  // wraps one of the kind sentinels, and the cause if any
}

func (e *FieldError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("%s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v (got %v)", e.Field, e.Err, e.Value)
}

// Unwrap exposes Err, and through it the kind sentinel and the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// problem is a FieldError's Err: a kind, the detail a user reads, and the
// cause when the detail was built from another error (with %w).
type problem struct {
	kind   *kind
	detail error // nil without a detail
}

func (p *problem) Error() string {
	if p.detail == nil {
		return p.kind.words
	}
	return p.kind.words + ": " + p.detail.Error()
}

// Unwrap makes errors.Is find both the kind and the cause.
func (p *problem) Unwrap() []error {
	if p.detail == nil {
		return []error{p.kind}
	}
	return []error{p.kind, p.detail}
}

// ValidationError collects every field error found, so a user fixes them all
// in one go.
type ValidationError struct {
	What   string
	Fields []*FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return fmt.Sprintf("market: invalid %s: %s", e.What, strings.Join(parts, "; "))
}

// Unwrap exposes the field errors to errors.Is and errors.As.
func (e *ValidationError) Unwrap() []error {
	out := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f
	}
	return out
}

// quietly is a detail that wraps cause for errors.Is without repeating
// its message.
func quietly(cause error, format string, args ...any) error {
	return &quiet{msg: fmt.Sprintf(format, args...), cause: cause}
}

type quiet struct {
	msg   string
	cause error
}

func (q *quiet) Error() string { return q.msg }
func (q *quiet) Unwrap() error { return q.cause }

type checker struct {
	what   string
	fields []*FieldError
}

// add records a problem of kind k with field. The detail is format and
// args as for fmt.Errorf: pass a cause with %w to keep it reachable.
func (c *checker) add(field string, value any, k error, format string, args ...any) {
	p := &problem{kind: k.(*kind)}
	if format != "" {
		p.detail = fmt.Errorf(format, args...)
	}
	c.fields = append(c.fields, &FieldError{Field: field, Value: value, Err: p})
}

func (c *checker) err() error {
	if len(c.fields) == 0 {
		return nil
	}
	return &ValidationError{What: c.what, Fields: c.fields}
}
