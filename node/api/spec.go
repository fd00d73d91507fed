package api

import (
	"bytes"
	"encoding/json"
	"strings"
)

// zeroLimits are the limits of a job spec that 0 would not mean: a job
// with no memory, no time or no room for output cannot run, and reading
// 0 as "the default" hid typos and wrong units. Omitted (or null), each
// takes its default.
var zeroLimits = []struct{ field, def, bounds string }{
	{"memory", "64MiB", "64KiB to 4GiB"},
	{"timeout", "10s", "1ms to 24h"},
	{"max_output", "64MiB", "1 byte to 1GiB"},
	{"deadline", "3 × timeout + 30s", "the timeout to 7 days"},
}

// checkZeroLimits refuses a spec that gives one of zeroLimits as 0
// (0, "0", "0B", "0s"). body is the spec as sent: an omitted field and an
// explicit 0 decode alike, so presence is read from it. It runs only when
// a limit decoded to 0.
func checkZeroLimits(body []byte, req *SubmitRequest) error {
	if req.Memory != 0 && req.Timeout != 0 && req.MaxOutput != 0 && req.Deadline != 0 {
		return nil
	}
	var given struct {
		Memory    json.RawMessage `json:"memory"`
		Timeout   json.RawMessage `json:"timeout"`
		MaxOutput json.RawMessage `json:"max_output"`
		Deadline  json.RawMessage `json:"deadline"`
	}
	if json.Unmarshal(body, &given) != nil {
		return nil // decodeStrict accepted it; nothing more to learn
	}
	e := &Error{Code: CodeInvalidSpec}
	for i, v := range []struct {
		raw  json.RawMessage
		zero bool
	}{{given.Memory, req.Memory == 0}, {given.Timeout, req.Timeout == 0}, {given.MaxOutput, req.MaxOutput == 0}, {given.Deadline, req.Deadline == 0}} {
		if !v.zero || len(v.raw) == 0 || bytes.Equal(v.raw, []byte("null")) {
			continue
		}
		z := zeroLimits[i]
		e.Fields = append(e.Fields, FieldError{Field: z.field,
			Message: "0 is not a limit: omit " + z.field + " (or send null) for the default " + z.def + ", or give " + z.bounds})
	}
	if len(e.Fields) == 0 {
		return nil
	}
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	e.Message = "job spec: " + strings.Join(msgs, "; ")
	return e
}
