package requester

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// Adaptive verification (verify "adaptive") runs a job once and checks
// its result on other providers before the agent gets it, at the rate
// reputation.CheckPolicy gives the winner: every result of a provider
// without a proven record here, a small share of a veteran's — the rules
// hayek sim measured (internal/sim/requester.go). The check runs are
// hidden jobs ("<id>-s1", …) paid from the job's hold, their providers
// drawn at random, never by price, and never in the subnet of a run so
// far: among the providers this node trusts (CheckPolicy.Trusted) that
// have not run the job, or, while it trusts fewer than minTrusted or all
// of them ran it, checkerDraw of those discovery found.
// reputation.JudgeCheck weighs each run by its provider's first-hand
// reliability, agreeing runs of one subnet as one voice; until it
// reaches a verdict it asks for another run, up to market.MaxCheckRuns.
// The job completes with the result that stands — the checker's when the
// delivery was wrong — or fails (verification_failed) when none does: an
// unvouched result is not handed over. Runs under check are paid, but
// earn their Success only with the verdict. A check without a verdict in
// which trusted providers returned CheckPolicy.Contradictions different
// results records a Failure against each trusted provider the best
// result outvoted (CheckPolicy.Contradicted). A provider whose result
// would be checked every time is not hired while its check could not be
// staffed (hireable), and one whose contradicted result could not get a
// tie-break for that reason is checked every time for a day
// (disputeUnsettled) and not hired while that reason stands, as is
// one whose result more subnets contradicted than returned it in a check
// without a verdict (disputeOutnumbered). After captureStreak checks in
// a row without a verdict in which trusted providers contradicted each
// other, checkers are drawn in the wider market for captureWindow
// (probation.checkEnded; reputation's doc, "Design choices", 21).

// checkEpsilon is the credibility a check's verdict needs
// (reputation.JudgeCheck), as in the simulator: three agreeing strangers,
// or a stranger and a trusted checker, reach it.
const checkEpsilon = 0.01

// checkerDraw is how many providers discovery found are invited to bid
// for a check run while this node trusts too few: few, so that price
// hardly decides who checks.
const checkerDraw = 2

// trustedDraw is how many trusted providers are invited to a check run.
const trustedDraw = 6

// minTrusted is how many trusted providers this node needs before it
// draws checkers among them only.
const minTrusted = 3

// deferred is the evidence of a paid run under check, recorded with the
// verdict when the run's digest stands.
type deferred struct {
	peer, digest string
	oc           reputation.Outcome
	id           string
	receipt      []byte
}

// checkOf is the adaptive check j belongs to, as the checked job or as
// one of its runs; nil when none.
func checkOf(j *job) *sampling {
	if j.parent != nil {
		j = j.parent
	}
	if j.sampling != nil && j.sampling.adaptive {
		return j.sampling
	}
	return nil
}

// adaptive reports whether a spec's result is checked adaptively.
func adaptive(spec market.JobSpec) bool {
	v, err := market.ParseVerify(spec.Verify)
	return err == nil && v.Mode == market.VerifyAdaptive
}

