package exec

import (
	"fmt"
	"path"
)

// InvalidConfig is an executor package's sentinel for a Config it cannot
// run with ("exec/wasm: invalid config"). Every ConfigError of that
// package wraps it, so errors.Is(err, wasm.ErrInvalidConfig) holds for
// each of them, and its Pkg prefixes their messages.
type InvalidConfig struct{ Pkg string }

func (e *InvalidConfig) Error() string { return e.Pkg + ": invalid config" }

// ConfigError names the field of an executor's Config that is wrong, its
// value and why. It unwraps to its package's sentinel and to the reason.
type ConfigError struct {
	Invalid *InvalidConfig
	Field   string
	Value   any
	Err     error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s: config field %s = %v: %v", e.Invalid.Pkg, e.Field, e.Value, e.Err)
}

// Unwrap lets errors.Is match the package's sentinel and the reason.
func (e *ConfigError) Unwrap() []error { return []error{e.Invalid, e.Err} }

// Field is the ConfigError of one field.
func (e *InvalidConfig) Field(field string, value any, err error) *ConfigError {
	return &ConfigError{Invalid: e, Field: field, Value: value, Err: err}
}

// Positive is a Config field that must be above zero, as an integer
// (durations in nanoseconds).
type Positive struct {
	Field string
	Value int64
}

// CheckPositive returns the ConfigError of the first field that is not above
// zero, in order, pointing to the package's DefaultConfig; nil if all are.
func (e *InvalidConfig) CheckPositive(fields ...Positive) error {
	for _, f := range fields {
		if f.Value <= 0 {
			return e.Field(f.Field, f.Value, fmt.Errorf("must be positive; start from %s.DefaultConfig()", path.Base(e.Pkg)))
		}
	}
	return nil
}

// Validate checks limits an executor falls back on (its
// Config.DefaultLimits, named field): each of memory, time, stdout,
// stderr and /out's bytes and files must be set, since a job's zero means
// "the default". CPUs may stay zero: no quota.
func (l Limits) Validate(invalid *InvalidConfig, field string) error {
	return invalid.CheckPositive(
		Positive{field + ".MemoryBytes", l.MemoryBytes},
		Positive{field + ".Timeout", int64(l.Timeout)},
		Positive{field + ".StdoutBytes", l.StdoutBytes},
		Positive{field + ".StderrBytes", l.StderrBytes},
		Positive{field + ".OutputBytes", l.OutputBytes},
		Positive{field + ".OutputFiles", int64(l.OutputFiles)},
	)
}
