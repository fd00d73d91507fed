package reputation

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Replica is one replica's result in a replicated job.
type Replica struct {
	Provider string
	// Digest names what honest replicas agree on byte for byte (the
	// market's Result.Digest: status, exit code, stdout, outputs).
	Digest string
	// Reliability is the probability that this provider's result is
	// right: Book.Reliability for the job's capability — not
	// Standing.Score, the mean under the uniform prior, which is ½ for a
	// stranger and would make agreeing strangers never credible.
	Reliability float64
	// Cohort names who may control this provider as far as the judging
	// node can tell — its subnet, SubnetGuard's notion of an operator —
	// or "" when unknown (the provider is its own cohort). JudgeCheck
	// counts agreeing runs of one cohort as one voice; Decide ignores it
	// (its replicas are kept apart when they are drawn).
	Cohort string
}

// Group is the replicas that returned the same digest.
type Group struct {
	Digest   string
	Replicas []Replica
}

// Providers lists the group's providers in order.
func (g Group) Providers() []string {
	out := make([]string, len(g.Replicas))
	for i, r := range g.Replicas {
		out[i] = r.Provider
	}
	return out
}

// GroupReplicas groups results by digest, groups sorted by digest and
// replicas kept in the order given. A provider that appears again is
// ignored after its first result: replicas run on distinct providers, and
// one that answered twice does not get two votes.
func GroupReplicas(rs []Replica) []Group {
	seen := map[string]bool{}
	idx := map[string]int{}
	var gs []Group
	for _, r := range rs {
		if seen[r.Provider] {
			continue
		}
		seen[r.Provider] = true
		i, ok := idx[r.Digest]
		if !ok {
			i = len(gs)
			idx[r.Digest] = i
			gs = append(gs, Group{Digest: r.Digest})
		}
		gs[i].Replicas = append(gs[i].Replicas, r)
	}
	slices.SortFunc(gs, func(a, b Group) int { return cmp.Compare(a.Digest, b.Digest) })
	return gs
}

// Reliabilities outside [minReliability, maxReliability] are clamped, so
// that no single replica is certain either way; NaN counts as ½.
const (
	minReliability = 1e-6
	maxReliability = 1 - 1e-6
)

// logOdds is log(r / (1 − r)) of a clamped reliability.
func logOdds(r float64) float64 {
	if math.IsNaN(r) {
		return 0
	}
	r = math.Max(minReliability, math.Min(maxReliability, r))
	return math.Log(r) - math.Log1p(-r)
}

// Credibility is the probability that each group holds the right result,
// by the odds rule. Each provider i is right with probability r_i,
// independently; a right result is unique, and wrong results are assumed
// to collude (agree) in the worst case. The hypotheses are "group G is
// right" (its members right, all others wrong) for each G, and "no group
// is right" (all wrong). Dividing every likelihood by Π_all (1 − r_j):
//
//	O_G = Π_{i∈G} r_i / (1 − r_i)        C_G = O_G / (1 + Σ_H O_H)
//
// The 1 in the denominator is "no group is right"; so one replica alone,
// or agreeing strangers, are never certain.
func Credibility(groups []Group) []float64 {
	lo := make([]float64, len(groups))
	top := 0.0 // the "none" hypothesis has log-odds 0
	for i, g := range groups {
		for _, r := range g.Replicas {
			lo[i] += logOdds(r.Reliability)
		}
		top = math.Max(top, lo[i])
	}
	den := math.Exp(-top)
	for _, l := range lo {
		den += math.Exp(l - top)
	}
	out := make([]float64, len(groups))
	for i, l := range lo {
		out[i] = math.Exp(l-top) / den
	}
	return out
}

// Verdict is what Decide concludes.
type Verdict int