// decideCheck draws whether a completed adaptive job is checked, before
// its settlement so that its hold is kept for the check runs.
func (r *Service) decideCheck(j *job, o *market.Outcome) {
	first := o.Paid[0]
	if first.Provider == r.self {
		r.setVerification(j, &api.Verification{Mode: market.VerifyAdaptive, State: "skipped",
			Replicas: []string{first.Provider}, Detail: "ran on this node, which trusts itself"})
		return
	}
	capability := string(j.spec.Runtime)
	st := r.d.Rep.BookStanding(first.Provider, capability, 0)
	rate := r.policy.Rate(st, j.spec.MaxPrice)
	if r.prob.underCheck(first.Provider) || r.prob.checkedEveryTime(first.Provider) {
		// An earlier result of this provider is under check: until its
		// verdict the record that would excuse this one is in question
		// (an on-off cheat's switch would slip through unchecked).
		rate = 1
	}
	suspect := r.d.Suspect != nil && r.d.Suspect(first.Provider)
	if suspect {
		// Another requester caught it, on the word of checkers this node
		// has paid and found right (the reputation service's catches).
		rate = 1
	}
	if !reputation.ShouldSample(r.secret, j.id, rate) {
		r.setVerification(j, &api.Verification{Mode: market.VerifyAdaptive, State: "skipped",
			Replicas: []string{first.Provider}, Detail: fmt.Sprintf("not drawn for a check (rate %.3g: lower bound %.3f)", rate, st.LowerBound)})
		return
	}
	s := &sampling{original: first, adaptive: true, checked: first.Provider, awards: map[string][]byte{}}
	if a := j.signedEnv(market.KindAward, first.Result.Award); a != nil {
		s.awards[first.Result.Award] = a
	}
	r.prob.checking(first.Provider)
	if st.LowerBound < r.policy.Trusted {
		r.prob.hold(first.Provider)
		s.reviewed = first.Provider
	}
	j.sampling = s
	detail := fmt.Sprintf("checked on another provider before it is accepted (rate %.3g)", rate)
	if suspect {
		detail += ": another requester caught this provider with a wrong result"
		r.appendEvent(j, api.Event{Time: r.d.Now(), Job: j.id, Type: "verify", Provider: first.Provider,
			Message: fmt.Sprintf("checked every time: another requester caught %s with a wrong result, contradicted by a provider this node trusts", wire.ShortID(first.Provider))})
	}
	r.setVerification(j, &api.Verification{Mode: market.VerifyAdaptive, State: "pending",
		Replicas: []string{first.Provider}, Detail: detail})
}

// drawnRep is an adaptive job's view of reputation: probation, and,
// once it is set, only the providers drawn for the job may win — the
// checkers drawn for a check run, the trusted providers for a job closed
// to the rest (no one buys a check, or a closed job, by bidding unasked
// and low).
type drawnRep struct {
	*probation
	mu      sync.Mutex
	only    map[string]bool   // nil: every eligible provider
	unhired map[string]string // provider → why its result could not be checked (Service.hireable)
}

func (c *drawnRep) Standing(peer string, capability market.Capability, min float64) market.Standing {
	c.mu.Lock()
	ok := c.only == nil || c.only[peer]
	why := c.unhired[peer]
	c.mu.Unlock()
	if !ok {
		return market.Standing{Reason: "not drawn for this job"}
	}
	if why != "" {
		st := c.probation.Standing(peer, capability, min)
		return market.Standing{Reason: why, Newcomer: st.Newcomer, Score: st.Score}
	}
	return c.probation.Standing(peer, capability, min)
}

func (c *drawnRep) unhire(why map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unhired = why
}

func (c *drawnRep) restrict(only map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.only = only
}

// probationShare is the share of adaptive jobs open to providers this
// node does not trust yet once it trusts minTrusted: the rest go to
// trusted providers only (the simulator's Probation). Newcomers earn
// their record on the open share, under full checks.
const probationShare = 0.1

// closeToTrusted keeps an adaptive job that is not drawn for the open
// share to the trusted providers among cands, when there are at least
// minTrusted of them; otherwise to anyone. Either way, a provider whose
// check could not be staffed is not hired (hireable).
func (r *Service) closeToTrusted(j *job, cands []market.Candidate) []market.Candidate {
	r.hireable(j, cands)
	if reputation.ShouldSample(r.secret, "probation/"+j.id, probationShare) {
		return cands
	}
	var trusted []market.Candidate
	only := map[string]bool{}
	for _, c := range cands {
		if c.Peer != r.self && r.prob.trusted(c.Peer, j.spec.Runtime) {
			trusted = append(trusted, c)
			only[c.Peer] = true
		}
	}
	if len(trusted) < minTrusted {
		return cands
	}
	if dr, ok := j.rep.(*drawnRep); ok {
		dr.restrict(only)
	}
	return trusted
}

// minCheckers is how many trusted providers, besides a candidate, must
// not have declined this node over its credit for it to hire that
// candidate when the candidate's result will be checked (hireable): a
// check of a wrong result takes two — a checker that contradicts it and
// a tie-break — and with one, the cheat's result ends unjudged. The
// simulator's rule.
const minCheckers = 2

