package reputation

import (
	"math"
	"net/netip"
	"time"
)

// CheckPolicy is adaptive verification: how likely a requester is to
// re-run a delivered result on another provider before accepting it, from
// what it knows about the provider that ran it and what the job is worth.
// Blanket replication pays for every job twice or more; the policy pays
// where the evidence is thin:
//
//	LowerBound < Proven:   rate 1 (strangers, whitewashed identities, anyone
//	                       with fewer than ~28 clean jobs for this requester)
//	Proven ≤ LB < Settled: rate 1 − (LB − Proven)/(Settled − Proven) · Settled,
//	                       from 1 down to 1 − Settled (~28 to ~58 clean jobs)
//	otherwise:             rate 1 − LowerBound
//
// each then scaled by max(1, value/RefValue), at least MinRate and at
// most 1; so no result of a provider without a record is taken
// unchecked, one with 60 clean jobs is checked 5% of the time, and a job
// worth twice RefValue twice as often.
//
// The ramp from Proven to Settled is for on-off cheats. With the rate
// dropping from 1 to 1 − Proven (~0.1) at once, a provider that gave a
// requester just enough honest runs to cross Proven there and then
// cheated slipped about (1 − p)/p ≈ 9 wrong results through before its
// first check of one; no other requester had caught it yet, so no
// evidence from elsewhere could have helped (hayek sim, seeds 2 and 5).
// On the ramp the first results past Proven are still almost always
// checked: the honest work an on-off cheat must do per wrong result
// slipped rises, for a few more checks of every honest provider on its
// way from ~28 to ~58 clean jobs.
//
// Whether one job is checked is ShouldSample with the rate: keyed by
// the requester's secret, so no provider can tell which of its jobs
// will be. Trusted is the lower bound from which a provider may
// win jobs outside the probation share and check others' results (~4
// clean jobs): between Trusted and Proven it works, and every result is
// checked — where an intermittent cheat is caught before it is trusted
// with unchecked work.
//
// ProbationReliability is the first-hand reliability a provider on
// probation (below Trusted) must keep to stay eligible here, above the
// book's MinReliability: a provider that has not earned trust yet gets
// fewer second chances than a veteran with a bad day. A lazy provider
// dropping half its jobs (reliability → 1/3) used to stay eligible for
// about ten jobs per requester and an intermittent cheat caught once
// kept bidding until its second catch, winning probation jobs on price;
// at 0.44 they are out after about six, while an honest stranger whose
// first job was lost (0.45) is not.
//
// ProbationAgainst bounds how often a provider on probation may be caught
// at all. A reliability floor is a ratio: (S + 1.8)/(S + 8W + 2) ≥ 0.44
// holds for S clean jobs and W wrong results while S ≥ 6.3·W − 1.6, so an
// intermittent cheat lucky enough to run about six clean jobs per catch
// kept its probation indefinitely and won probation jobs on price, each
// costing a check and often a tie-break (internal/sim's 3-requester
// market: 1.9% of awards after burn-in over seeds 1–5, and on seed 1 the
// runs that took the market over 1.3 per job). With the bar at 17 — more
// than two wrong results' weight: a third catch within about a week, or
// a failure on top of two — it is out at the third catch whatever it ran
// in between. An honest provider is caught only when its checkers
// collude against it, which JudgeCheck's cohorts make rare; a veteran
// (at Trusted or above) is left to the book's floor.
//
// Contradictions is for a requester whose trusted providers turned. A
// check that reaches no verdict blames nobody, so veterans that switched
// to cheating, drawn as each other's checkers, left every check of their
// results without one — each returning a wrong output of its own, the
// honest run never credible alone against their old records — and stayed
// trusted, won on price and checked again (internal/sim's on-off seed 5:
// 1.920 runs per job, 0.43 of awards after burn-in). When the trusted
// runs of such a check return Contradictions (4) different results, at
// least three trusted providers lied in it, and each trusted one that
// the best result outvoted takes a Failure (Contradicted): 1.373 runs
// per job, a share of 0. At 3 it fired on the default setting too and
// cost the intermittent cheats' market runs (reputation's doc, "Design
// choices", 17).
type CheckPolicy struct {
	Trusted              float64 // lower bound to win non-probation jobs and to check others
	Proven               float64 // lower bound from which results are spot-checked rather than always checked
	MinRate              float64 // the least any result is checked
	RefValue             int64   // job value (max price) at which the rate is not scaled; ≤ 0: no scaling
	ProbationReliability float64 // the least first-hand reliability of a provider below Trusted; 0: the book's floor alone
	// Settled is the lower bound from which results are spot-checked at
	// 1 − LowerBound; from Proven to Settled the rate falls linearly from
	// 1 to 1 − Settled. ≤ Proven: it drops from 1 to 1 − Proven at once.
	Settled float64
	// ProbationAgainst: a provider on probation (below Trusted) with at
	// least this much first-hand evidence against it (Standing.Against,
	// decayed) is barred here, whatever its reliability. 0: no such bar.
	ProbationAgainst float64
	// CaughtBar: a provider with at least this much first-hand
	// wrong-result weight against it (Standing.Wrong, decayed) is barred
	// whatever its record, a veteran too: caught repeatedly, it is not
	// kept eligible by its right results between catches. Timeouts and
	// failures do not count, so an honest veteran's lost messages never
	// reach it (reputation's doc, "Design choices", 22). 0: off.
	CaughtBar float64
	// Contradictions: a check that ended without a verdict in which the
	// runs of providers trusted here returned at least this many
	// different results records a Failure against each trusted provider
	// it outvoted (Contradicted). 0: such a check blames nobody.
	Contradictions int
}

