package reputation

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Record, Attest and the Batcher wrap them, so the node
// can count rejections by kind with errors.Is.
var (
	// ErrParams: Params.Validate found a bad field; the error lists each.
	ErrParams = errors.New("reputation: invalid parameters")
	// ErrMissing: a peer, capability, evidence or reporter is empty.
	ErrMissing = errors.New("reputation: missing field")
	// ErrOutcome: an unknown outcome, or one that does not fit the
	// capability (Paid, Disputed and Settled go with CapRequester only).
	ErrOutcome = errors.New("reputation: outcome does not fit the capability")
	// ErrSelf: evidence about this node itself, or its own attestation
	// coming back. A node does not rate itself.
	ErrSelf = errors.New("reputation: evidence about this node itself")
	// ErrSelfReport: a reporter reporting on itself. Self-praise is worth
	// nothing and self-blame is not evidence anyone needs.
	ErrSelfReport = errors.New("reputation: a reporter cannot report on itself")
	// ErrNoReceipt: a positive third-party report without the receipt
	// (or settle entry) that proves it.
	ErrNoReceipt = errors.New("reputation: a positive report must carry its receipt")
	// ErrDuplicate: the evidence was already counted (at this weight or
	// more). Harmless: gossip repeats itself.
	ErrDuplicate = errors.New("reputation: evidence already counted")
	// ErrStale: an attestation older than Params.EvidenceMemory, which
	// could recount evidence the book has already forgotten.
	ErrStale = errors.New("reputation: attestation older than the evidence memory")
	// ErrTooLarge: a report larger than a batch may be.
	ErrTooLarge = errors.New("reputation: report too large for a batch")
)

// FieldError says what is wrong with one parameter, in the field-error
// shape of every package ({Field, Value, Err}).
type FieldError struct {
	Field string // e.g. "half_life"
	Value any
	Err   error // why
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %v (got %v)", e.Field, e.Err, e.Value)
}

// Unwrap lets errors.Is match ErrParams and the cause.
func (e *FieldError) Unwrap() []error { return []error{ErrParams, e.Err} }

// ParamsError lists every bad parameter, so an operator fixes them all at
// once. It matches ErrParams under errors.Is.
type ParamsError struct {
	Fields []*FieldError
}

func (e *ParamsError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return ErrParams.Error() + ": " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrParams) true.
func (e *ParamsError) Is(target error) bool { return target == ErrParams }

// ReportError says why one report of an attestation (or one report given
// to a Batcher) was refused. Attest joins one per refused report.
type ReportError struct {
	Index   int // position in Attestation.Reports; -1 from a Batcher
	Subject string
	Err     error // wraps one of the sentinels
}

func (e *ReportError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("report about %s: %v", short(e.Subject), e.Err)
	}
	return fmt.Sprintf("report %d about %s: %v", e.Index, short(e.Subject), e.Err)
}

func (e *ReportError) Unwrap() error { return e.Err }

// short abbreviates peer IDs in messages, as the market does.
func short(id string) string {
	if len(id) > 12 {
		return id[:4] + "…" + id[len(id)-6:]
	}
	return id
}
