package settlement

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// Rule violations. Append wraps them with the details of the case (agent,
// job, amounts) and what to do about it; test with errors.Is.
var (
	// ErrInvalid: a body is malformed (missing field, amount ≤ 0, wrong
	// body type for its kind, unknown action or outcome).
	ErrInvalid = errors.New("settlement: invalid entry")
	// ErrBudgetExceeded: a hold needs more than the agent's budget left.
	// The node reports it as API code budget_exceeded.
	ErrBudgetExceeded = errors.New("settlement: budget exceeded")
	// ErrUnknownHold: a release or a requester's receipt names a job with no hold.
	ErrUnknownHold = errors.New("settlement: no hold for this job")
	// ErrHoldExists: a hold names a job that already has an open hold.
	ErrHoldExists = errors.New("settlement: job already has an open hold")
	// ErrHoldClosed: a release or receipt names a job whose hold is used up or released.
	ErrHoldClosed = errors.New("settlement: the job's hold is closed")
	// ErrOverHold: a release or receipt asks for more than the hold has left.
	ErrOverHold = errors.New("settlement: amount exceeds what the hold has left")
	// ErrOverSettle: a settlement is larger than the debt it settles.
	ErrOverSettle = errors.New("settlement: amount exceeds the debt it settles")
	// ErrBadSignature: a receipt, countersignature, settlement or
	// checkpoint signature does not verify against the peer it names.
	ErrBadSignature = errors.New("settlement: bad signature")
	// ErrNotParty: a receipt or settlement names neither party as this node,
	// or a signer is asked to sign for someone else.
	ErrNotParty = errors.New("settlement: this node is not a party")
	// ErrDuplicate: a receipt or settlement already in the ledger, or an
	// agent created twice.
	ErrDuplicate = errors.New("settlement: already recorded")
	// ErrOverflow: an amount would overflow int64.
	ErrOverflow = errors.New("settlement: amount overflows")
	// ErrUnknownAgent: a governance change names an agent never created.
	ErrUnknownAgent = errors.New("settlement: unknown agent")
	// ErrRevoked: a hold or limit change for a revoked agent.
	ErrRevoked = errors.New("settlement: agent is revoked")
)

// Ledger lifecycle errors.
var (
	// ErrClosed: the ledger was closed.
	ErrClosed = errors.New("settlement: ledger is closed")
	// ErrFailed: a write to the database failed; the ledger refuses further
	// appends because what reached the disk is unknown. Close it and open it
	// again: Open reads the truth back from disk.
	ErrFailed = errors.New("settlement: ledger failed after a write error (close and reopen it)")
	// ErrWrongNode: the database belongs to another node's identity.
	ErrWrongNode = errors.New("settlement: ledger belongs to another node")
)

// CorruptionError reports a ledger (or export) that does not verify. Seq is
// the first entry that cannot be trusted: every entry before it verified
// (links, bodies, rules, checkpoints); 0 when the damage is not tied to an
// entry (an index, the database's own files).
type CorruptionError struct {
	Seq    uint64
	Reason string
	Err    error // the underlying cause, if any
}

func (e *CorruptionError) Error() string {
	msg := fmt.Sprintf("settlement: ledger corrupt at entry %d: %s", e.Seq, e.Reason)
	if e.Seq == 0 {
		msg = "settlement: ledger corrupt: " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + " (do not append; restore from a backup or a verified export)"
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// IsCorruption reports whether err says the ledger's data is damaged: a
// CorruptionError from this package, or pebble's own corruption marker.
func IsCorruption(err error) bool {
	var ce *CorruptionError
	return errors.As(err, &ce) || errors.Is(err, pebble.ErrCorruption)
}

// CorruptSeq is the Seq of the CorruptionError in err's chain, if any.
func CorruptSeq(err error) (uint64, bool) {
	var ce *CorruptionError
	if errors.As(err, &ce) {
		return ce.Seq, true
	}
	return 0, false
}

func corruptf(seq uint64, cause error, format string, args ...any) *CorruptionError {
	return &CorruptionError{Seq: seq, Reason: fmt.Sprintf(format, args...), Err: cause}
}

// Reasons a LostWritesError gives.
const (
	// LostBehind: the chain ends before the last entry the head file
	// says was acknowledged.
	LostBehind = "behind"
	// LostDiverged: the chain holds another entry where the head file
	// names an acknowledged one.
	LostDiverged = "diverged"
	// LostHeadMissing: the database says this build kept a head file
	// for it, and the record is gone: nothing says how far the chain went.
	LostHeadMissing = "head_missing"
	// LostHeadCorrupt: the head file exists but neither of its slots
	// verifies, or it names another node.
	LostHeadCorrupt = "head_corrupt"
)

// LostWritesError is Open refusing a ledger that has lost entries it once
// acknowledged: its chain (in pebble) is behind, or differs from, the head
// record kept beside it (HEAD), or that record is gone. Appending on top
// would bury the loss, so the ledger does not open; Recover records the
// loss in a signed entry and re-appends what counterparties' exports still
// prove, and then the ledger opens again.
type LostWritesError struct {
	Dir      string `json:"dir"`
	Reason   string `json:"reason"`    // LostBehind, LostDiverged, LostHeadMissing, LostHeadCorrupt
	Have     uint64 `json:"have"`      // the chain's last entry in the database
	HaveHead string `json:"have_head"` // its CID
	Want     uint64 `json:"want"`      // the last entry the head file says was acknowledged (0: unknown)
	WantHead string `json:"want_head"` // its CID ("" unknown)
	Detail   string `json:"detail"`    // what was found, in a sentence
}

// Missing is how many acknowledged entries are missing at least (0 when
// it cannot be known).
func (e *LostWritesError) Missing() uint64 {
	if e.Want > e.Have {
		return e.Want - e.Have
	}
	return 0
}

func (e *LostWritesError) Error() string {
	var what string
	switch e.Reason {
	case LostBehind:
		what = fmt.Sprintf("%d acknowledged entries are missing: the head file says entries up to %d were acknowledged, the database ends at entry %d",
			e.Missing(), e.Want, e.Have)
	case LostDiverged:
		what = fmt.Sprintf("the database's entry %d is not the one acknowledged (the head file names %s): acknowledged entries were lost and others written in their place",
			e.Want, e.WantHead)
	case LostHeadMissing:
		what = fmt.Sprintf("the head file is missing, so acknowledged entries after entry %d may have been lost unseen", e.Have)
	default:
		what = fmt.Sprintf("the head file does not verify, so acknowledged entries after entry %d may have been lost unseen", e.Have)
	}
	msg := "settlement: ledger " + e.Dir + " lost writes: " + what
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg + ". The node must not append on top of them. With the node stopped, run: hayek ledger recover --from PEER.jsonl ..." +
		" (exports of counterparties' ledgers rebuild the receipts you share; without any, recover records the loss and lets the node start)"
}

// IsLostWrites reports whether err is a LostWritesError.
func IsLostWrites(err error) bool {
	var le *LostWritesError
	return errors.As(err, &le)
}
