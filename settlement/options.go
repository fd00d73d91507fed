package settlement

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/hayek-market/hayek/internal/canon"
)

// DefaultMaxBatch is the default for Options.MaxBatch.
const DefaultMaxBatch = 1024

// Options configure a Ledger. Call EnsureDefaults, then Validate (Open does
// both).
type Options struct {
	// Signer is the node: it signs checkpoints and is "self" in receipts and
	// settlements. Required.
	Signer canon.Signer
	// Verifier checks peers' signatures on receipts and settlements, and the
	// node's own on checkpoints. Required.
	Verifier canon.Verifier
	// FS is where pebble keeps its files; nil (or vfs.Default) means the
	// real file system, where the ledger's directory is made 0700 and every
	// file 0600. Tests pass vfs.NewStrictMem() to simulate crashes.
	FS vfs.FS
	// Now is the clock entries are stamped with. Nil: time.Now.
	Now func() time.Time
	// MaxBatch is the most entries one group commit takes from the queue
	// (a single AppendAll larger than this still commits whole, alone).
	// 0: DefaultMaxBatch.
	MaxBatch int
	// Logger receives opens, rebuilds and write failures. Nil: discard.
	Logger *slog.Logger
	// RebuildIndexes makes Open replay the whole chain and rewrite every
	// index, as it does anyway when the indexes are missing or stale.
	RebuildIndexes bool
	// VerifyOnOpen makes Open run Verify (not deep) and refuse a ledger that
	// fails it. Without it Open checks only the head and the indexes' head.
	VerifyOnOpen bool
}

// EnsureDefaults fills unset optional fields with their defaults.
func (o *Options) EnsureDefaults() {
	// On disk, files are created 0600 and directories 0700 (fsmode.go).
	o.FS = diskFS(o.FS)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// ErrOptions is wrapped by every OptionsError.
var ErrOptions = errors.New("settlement: invalid options")

// OptionsError names the Options field that is wrong, in the field-error
// shape of every package ({Field, Value, Err}).
type OptionsError struct {
	Field string
	Value any // the offending value, when it can be shown
	Err   error
}

func (e *OptionsError) Error() string {
	return fmt.Sprintf("settlement: Options.%s: %v", e.Field, e.Err)
}

// Unwrap lets errors.Is match ErrOptions and the cause.
func (e *OptionsError) Unwrap() []error { return []error{ErrOptions, e.Err} }

// Validate reports the first unusable field. It expects EnsureDefaults to
// have run.
func (o Options) Validate() error {
	switch {
	case o.Signer == nil:
		return &OptionsError{Field: "Signer", Err: errors.New("nil: pass the node's identity")}
	case o.Signer.ID() == "":
		return &OptionsError{Field: "Signer", Err: errors.New("has an empty ID")}
	case o.Verifier == nil:
		return &OptionsError{Field: "Verifier", Err: errors.New("nil: pass a verifier of peer signatures")}
	case o.FS == nil:
		return &OptionsError{Field: "FS", Err: errors.New("nil: call EnsureDefaults first")}
	case o.Now == nil:
		return &OptionsError{Field: "Now", Err: errors.New("nil: call EnsureDefaults first")}
	case o.MaxBatch < 1:
		return &OptionsError{Field: "MaxBatch", Value: o.MaxBatch, Err: fmt.Errorf("%d: must be at least 1", o.MaxBatch)}
	case o.Logger == nil:
		return &OptionsError{Field: "Logger", Err: errors.New("nil: call EnsureDefaults first")}
	}
	return nil
}

// String describes the options for logs.
func (o Options) String() string {
	id := ""
	if o.Signer != nil {
		id = o.Signer.ID()
	}
	return fmt.Sprintf("node=%s max_batch=%d rebuild_indexes=%t verify_on_open=%t", id, o.MaxBatch, o.RebuildIndexes, o.VerifyOnOpen)
}