// DefaultCheckPolicy: trusted at 0.5, spot-checked from 0.9 on a ramp
// down to 5% at 0.95, at least 5%.
// Proven was 0.8 (~13 clean jobs): an on-off cheat that gave one
// requester 13 of its honest runs earned spot-checks there and slipped
// wrong results through (reputation's doc, "Design choices", 8).
// ProbationReliability was the book's MinReliability, 0.4 (reputation's
// doc, "Design choices", 11). Settled was Proven: the rate fell from 1 to
// ~0.1 at once (reputation's doc, "Design choices", 14). ProbationAgainst
// was 0: only the reliability floor (reputation's doc, "Design choices",
// 15). Contradictions was 0: a check without a verdict blamed nobody
// (reputation's doc, "Design choices", 17). CaughtBar was 0: a veteran
// was barred by MinReliability alone (reputation's doc, "Design
// choices", 22).
func DefaultCheckPolicy() CheckPolicy {
	return CheckPolicy{Trusted: 0.5, Proven: 0.9, Settled: 0.95, MinRate: 0.05, ProbationReliability: 0.44, ProbationAgainst: 17,
		Contradictions: 4, CaughtBar: 24}
}

// Contradicted is who a check that ended without a verdict (JudgeCheck's
// SampleUnresolved, d) over runs blames: nobody, unless the runs of
// providers trusted here returned at least Contradictions different
// results — so at least Contradictions − 1 trusted providers lied in this
// one check, and the pool its checkers are drawn from cannot settle it —
// and then each trusted provider among d.Outvoted, whose result was less
// credible than the best. The caller records a Failure against each: a
// check without a verdict leaves them trusted otherwise, winning on price
// and checking again (reputation's doc, "Design choices", 17).
// Untrusted providers are never blamed: an honest stranger outvoted by a
// veteran that switched to cheating must not lose its first record.
func (p CheckPolicy) Contradicted(runs []Replica, d SampleDecision, trusted func(provider string) bool) []string {
	if p.Contradictions <= 0 || d.Verdict != SampleUnresolved {
		return nil
	}
	results := map[string]bool{}
	for _, r := range runs {
		if trusted(r.Provider) {
			results[r.Digest] = true
		}
	}
	if len(results) < p.Contradictions {
		return nil
	}
	var out []string
	for _, q := range d.Outvoted {
		if trusted(q) {
			out = append(out, q)
		}
	}
	return out
}