// hireable makes ineligible for adaptive job j each candidate whose
// result this node would check whatever the draw (certainCheck) while
// too few could check it: checks are drawn among the providers it trusts
// (once there are minTrusted among cands), and fewer than minCheckers of
// those other than the candidate will work for it — the rest declined
// its calls over its unpaid credit (market.DeclineRequester) and it owes
// them no less since. Hired, such a provider would run the job, its
// check would find no bid and fail, blaming nobody and catching nothing:
// a cheat's award for free (reputation's doc, "Design choices", 18). The
// job goes to providers whose results need no certain check, or fails
// before anyone runs it, saying why.
func (r *Service) hireable(j *job, cands []market.Candidate) {
	dr, ok := j.rep.(*drawnRep)
	if !ok {
		return
	}
	if !r.prob.anyDeclined() {
		dr.unhire(nil)
		return // every trusted provider works for this node: nothing to weigh
	}
	why := map[string]string{}
	if r.prob.refusedOverCredit(j.spec.Runtime, r.owed) {
		// A provider whose contradicted result could not get a
		// tie-break here (disputeUnsettled) is not hired while a
		// provider this node trusts declines it over its credit: the
		// next tie-break would find no bid either, and its record here
		// would keep its right results only (reputation's doc, "Design
		// choices", 21).
		for _, c := range cands {
			if c.Peer != r.self && r.prob.isUnsettled(c.Peer) {
				why[c.Peer] = "a checker contradicted its result here and no tie-break could be run: not hired while providers you trust " +
					"decline you over unpaid credit: pay what you owe them, or submit with --verify none"
			}
		}
	}
	var trusted []string
	refusing := map[string]bool{}
	for _, c := range cands {
		if c.Peer == r.self || !r.prob.trusted(c.Peer, j.spec.Runtime) || slices.Contains(trusted, c.Peer) {
			continue
		}
		trusted = append(trusted, c.Peer)
		if r.prob.refuses(c.Peer, r.owed) {
			refusing[c.Peer] = true
		}
	}
	if len(trusted) < minTrusted || len(trusted)-len(refusing) > minCheckers {
		dr.unhire(why)
		return // checks are drawn among strangers, or enough will check
	}
	for _, c := range cands {
		if c.Peer == r.self || why[c.Peer] != "" || !r.certainCheck(c.Peer, j.spec) {
			continue
		}
		others := len(trusted)
		willing := len(trusted) - len(refusing)
		if slices.Contains(trusted, c.Peer) {
			others--
			if !refusing[c.Peer] {
				willing--
			}
		}
		if willing < minCheckers {
			why[c.Peer] = fmt.Sprintf("its result would be checked, and %d of the %d other providers you trust decline you over unpaid credit "+
				"(a check needs %d of them): pay what you owe them, or submit with --verify none", others-willing, others, minCheckers)
		}
	}
	dr.unhire(why)
}

// owed is what this node owes peer, by its ledger.
func (r *Service) owed(peer string) int64 { return -r.d.Ledger.Balance(peer) }

// certainCheck: a result of peer for a job of spec would be checked here
// whatever the draw (decideCheck's rate is 1).
func (r *Service) certainCheck(peer string, spec market.JobSpec) bool {
	if r.policy.Rate(r.d.Rep.BookStanding(peer, string(spec.Runtime), 0), spec.MaxPrice) >= 1 || r.prob.underCheck(peer) || r.prob.checkedEveryTime(peer) {
		return true
	}
	return r.d.Suspect != nil && r.d.Suspect(peer)
}

// checkCandidates draws a check run's candidates from those discovery
// found that may win it: trusted providers that have not run the job,
// else a few of the others, at random — none in the subnet of a run so
// far (reputation.JudgeCheck's cohorts). (The simulator draws among all it
// discovered, the ineligible too; there the requester is no provider.)
func (r *Service) checkCandidates(j *job, cands []market.Candidate) []market.Candidate {
	var pool, trusted []market.Candidate
	nTrusted := 0
	ran := map[string]bool{} // the cohorts of the runs so far
	for _, p := range j.exclude {
		if c := r.prob.cohort(p); c != "" {
			ran[c] = true
		}
	}
	for _, c := range cands {
		if c.Peer == r.self {
			continue // this node does not check its own jobs
		}
		t := r.prob.trusted(c.Peer, j.spec.Runtime)
		if t {
			nTrusted++
		}
		if s := r.prob.guarded(c.Subnet); s != "" && ran[s] {
			continue // one operator's machines do not check each other
		}
		if slices.Contains(j.exclude, c.Peer) ||
			!r.prob.Standing(c.Peer, j.spec.Runtime, j.spec.MinReputation).Eligible {
			continue // drawn among those that may win, or a draw could leave none
		}
		pool = append(pool, c)
		if t {
			trusted = append(trusted, c)
		}
	}
	n := checkerDraw
	if nTrusted >= minTrusted && len(trusted) > 0 && !r.prob.captured() {
		pool, n = trusted, trustedDraw
	}
	rng := rand.New(rand.NewPCG(r.d.Rand(), r.d.Rand()))
	var out []market.Candidate
	drawn := map[string]bool{}
	for _, i := range rng.Perm(len(pool))[:min(n, len(pool))] {
		out = append(out, pool[i])
		drawn[pool[i].Peer] = true
	}
	if dr, ok := j.rep.(*drawnRep); ok {
		dr.restrict(drawn)
	}
	return out
}

