package reputation

import "math"

// CheckPolicy is adaptive verification: how likely a requester is to
// re-run a delivered result on another provider before accepting it, from
// what it knows about the provider that ran it and what the job is worth.
// Blanket replication pays for every job twice or more; the policy pays
// where the evidence is thin:
//
//	LowerBound < Proven:        rate 1 (strangers, whitewashed identities,
//	                            anyone with fewer than ~4 clean jobs here)
//	otherwise:                  rate max(MinRate, (1 − LowerBound) · max(1, value/RefValue))
//
// so a newcomer's result is never taken unchecked, a provider with 60
// clean jobs is checked 5% of the time, and a job worth twice RefValue
// twice as often. Whether one job is checked is ShouldSample with the
// rate: keyed by the requester's secret, so no provider can tell which of
// its jobs will be.
type CheckPolicy struct {
	Proven   float64 // lower bound from which a provider is spot-checked rather than always checked
	MinRate  float64 // the least any result is checked
	RefValue int64   // job value (max price) at which the rate is not scaled; ≤ 0: no scaling
}

// DefaultCheckPolicy checks everything below a lower bound of 0.5 and at
// least 5% of the rest.
func DefaultCheckPolicy() CheckPolicy { return CheckPolicy{Proven: 0.5, MinRate: 0.05} }

// Rate is the probability that a result from a provider with standing st,
// on a job worth value, is checked.
func (p CheckPolicy) Rate(st Standing, value int64) float64 {
	if st.LowerBound < p.Proven {
		return 1
	}
	r := 1 - st.LowerBound
	if p.RefValue > 0 && value > p.RefValue {
		r *= float64(value) / float64(p.RefValue)
	}
	return math.Max(p.MinRate, math.Min(1, r))
}
