package reputation

import (
	"fmt"
	"math"
	"testing"
)

// No population of reporters moves an honest provider's lower bound
// through attestations alone further than the caps allow: each reporter
// r by at most w_r · ReporterCap observations, all of them together by
// at most ThirdPartyCap. Reporters here are as trusted as first-hand
// evidence can make them (from strangers to veterans of this node), send
// any mix of receipt-backed praise and receiptless accusations, in many
// batches, with fresh evidence IDs every time.
func TestAttestationCapProperty(t *testing.T) {
	rng := propRand(t)
	p := DefaultParams()
	for trial := range 200 {
		b := newBook(t)
		now := t0
		honest := "honest"
		mustRecord(t, b, now, honest, wasm, Success, rng.IntN(30))
		before := b.Posterior(honest, wasm)
		reporters := 1 + rng.IntN(40)
		budget := 0.0 // Σ_r w_r · ReporterCap
		for i := range reporters {
			r := fmt.Sprintf("rep%d", i)
			mustRecord(t, b, now, r, wasm, Success, rng.IntN(100))
			if rng.IntN(4) == 0 {
				mustRecord(t, b, now, r, wasm, Failure, 1+rng.IntN(3))
			}
			budget += b.ReporterWeight(r) * p.ReporterCap
		}
		for batch := range 1 + rng.IntN(20) {
			for i := range reporters {
				att := Attestation{Reporter: fmt.Sprintf("rep%d", i), Seq: uint64(batch + 1), Created: now.UnixMilli()}
				for k := range rng.IntN(30) {
					ev := fmt.Sprintf("t%d/b%d/r%d/%d", trial, batch, i, k)
					if rng.IntN(3) == 0 {
						att.Reports = append(att.Reports, receiptReport(honest, wasm, Success, ev))
					} else {
						o := []Outcome{Failure, Timeout, WrongResult, MissedStart}[rng.IntN(4)]
						att.Reports = append(att.Reports, Report{Subject: honest, Capability: wasm, Outcome: o, Evidence: ev})
					}
				}
				if _, err := b.Attest(now, att); err != nil {
					t.Fatal(err)
				}
			}
		}
		after := b.Posterior(honest, wasm)
		third := (after.Alpha - before.Alpha) + (after.Beta - before.Beta)
		limit := math.Min(p.ThirdPartyCap, budget)
		if third > limit+1e-9 {
			t.Fatalf("trial %d: %d reporters added %.4f observations about %s, caps allow %.4f (rerun with -seed=%d)",
				trial, reporters, third, honest, limit, *propSeed)
		}
		worst := Posterior{Alpha: before.Alpha, Beta: before.Beta + limit}.LowerBound(p.Quantile)
		if lb := after.LowerBound(p.Quantile); lb < worst-1e-12 {
			t.Fatalf("trial %d: lower bound %.4f fell below %.4f, the worst the caps allow (rerun with -seed=%d)", trial, lb, worst, *propSeed)
		}
		// First-hand evidence alone decides eligibility: no accusation
		// makes an honest provider ineligible.
		if st := b.Standing(honest, wasm, 0); !st.Eligible {
			t.Fatalf("trial %d: attestations alone made %s ineligible: %s", trial, honest, st.Reason)
		}
	}
}