// disputeUnsettled: parent's check ended for want of a run after a
// checker contradicted the result, while a provider this node trusts
// declines it over its credit. A contradicted result needs a tie-break
// and a right one does not, so when tie-breaks find no bid a cheat's
// record here keeps its right results and drops its wrong ones. Its
// results are checked every time for a day instead (reputation's doc,
// "Design choices", 19); nobody is blamed.
func (r *Service) disputeUnsettled(parent *job) {
	s := parent.sampling
	if s == nil || !s.adaptive {
		return
	}
	contradicted := false
	for _, run := range s.runs {
		contradicted = contradicted || run.Digest != s.original.Digest
	}
	if contradicted && r.prob.refusedOverCredit(parent.spec.Runtime, r.owed) {
		r.prob.dispute(s.original.Provider, r.d.Now().Add(quarantine))
		r.appendEvent(parent, api.Event{Time: r.d.Now(), Job: parent.id, Type: "verify", Provider: s.original.Provider,
			Message: fmt.Sprintf("checked every time for a day: a checker contradicted %s and no tie-break could be run (providers you trust decline you over unpaid credit)", wire.ShortID(s.original.Provider))})
	}
}

// disputeOutnumbered: parent's check ended without a verdict, and the
// providers of d.Outnumbered returned a digest fewer cohorts returned
// than another. A veteran's run outweighs three agreeing strangers, so
// the check of its wrong result ends so, where its right result's check
// is settled by one checker, and its record here keeps only its right
// results. Their results are checked every time for a day instead
// (reputation's doc, "Design choices", 20); nobody is blamed.
func (r *Service) disputeOutnumbered(parent *job, d reputation.SampleDecision) {
	for _, p := range d.Outnumbered {
		r.prob.outnumber(p, r.d.Now().Add(quarantine))
		r.appendEvent(parent, api.Event{Time: r.d.Now(), Job: parent.id, Type: "verify", Provider: p,
			Message: fmt.Sprintf("checked every time for a day: more independent providers contradicted %s than agreed with it, and no result was credible enough for a verdict", wire.ShortID(p))})
	}
}

