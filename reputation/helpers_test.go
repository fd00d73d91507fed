package reputation

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// propSeed seeds the randomized property tests of this package; a failure
// prints the seed to rerun it with: go test ./reputation -run TestX -seed=N
var propSeed = flag.Uint64("seed", 1, "seed of randomized property tests")

func propRand(t *testing.T) *rand.Rand {
	t.Helper()
	t.Logf("seed %d (rerun with -seed=%d)", *propSeed, *propSeed)
	return rand.New(rand.NewPCG(*propSeed, 0x72657075))
}

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

const (
	self = "self"
	wasm = "runtime/wasm"
)

func newBook(t testing.TB) *Book {
	t.Helper()
	b, err := NewBook(DefaultParams(), self)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// evSeq numbers the evidence IDs of mustRecord.
var evSeq atomic.Int64

// mustRecord records n outcomes o on peer with fresh evidence IDs.
func mustRecord(t testing.TB, b *Book, now time.Time, peer, c string, o Outcome, n int) {
	t.Helper()
	for range n {
		if err := b.Record(now, peer, c, o, fmt.Sprintf("ev%d", evSeq.Add(1))); err != nil {
			t.Fatal(err)
		}
	}
}

// receiptReport is a report backed by a (pretend, caller-verified)
// receipt.
func receiptReport(subject, c string, o Outcome, ev string) Report {
	return Report{Subject: subject, Capability: c, Outcome: o, Evidence: ev, Receipt: []byte("receipt:" + ev)}
}

// sybilReports are n receipt-backed successes about subject with evidence
// unique to tag.
func sybilReports(subject, tag string, n int) []Report {
	rs := make([]Report, n)
	for i := range rs {
		rs[i] = receiptReport(subject, wasm, Success, fmt.Sprintf("%s-%d", tag, i))
	}
	return rs
}

func near(a, b, tol float64) bool {
	d := a - b
	return d <= tol && -d <= tol
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