const (
	// Accept: the group Decision.Digest is credible enough.
	Accept Verdict = iota + 1
	// NeedMore: run Decision.More more replicas, then decide again.
	NeedMore
	// Fail: no group can become credible enough (Decision.Reason).
	Fail
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case NeedMore:
		return "need-more"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Decision is Decide's verdict on a replicated job.
type Decision struct {
	Verdict     Verdict
	Digest      string   // Accept: the accepted digest; otherwise the leading group's, if any
	Credibility float64  // of the leading group
	More        int      // NeedMore: replicas to add
	Agree       []string // Accept: the accepted group's providers (record Success)
	Disagree    []string // Accept: every other provider that answered (record WrongResult)
	Reason      string   // a sentence for events and failures
}

// Decide judges a replicated job's results: groups as GroupReplicas makes
// them, epsilon the error the job accepts, maxReplicas the most runs it
// may have, and have the runs so far (those in groups plus those that
// returned nothing; have is raised to the former if lower).
//
// The leading group (highest credibility; then more replicas; then the
// earlier group, for GroupReplicas the smaller digest) is accepted when
// its credibility is at least 1 − ε.
// Otherwise, below the cap, Decide asks for the fewest replicas that
// would make it credible if they agreed with it, each as reliable as the
// average replica so far (at least 1, at most the cap allows); at the cap
// it fails. A failure blames nobody: the node records no outcome for it.
func Decide(groups []Group, epsilon float64, maxReplicas, have int) Decision {
	if !(epsilon > 0 && epsilon < 1) {
		return Decision{Verdict: Fail, Reason: fmt.Sprintf("reputation: epsilon %v must be between 0 and 1", epsilon)}
	}
	n, sumR := 0, 0.0
	for _, g := range groups {
		for _, r := range g.Replicas {
			n++
			sumR += math.Max(minReliability, math.Min(maxReliability, r.Reliability))
		}
	}
	have = max(have, n)
	room := max(0, maxReplicas-have)
	if n == 0 {
		if room > 0 {
			return Decision{Verdict: NeedMore, More: 1, Reason: "no replica has returned a result yet"}
		}
		return Decision{Verdict: Fail, Reason: fmt.Sprintf("none of %d replicas returned a result", have)}
	}
	cred := Credibility(groups)
	lead := 0
	for i := range groups {
		if c := cmp.Compare(cred[i], cred[lead]); c > 0 ||
			c == 0 && len(groups[i].Replicas) > len(groups[lead].Replicas) {
			lead = i
		}
	}
	g := groups[lead]
	d := Decision{Digest: g.Digest, Credibility: cred[lead]}
	if cred[lead] >= 1-epsilon {
		d.Verdict = Accept
		d.Agree = g.Providers()
		for i, o := range groups {
			if i != lead {
				d.Disagree = append(d.Disagree, o.Providers()...)
			}
		}
		d.Reason = fmt.Sprintf("%d of %d replicas agree, credibility %.4f ≥ %.4f", len(g.Replicas), n, cred[lead], 1-epsilon)
		return d
	}
	if room == 0 {
		d.Verdict = Fail
		d.Reason = fmt.Sprintf("no result is credible after %d runs, the most allowed: best %.4f < %.4f with %d of %d replicas agreeing in %d groups",
			have, cred[lead], 1-epsilon, len(g.Replicas), n, len(groups))
		return d
	}
	d.Verdict = NeedMore
	d.More = min(room, moreNeeded(groups, lead, epsilon, sumR/float64(n)))
	d.Reason = fmt.Sprintf("best credibility %.4f < %.4f with %d of %d replicas agreeing: adding %d",
		cred[lead], 1-epsilon, len(g.Replicas), n, d.More)
	return d
}

// moreNeeded is the smallest n ≥ 1 such that n more replicas of
// reliability rbar agreeing with the leading group would make it
// credible: O_lead · o^n ≥ (1 − ε)/ε · (1 + Σ_{H≠lead} O_H), with
// o = rbar/(1 − rbar). When o ≤ 1 agreement cannot help: ask for one.
func moreNeeded(groups []Group, lead int, epsilon, rbar float64) int {
	step := logOdds(rbar)
	if step <= 0 {
		return 1
	}
	var leadLO float64
	others := []float64{0} // log-odds of "no group is right" and of the other groups
	for i, g := range groups {
		lo := 0.0
		for _, r := range g.Replicas {
			lo += logOdds(r.Reliability)
		}
		if i == lead {
			leadLO = lo
		} else {
			others = append(others, lo)
		}
	}
	need := math.Log((1-epsilon)/epsilon) + logSumExp(others) - leadLO
	n := math.Ceil(need/step - 1e-9)
	if n < 1 || math.IsNaN(n) {
		return 1
	}
	if n > 1<<20 {
		return 1 << 20
	}
	return int(n)
}

// logSumExp is log Σ exp(x_i), without overflow.
func logSumExp(xs []float64) float64 {
	top := math.Inf(-1)
	for _, x := range xs {
		top = math.Max(top, x)
	}
	sum := 0.0
	for _, x := range xs {
		sum += math.Exp(x - top)
	}
	return top + math.Log(sum)
}