// checkDone judges an adaptive check after one of its runs ended.
func (r *Service) checkDone(ctx context.Context, child *job, o *market.Outcome) {
	parent := child.parent
	s := parent.sampling
	if o.State != market.StateCompleted || len(o.Paid) == 0 {
		r.disputeUnsettled(parent)
		r.finishCheck(ctx, parent, "", "unverified", "the check could not run: "+o.Message)
		return
	}
	run := o.Paid[0]
	s.runs = append(s.runs, run)
	if a := child.signedEnv(market.KindAward, run.Result.Award); a != nil && s.awards != nil {
		s.awards[run.Result.Award] = a
	}
	if s.outcomes == nil {
		s.outcomes = map[string]*market.Outcome{}
	}
	if _, ok := s.outcomes[run.Digest]; !ok {
		s.outcomes[run.Digest] = o
	}
	capability := string(parent.spec.Runtime)
	all := append([]market.ReplicaResult{s.original}, s.runs...)
	reps := make([]reputation.Replica, len(all))
	for i, rr := range all {
		reps[i] = reputation.Replica{Provider: rr.Provider, Digest: rr.Digest, Reliability: r.d.Rep.DirectReliability(rr.Provider, capability),
			Cohort: r.prob.cohort(rr.Provider)}
	}
	d := reputation.JudgeCheck(reps, checkEpsilon, market.MaxCheckRuns)
	switch d.Verdict {
	case reputation.SampleRerun, reputation.SampleTieBreak:
		r.setVerification(parent, &api.Verification{Mode: market.VerifyAdaptive, State: "pending",
			Replicas: providers(all), Detail: d.Reason})
		r.spawnSample(ctx, parent)
	case reputation.SampleAgree, reputation.SampleResolved:
		r.prob.checkEnded(true, nil)
		for _, p := range d.Wrong {
			r.wrongResult(ctx, parent, p)
		}
		r.shareCatches(ctx, parent, all, d.Digest, d.Wrong)
		r.finishCheck(ctx, parent, d.Digest, "confirmed", d.Reason, d.Wrong...)
	default:
		// No verdict, but trusted providers contradicted each other:
		// those the best result outvoted take a failure, or they stay
		// trusted, win on price and check again (reputation's doc,
		// "Design choices", 17).
		detail := d.Reason
		trusted := func(p string) bool { return r.prob.trusted(p, parent.spec.Runtime) }
		if r.prob.checkEnded(false, trustedSplit(reps, trusted)) {
			r.appendEvent(parent, api.Event{Time: r.d.Now(), Job: parent.id, Type: "verify",
				Message: fmt.Sprintf("for %v checks are drawn in the wider market and the results of the providers you trust that contradicted each other checked every time: %d checks in a row ended without a verdict so", captureWindow, captureStreak)})
		}
		r.disputeOutnumbered(parent, d)
		blamed := r.policy.Contradicted(reps, d, trusted)
		for _, p := range blamed {
			r.contradicted(ctx, parent, p)
		}
		if len(blamed) > 0 {
			detail += fmt.Sprintf("; trusted providers returned different results: %d outvoted, recorded as failures", len(blamed))
		}
		r.finishCheck(ctx, parent, "", "inconclusive", detail)
	}
}

// trustedSplit is the trusted providers among runs when they returned
// different results, nil when they agreed.
func trustedSplit(runs []reputation.Replica, trusted func(p string) bool) []string {
	var out []string
	first, split := "", false
	for _, rr := range runs {
		if !trusted(rr.Provider) {
			continue
		}
		if len(out) == 0 {
			first = rr.Digest
		}
		split = split || rr.Digest != first
		out = append(out, rr.Provider)
	}
	if !split {
		return nil
	}
	return out
}

// contradicted records a failure against a trusted provider that a check
// without a verdict outvoted (reputation.CheckPolicy.Contradicted).
func (r *Service) contradicted(ctx context.Context, parent *job, p string) {
	r.checkOutcome(ctx, parent, p, reputation.Failure, "contradicted:")
}

// wrongResult records a wrong result caught by a check or a sample.
func (r *Service) wrongResult(ctx context.Context, parent *job, p string) {
	r.checkOutcome(ctx, parent, p, reputation.WrongResult, "sample:")
	r.prob.caught(p)
}

// checkOutcome records what a check or a sample found about provider p,
// in the book (evidence ID prefix + job + provider) and in the ledger.
func (r *Service) checkOutcome(ctx context.Context, parent *job, p string, oc reputation.Outcome, prefix string) {
	capability := string(parent.spec.Runtime)
	r.d.Rep.Record(p, capability, oc, prefix+parent.id+":"+p)
	if _, err := r.d.Ledger.Append(ctx, settlement.KindOutcome, settlement.Outcome{Peer: p,
		Capability: capability, Outcome: string(oc), Job: parent.id}); err != nil {
		r.d.Log.Warn("cannot record outcome", "err", err)
	}
}

