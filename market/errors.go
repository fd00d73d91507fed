package market

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors that field errors wrap, so callers can branch on the kind
// of problem while users read the field-level message.
var (
	ErrRequired = errors.New("is required")
	ErrInvalid  = errors.New("is invalid")
	ErrRange    = errors.New("is out of range")
	ErrTooLarge = errors.New("is too large")
)

// FieldError says what is wrong with one field of a spec or message.
type FieldError struct {
	Field string // dotted path, e.g. "resources.memory"
	Value any    // the offending value, if useful to show
	Err   error  // wraps one of the sentinels above
}

func (e *FieldError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("%s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v (got %v)", e.Field, e.Err, e.Value)
}

func (e *FieldError) Unwrap() error { return e.Err }

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

type checker struct {
	what   string
	fields []*FieldError
}

func (c *checker) add(field string, value any, err error, format string, args ...any) {
	if format != "" {
		err = fmt.Errorf("%w: "+format, append([]any{err}, args...)...)
	}
	c.fields = append(c.fields, &FieldError{Field: field, Value: value, Err: err})
}

func (c *checker) err() error {
	if len(c.fields) == 0 {
		return nil
	}
	return &ValidationError{What: c.what, Fields: c.fields}
}
