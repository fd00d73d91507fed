// Package units parses and formats the human sizes and durations that users
// type on the command line, in config files and in job specs: sizes like
// "64MiB", "1.5GB" or "4096", durations in Go's syntax ("3s", "1m30s").
package units

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	// Longest suffixes first so "MiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// ParseSize parses a byte size: a non-negative number with an optional unit
// (B, kB/MB/GB/TB powers of 1000; KiB/MiB/GiB/TiB and bare K/M/G/T powers of
// 1024).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("units: empty size; want a number of bytes or e.g. 64MiB")
	}
	mult := 1.0
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("units: %q is not a size; want a number of bytes or e.g. 64MiB, 1.5GB", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("units: size %q is negative", s)
	}
	v := f * mult
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("units: size %q is too large", s)
	}
	return int64(math.Round(v)), nil
}

// FormatSize formats n bytes with a binary unit, exactly when it can.
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.m {
			if n%u.m == 0 {
				return fmt.Sprintf("%d%s", n/u.m, u.s)
			}
			return fmt.Sprintf("%.1f%s", float64(n)/float64(u.m), u.s)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// Size is a byte count that decodes from JSON or TOML as a number or as a
// string with a unit, and encodes as a number.
type Size int64

// UnmarshalJSON accepts 1048576 or "1MiB".
func (s *Size) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // as encoding/json does: null leaves the value alone
	}
	if isJSONNumber(b) {
		n, err := strconv.ParseInt(string(b), 10, 64)
		switch {
		case err != nil && isWhole(b):
			return fmt.Errorf("units: size %s is too large: at most %d bytes", b, int64(math.MaxInt64))
		case err != nil:
			return fmt.Errorf("units: size %s is not a whole number of bytes in digits; give bytes, or a string with a unit such as \"1.5MiB\"", b)
		case n < 0:
			return fmt.Errorf("units: size %d is negative", n)
		}
		*s = Size(n)
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("units: size must be a number of bytes or a string like \"64MiB\"")
	}
	return s.UnmarshalText([]byte(str))
}

// UnmarshalText accepts "1MiB" (TOML strings, flags).
func (s *Size) UnmarshalText(b []byte) error {
	n, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// MarshalText writes the human form, so config files round-trip readably.
func (s Size) MarshalText() ([]byte, error) { return []byte(FormatSize(int64(s))), nil }

// MarshalJSON writes a plain number: API clients should not parse units.
func (s Size) MarshalJSON() ([]byte, error) { return json.Marshal(int64(s)) }

// String implements fmt.Stringer and pflag.Value.
func (s Size) String() string { return FormatSize(int64(s)) }

// Set implements pflag.Value.
func (s *Size) Set(v string) error { return s.UnmarshalText([]byte(v)) }

// Type implements pflag.Value.
func (s *Size) Type() string { return "size" }

// Duration is a time.Duration that decodes from "3s" strings (JSON, TOML) or,
// in JSON, from a number of milliseconds, and encodes as "3s".
type Duration time.Duration

// maxMs is the longest duration, in milliseconds, that fits.
const maxMs = math.MaxInt64 / int64(time.Millisecond)

// UnmarshalJSON accepts "1m30s" or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // as encoding/json does: null leaves the value alone
	}
	if isJSONNumber(b) {
		// Refused rather than wrapped: 18446744073710 ms would otherwise
		// come out as a fraction of a millisecond.
		ms, err := strconv.ParseInt(string(b), 10, 64)
		switch {
		case (err != nil && isWhole(b)) || ms > maxMs:
			return fmt.Errorf("units: duration %sms is too large: at most %dms (about 292 years)", b, maxMs)
		case err != nil:
			return fmt.Errorf("units: duration %s is not a whole number of milliseconds in digits; give milliseconds, or a string such as \"1.5s\"", b)
		case ms < 0:
			return fmt.Errorf("units: duration %dms is negative", ms)
		}
		*d = Duration(time.Duration(ms) * time.Millisecond)
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("units: duration must be a string like \"3s\" or a number of milliseconds")
	}
	return d.UnmarshalText([]byte(str))
}

// UnmarshalText accepts Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("units: %q is not a duration; want e.g. 3s, 500ms, 1m30s", string(b))
	}
	if v < 0 {
		return fmt.Errorf("units: duration %q is negative", string(b))
	}
	*d = Duration(v)
	return nil
}

// isJSONNumber reports whether b is a JSON number (encoding/json hands
// UnmarshalJSON valid JSON only).
func isJSONNumber(b []byte) bool {
	return len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9')
}

// isWhole reports whether the JSON number b has no fraction or exponent.
func isWhole(b []byte) bool { return !strings.ContainsAny(string(b), ".eE") }

// MarshalText writes Go duration syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// String implements fmt.Stringer and pflag.Value.
func (d Duration) String() string { return time.Duration(d).String() }

// Set implements pflag.Value.
func (d *Duration) Set(v string) error { return d.UnmarshalText([]byte(v)) }

// Type implements pflag.Value.
func (d *Duration) Type() string { return "duration" }