// finishCheck ends an adaptive check: the runs whose digest stands earn
// their deferred evidence, the rest of the hold goes back, and the job
// completes with that digest's result — or, with digest "", fails.
func (r *Service) finishCheck(ctx context.Context, parent *job, digest, state, detail string, losers ...string) {
	s := parent.sampling
	if s.reviewed != "" {
		r.prob.release(s.reviewed)
		s.reviewed = ""
	}
	if s.checked != "" {
		r.prob.unchecked(s.checked)
		s.checked = ""
	}
	capability := string(parent.spec.Runtime)
	var drafts []settlement.Draft
	var earned []deferred
	for _, e := range s.deferred {
		if digest != "" && e.digest == digest {
			earned = append(earned, e)
			drafts = append(drafts, settlement.Draft{Kind: settlement.KindOutcome, Body: settlement.Outcome{
				Peer: e.peer, Capability: capability, Outcome: string(e.oc), Job: parent.id, Receipt: e.id}})
		}
	}
	if len(drafts) > 0 {
		if _, err := r.d.Ledger.AppendAll(ctx, drafts...); err != nil {
			r.d.Log.Error("cannot record the check's outcomes", "job", parent.id, "err", err)
		}
	}
	for _, e := range earned {
		r.d.Rep.Record(e.peer, capability, e.oc, e.id)
		if e.receipt != nil {
			r.d.Rep.Attest(ctx, e.peer, capability, e.oc, e.id, e.receipt)
		}
	}
	o := s.outcome
	if digest != s.original.Digest {
		o = s.outcomes[digest]
	}
	if digest == "" || o == nil {
		o = &market.Outcome{State: market.StateFailed, Code: market.FailVerify,
			Message: "the result was not accepted: " + detail + "; submit it again"}
	}
	reps := []string{s.original.Provider}
	for _, run := range s.runs {
		reps = append(reps, run.Provider)
	}
	released := r.releaseAll(ctx, parent.id, "check "+state)
	parent.mu.Lock()
	parent.view.Verification = &api.Verification{Mode: market.VerifyAdaptive, State: state, Replicas: reps, Losers: losers, Detail: detail}
	if old := parent.view.Settlement; old != nil {
		st := *old
		st.Released += released
		st.Pending = false
		parent.view.Settlement = &st
	}
	parent.mu.Unlock()
	var final []market.Event
	if o == s.outcome {
		final = s.final
	} else if digest != "" {
		r.appendEvent(parent, api.Event{Time: r.d.Now(), Job: parent.id, Type: "verify", Provider: o.Provider,
			Message: fmt.Sprintf("the check outvoted %s: the result delivered is %s's", wire.ShortID(s.original.Provider), wire.ShortID(o.Provider))})
	}
	r.finish(parent, o, final)
}

// shareCatches tells other requesters at once of each wrong result this
// check caught, with the proof a receiver checks: the wrong run's signed
// result and award, and those of every run whose digest stood
// (market.Catch). Sent at once, not batched with attestations: a settled
// on-off cheat's wrong results come in bursts (reputation's doc, 15).
func (r *Service) shareCatches(ctx context.Context, parent *job, all []market.ReplicaResult, right string, wrong []string) {
	if r.d.ShareCatch == nil || len(wrong) == 0 {
		return
	}
	s := parent.sampling
	caught := func(rr market.ReplicaResult) (market.CaughtRun, bool) {
		a := s.awards[rr.Result.Award]
		return market.CaughtRun{Award: a, Result: rr.Env}, a != nil && rr.Env != nil
	}
	var checkers []market.CaughtRun
	var spec string
	for _, rr := range all {
		if rr.Digest != right || len(checkers) == market.MaxCatchCheckers {
			continue
		}
		if c, ok := caught(rr); ok {
			checkers = append(checkers, c)
		}
	}
	if len(checkers) == 0 {
		return
	}
	for _, p := range wrong {
		for _, rr := range all {
			if rr.Provider != p || rr.Digest == right {
				continue
			}
			acc, ok := caught(rr)
			if !ok {
				continue
			}
			if spec == "" {
				spec = awardSpec(acc.Award)
			}
			if spec == "" {
				return
			}
			// A wrong check run answers its own hidden job's award: the
			// catch names that job, which the award proves.
			job := rr.Result.Job
			r.d.ShareCatch(ctx, market.Catch{Job: job, Spec: spec, Accused: acc, Checkers: checkers})
			break
		}
	}
}

// awardSpec is the market.SpecDigest of an encoded award, "" if it does
// not decode.
func awardSpec(env []byte) string {
	e, err := canon.DecodeEnvelope(env)
	if err != nil {
		return ""
	}
	var a market.Award
	if canon.Unmarshal(e.Body, &a) != nil {
		return ""
	}
	return market.SpecDigest(a.Run)
}
