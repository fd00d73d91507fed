package settlement

import (
	"fmt"
	"math"
	"math/bits"
)

// Money is int64 of the smallest unit, and every sum the rules keep — an
// agent's budget, held, spent and funded, a hold's amount and payments, a
// balance with a peer, the ledger's totals — is checked before it changes:
// an entry that would carry one past the int64 range is refused with a
// *FieldError wrapping ErrOverflow, naming the entry's field and the largest
// value it could have had. Nothing ever wraps.

// FieldError says that a field of an entry does not fit: the amount would
// carry a sum the ledger keeps past what int64 holds. Err is the sentinel
// (ErrOverflow); Cause, when set, the arithmetic that failed. errors.Is
// finds both. The node reports it as a 422 naming Field and Max.
type FieldError struct {
	Field string // the entry's field: "fund.amount", "hold.amount", "receipt.price", ...
	Value int64  // its value
	Max   int64  // the largest value it may have in this ledger now (0: none fits)
	Sum   string // the sum that would overflow: "budget of agent alice", "total earned", ...
	Err   error  // ErrOverflow
	Cause error  // the failed arithmetic, if any
}

func (e *FieldError) Error() string {
	msg := fmt.Sprintf("settlement: %s %d is too large: the %s would overflow (the largest %s this ledger accepts now is %d)",
		e.Field, e.Value, e.Sum, e.Field, e.Max)
	if e.Max <= 0 {
		msg = fmt.Sprintf("settlement: %s %d is too large: the %s is at its limit (no %s fits any more)", e.Field, e.Value, e.Sum, e.Field)
	}
	return msg
}

// Unwrap gives errors.Is and errors.As both the sentinel and the cause.
func (e *FieldError) Unwrap() []error {
	out := []error{e.Err}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

// room is how far one running sum may still move in one direction.
type room struct {
	sum  string
	cur  int64
	down bool // the amount is subtracted
}

// up is a sum the amount is added to; down one it is subtracted from.
func up(sum string, cur int64) room   { return room{sum: sum, cur: cur} }
func down(sum string, cur int64) room { return room{sum: sum, cur: cur, down: true} }

// left is how much may be added to (or, down, subtracted from) r.cur
// without leaving [-MaxInt64, MaxInt64]: a balance never reaches MinInt64,
// so it can always be negated.
func (r room) left() int64 {
	switch {
	case !r.down && r.cur <= 0:
		return math.MaxInt64
	case !r.down:
		return math.MaxInt64 - r.cur
	case r.cur >= 0:
		return math.MaxInt64
	default:
		return max(r.cur+math.MaxInt64, 0)
	}
}

// fits checks that value (≥ 0) may move every sum in rooms, and otherwise
// names the sum with the least room.
func fits(field string, value int64, rooms ...room) error {
	var tight *room
	for i := range rooms {
		if value > rooms[i].left() && (tight == nil || rooms[i].left() < tight.left()) {
			tight = &rooms[i]
		}
	}
	if tight == nil {
		return nil
	}
	maxv := tight.left()
	for _, r := range rooms {
		maxv = min(maxv, r.left())
	}
	op := "+"
	if tight.down {
		op = "-"
	}
	return &FieldError{Field: field, Value: value, Max: maxv, Sum: tight.sum, Err: ErrOverflow,
		Cause: fmt.Errorf("%d %s %d leaves the int64 range", tight.cur, op, value)}
}

// sum128 adds non-negative int64s exactly, as a 128-bit unsigned number,
// so that comparing two sums can never be fooled by a wrap.
func sum128(vs ...int64) (hi, lo uint64, ok bool) {
	for _, v := range vs {
		if v < 0 {
			return 0, 0, false
		}
		var c uint64
		lo, c = bits.Add64(lo, uint64(v), 0)
		hi += c
	}
	return hi, lo, true
}

// eq128 reports whether a and b, each a list of non-negative int64s, have
// the same exact sum.
func eq128(a, b []int64) bool {
	ah, al, aok := sum128(a...)
	bh, bl, bok := sum128(b...)
	return aok && bok && ah == bh && al == bl
}

// accumulator sums int64s, remembering whether any step left the range.
type accumulator struct {
	v        int64
	overflow bool
}

func (a *accumulator) add(v int64) {
	if (v > 0 && a.v > math.MaxInt64-v) || (v < 0 && a.v < math.MinInt64-v) {
		a.overflow = true
		return
	}
	a.v += v
}
