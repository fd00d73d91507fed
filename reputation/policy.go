package reputation

import (
	"math"
	"time"
)

// CheckPolicy is adaptive verification: how likely a requester is to
// re-run a delivered result on another provider before accepting it, from
// what it knows about the provider that ran it and what the job is worth.
// Blanket replication pays for every job twice or more; the policy pays
// where the evidence is thin:
//
//	LowerBound < Proven:   rate 1 (strangers, whitewashed identities, anyone
//	                       with fewer than ~13 clean jobs for this requester)
//	otherwise:             rate max(MinRate, (1 − LowerBound) · max(1, value/RefValue))
//
// so no result of a provider without a record is taken unchecked, one with
// 60 clean jobs is checked 5% of the time, and a job worth twice RefValue
// twice as often. Whether one job is checked is ShouldSample with the
// rate: keyed by the requester's secret, so no provider can tell which of
// its jobs will be. Trusted is the lower bound from which a provider may
// win jobs outside the probation share and check others' results (~4
// clean jobs): between Trusted and Proven it works, and every result is
// checked — where an intermittent cheat is caught before it is trusted
// with unchecked work.
type CheckPolicy struct {
	Trusted  float64 // lower bound to win non-probation jobs and to check others
	Proven   float64 // lower bound from which results are spot-checked rather than always checked
	MinRate  float64 // the least any result is checked
	RefValue int64   // job value (max price) at which the rate is not scaled; ≤ 0: no scaling
}

// DefaultCheckPolicy: trusted at 0.5, spot-checked from 0.8, at least 5%.
func DefaultCheckPolicy() CheckPolicy { return CheckPolicy{Trusted: 0.5, Proven: 0.8, MinRate: 0.05} }

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

// SubnetGuard remembers the subnets (e.g. /24s) in which this node caught
// a wrong result, and bars newcomers from them for a while: fresh
// identities are free, addresses are not, so a sybil flood or a
// whitewasher coming back under a new name from the same machines pays
// with its addresses instead of winning one job per identity. Providers
// with a record of their own are judged on it, not on their neighbours.
// It is a pure value: the caller gives the time. Not safe for concurrent
// use.
type SubnetGuard struct {
	Quarantine time.Duration // how long a subnet stays barred to newcomers after a wrong result
	caught     map[string]time.Time
}

// NewSubnetGuard bars a subnet to newcomers for quarantine after each
// wrong result caught in it.
func NewSubnetGuard(quarantine time.Duration) *SubnetGuard {
	return &SubnetGuard{Quarantine: quarantine, caught: map[string]time.Time{}}
}

// Caught records a wrong result from a provider in subnet at now.
func (g *SubnetGuard) Caught(subnet string, now time.Time) {
	if subnet != "" {
		g.caught[subnet] = now
	}
}

// Bars reports whether a newcomer from subnet is barred at now.
func (g *SubnetGuard) Bars(subnet string, now time.Time) bool {
	t, ok := g.caught[subnet]
	return ok && subnet != "" && now.Sub(t) < g.Quarantine
}