// Probation reports whether a provider with standing st and first-hand
// reliability rel (Book.DirectReliability) is barred while on probation:
// below Trusted, with a first-hand record under ProbationReliability or
// at least ProbationAgainst of first-hand evidence against it — or,
// whatever its standing, with at least CaughtBar of first-hand
// wrong-result weight against it (caught that often lately).
// A stranger's reliability is the verification prior's mean, so
// strangers are never barred by it.
func (p CheckPolicy) Probation(st Standing, rel float64) bool {
	if p.CaughtBar > 0 && st.Wrong >= p.CaughtBar {
		return true
	}
	if st.LowerBound >= p.Trusted {
		return false
	}
	return p.ProbationReliability > 0 && rel < p.ProbationReliability || p.ProbationAgainst > 0 && st.Against >= p.ProbationAgainst
}

// Rate is the probability that a result from a provider with standing st,
// on a job worth value, is checked. A provider at Trusted is rated by
// st.CheckBound, its bound without this node's timeouts of it up to
// Params.LapseShare: a lost message costs standing, not checks
// (reputation's doc, "Design choices", 21).
func (p CheckPolicy) Rate(st Standing, value int64) float64 {
	lb := st.LowerBound
	if lb >= p.Trusted && st.CheckBound > lb {
		lb = st.CheckBound
	}
	if lb < p.Proven {
		return 1
	}
	r := 1 - lb
	if p.Settled > p.Proven && lb < p.Settled {
		f := (lb - p.Proven) / (p.Settled - p.Proven)
		r = 1 - f*p.Settled
	}
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
//
// Addresses come in blocks: an operator with many /24s usually has them
// in one wider allocation (a cloud region, an ISP's range). Once wrong
// results were caught in Block distinct subnets of one block (the /16 of
// an IPv4 subnet, 8 bits wider; for IPv6, 16 bits wider) within the
// quarantine, newcomers from the whole block are barred too — two
// independent catches, so one cheat cannot get a neighbourhood barred.
// Subnets that are not CIDR prefixes are barred one by one.
//
// It is a pure value: the caller gives the time. Not safe for concurrent
// use.
type SubnetGuard struct {
	Quarantine time.Duration // how long a subnet stays barred to newcomers after a wrong result
	Block      int           // distinct subnets caught in one block that bar the block (0: never)
	caught     map[string]time.Time
	blocks     map[string]map[string]time.Time // block → subnet → last caught
}

// NewSubnetGuard bars a subnet to newcomers for quarantine after each
// wrong result caught in it, and a block once two of its subnets were.
func NewSubnetGuard(quarantine time.Duration) *SubnetGuard {
	return &SubnetGuard{Quarantine: quarantine, Block: 2, caught: map[string]time.Time{}, blocks: map[string]map[string]time.Time{}}
}

// Caught records a wrong result from a provider in subnet at now.
func (g *SubnetGuard) Caught(subnet string, now time.Time) {
	if subnet == "" {
		return
	}
	g.caught[subnet] = now
	if b := block(subnet); b != "" {
		if g.blocks[b] == nil {
			g.blocks[b] = map[string]time.Time{}
		}
		g.blocks[b][subnet] = now
	}
}

// Bars reports whether a newcomer from subnet is barred at now.
func (g *SubnetGuard) Bars(subnet string, now time.Time) bool {
	if subnet == "" {
		return false
	}
	if t, ok := g.caught[subnet]; ok && now.Sub(t) < g.Quarantine {
		return true
	}
	if g.Block <= 0 {
		return false
	}
	n := 0
	for _, t := range g.blocks[block(subnet)] {
		if now.Sub(t) < g.Quarantine {
			n++
		}
	}
	return n >= g.Block
}

// block is the wider allocation subnet lies in: 8 bits wider for IPv4,
// 16 for IPv6; "" when subnet is not a CIDR prefix.
func block(subnet string) string {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return ""
	}
	wider := 8
	if p.Addr().Is6() {
		wider = 16
	}
	b, err := p.Addr().Prefix(max(0, p.Bits()-wider))
	if err != nil {
		return ""
	}
	return b.String()
}
