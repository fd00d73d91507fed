package reputation

import (
	"fmt"
	"math"
)

// MaxCheckReliability caps what one run weighs in JudgeCheck: a record
// makes a run credible, not infallible. At 0.995 (odds 199) two veteran
// checkers that agree always outweigh a single run, however long its
// provider's record — otherwise a veteran that starts cheating could
// only be convicted by more checkers than a check may have.
const MaxCheckReliability = 0.995

// JudgeCheck judges the runs of one adaptively checked job (the
// delivery first, then the checks) by the odds rule rather than by a
// count: a digest stands when at least two runs share it and its
// Credibility over all runs so far, each weighed by its provider's
// first-hand reliability here (Book.DirectReliability), reaches
// 1 − epsilon. Below that, up to maxRuns runs, it asks for one more
// (SampleTieBreak); at maxRuns it gives up (SampleUnresolved), naming
// the providers of runs less credible than the best (Outvoted), whom
// it does not blame: CheckPolicy.Contradicted says when to; and those
// whose digest fewer cohorts returned than another that at least two
// did (Outnumbered), whom the requester checks every time for a day.
//
// Counting, as JudgeRuns does, lets any two runs that agree condemn a
// third: two colluders drawn together outvote an honest veteran, and two
// strangers that agree are taken at their word. By credibility, a pair
// of strangers (0.9 each, odds 81) does not outweigh a veteran's single
// run (odds r/(1 − r), 199 at the cap) without a tie-breaker, and
// strangers alone need three agreeing runs at ε = 0.01 (four at 0.001) —
// so a ring must be drawn three times running to have its output
// accepted, where it needed to be drawn twice. A check by a trusted
// provider settles a stranger's result in two runs. Reliabilities count
// at most MaxCheckReliability.
//
// The odds rule assumes runs are independent; a check drawn among
// strangers assumes an honest majority among them. Sybils on one
// operator's machines break both: drawn as each other's checkers, they
// agreed on their shared wrong output and it was accepted (testnet
// scenario sybil-adaptive). So runs are weighed by cohort (Replica.Cohort,
// the subnet): a run that agrees with an earlier run of its cohort adds
// no weight, and a digest stands only on runs of at least two cohorts.
// A cohort still counts once for each digest it returned: two machines of
// one operator that disagree are not colluding.
func JudgeCheck(runs []Replica, epsilon float64, maxRuns int) SampleDecision {
	rs := firstDistinct(runs, func(r Replica) string { return r.Provider }, maxRuns)
	voiced := map[[2]string]bool{} // (cohort, digest) already counted
	for i := range rs {
		rs[i].Reliability = math.Min(rs[i].Reliability, MaxCheckReliability)
		if c := rs[i].Cohort; c != "" {
			k := [2]string{c, rs[i].Digest}
			if voiced[k] {
				rs[i].Reliability = 0.5 // log-odds 0: an echo, not a voice
			}
			voiced[k] = true
		}
	}
	if len(rs) < 2 {
		return SampleDecision{Verdict: SampleRerun, Reason: "checked: run on another provider"}
	}
	groups := GroupReplicas(rs)
	cred := Credibility(groups)
	lead := 0
	for i := range groups {
		if cred[i] > cred[lead] || cred[i] == cred[lead] && len(groups[i].Replicas) > len(groups[lead].Replicas) {
			lead = i
		}
	}
	g := groups[lead]
	if voices(g) >= 2 && cred[lead] >= 1-epsilon {
		d := SampleDecision{Verdict: SampleAgree, Digest: g.Digest, OriginalWrong: rs[0].Digest != g.Digest}
		for _, r := range rs {
			if r.Digest != g.Digest {
				d.Wrong = append(d.Wrong, r.Provider)
			}
		}
		if len(d.Wrong) > 0 {
			d.Verdict = SampleResolved
			d.Reason = fmt.Sprintf("checked: %d of %d runs agree, credibility %.4f; %d returned wrong results",
				len(g.Replicas), len(rs), cred[lead], len(d.Wrong))
		} else {
			d.Reason = fmt.Sprintf("checked: %d runs agree, credibility %.4f", len(rs), cred[lead])
		}
		return d
	}
	if len(rs) < maxRuns {
		return SampleDecision{Verdict: SampleTieBreak, Reason: fmt.Sprintf(
			"checked: best credibility %.4f < %.4f with %d of %d runs agreeing (%d cohorts): one more", cred[lead], 1-epsilon, len(g.Replicas), len(rs), voices(g))}
	}
	d := SampleDecision{Verdict: SampleUnresolved, Reason: fmt.Sprintf(
		"checked: no result credible after %d runs (best %.4f); nobody blamed", len(rs), cred[lead])}
	less := map[string]bool{} // digests less credible than the best
	for i, g := range groups {
		less[g.Digest] = cred[i] < cred[lead]
	}
	for _, r := range rs {
		if less[r.Digest] {
			d.Outvoted = append(d.Outvoted, r.Provider)
		}
	}
	most, cohorts := 0, map[string]int{} // cohorts per digest, and the most any has
	for _, g := range groups {
		cohorts[g.Digest] = voices(g)
		most = max(most, cohorts[g.Digest])
	}
	for _, r := range rs {
		if most >= 2 && cohorts[r.Digest] < most {
			d.Outnumbered = append(d.Outnumbered, r.Provider)
		}
	}
	return d
}

// voices is how many independent cohorts a group's runs come from: a
// run without a cohort is its own.
func voices(g Group) int {
	seen := map[string]bool{}
	for _, r := range g.Replicas {
		k := "cohort:" + r.Cohort
		if r.Cohort == "" {
			k = "peer:" + r.Provider
		}
		seen[k] = true
	}
	return len(seen)
}
