package sim

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// requester is one simulated requester node: real market.Jobs for its
// jobs, a reputation.Book of the providers, and a real settlement ledger.
type requester struct {
	w         *world
	id        string
	sg        signer
	book      *reputation.Book
	rep       *repView
	ledger    *settlement.Ledger
	nonPaying bool
	secret    []byte
	runs      map[string]*run
	owes      map[string]int64     // provider → debt acknowledged, not settled
	trusted   map[string]bool      // providers at the CheckPolicy's Trusted bound here
	checking  map[string]int       // provider → its results under check here
	suspect   map[string]time.Time // provider → checked at rate 1 until then (Config.ShareCatches)
	// creditNo: providers that declined a call of this requester over
	// its credit (market.DeclineRequester), with what it owed each then.
	// A decline stands until the provider bids again or the debt falls
	// below that (the requester paid): see hireable.
	creditNo map[string]int64
	// stuck counts this requester's checks in a row that ended without a
	// verdict while providers it trusts returned different results in
	// them: its trusted pool cannot settle a check (one operator's
	// switched cheats, say), and no newcomer checked by it earns a
	// record. At captureStreak its checkers are drawn in the wider market
	// until captured (spawnSample), and stuckBy are checked every time
	// until then (suspect) (reputation's doc, "Design choices", 21).
	stuck    int
	stuckBy  map[string]bool // the trusted providers of those checks
	captured time.Time
	// disputed: providers a checker contradicted whose tie-break found no
	// bid while a trusted provider declined this requester over its
	// credit (design choice 19), until when.
	disputed map[string]time.Time
	jobCfg   market.JobConfig
}

// rootJob is a job an agent submitted, with the truth about it: the
// output every honest run returns.
type rootJob struct {
	id          string
	index       int
	req         *requester
	right       string // the stdout CID honest runs return
	rightDigest string // market.Result.Digest of an honest result
	verify      market.Verification
	value       int64
	sample      *sampleState
	adaptive    bool // verification chosen per result by reputation.CheckPolicy
	pending     bool // completed, held back from the agent until its check ends
	unhired     bool // candidates whose check could not be staffed were not hired (hireable)
	reviewed    bool // pending, and its provider under review until then
	// cause: why its result was checked (Report.CheckRuns), for the
	// check's first run; its tie-breaks count as tie_break.
	cause string
}

type sampleState struct {
	runs    []reputation.SampleRun
	spawned int
	// fromTrusted: the current check run is drawn among trusted providers
	fromTrusted bool
	// receipts of runs whose Success waits for the check's verdict
	receipts map[string]paidRun
}

type paidRun struct {
	receipt string
	late    bool
}

// run is one market.Job being driven: a root job, or a sample re-run.
type run struct {
	r     *requester
	j     *market.Job
	root  *rootJob
	id    string
	child bool
	// exclude: providers that ran this job already (a check's earlier runs)
	exclude []string
	timer   time.Time
	done    bool
	// reviewing: unproven winners of this run, under review until it
	// ends, so each holds one unjudged award here at a time.
	reviewing []string
}

func (w *world) newRequester(i int, nonPaying bool) (*requester, error) {
	id := fmt.Sprintf("req-%02d", i)
	if nonPaying {
		id = fmt.Sprintf("nonpaying-%02d", i)
	}
	book, err := reputation.NewBook(w.reps, id)
	if err != nil {
		return nil, err
	}
	r := &requester{w: w, id: id, sg: signer(id), book: book, rep: newRepView(book, w.cfg.Epsilon), nonPaying: nonPaying,
		secret: []byte("sample-secret/" + id), runs: map[string]*run{}, owes: map[string]int64{}, trusted: map[string]bool{}, checking: map[string]int{}, suspect: map[string]time.Time{}, creditNo: map[string]int64{}}
	if w.cfg.Verify == "adaptive" && !w.cfg.Legacy {
		r.rep.guard = reputation.NewSubnetGuard(24 * time.Hour)
		r.rep.subnet = func(p string) string {
			if q := w.byID[p]; q != nil {
				return q.subnet
			}
			return ""
		}
		r.rep.now = func() time.Time { return w.clk.now }
		r.rep.check = &w.check
	}
	r.jobCfg = market.DefaultJobConfig(id)
	r.jobCfg.Decider = r.rep
	r.jobCfg.DistinctSubnets = true
	if w.cfg.Ledger {
		if r.ledger, err = w.newLedger(id); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// submit issues job number i.
func (r *requester) submit(i int) {
	w := r.w
	id := fmt.Sprintf("%s-j%05d", r.id, i)
	right := canon.BlobCID([]byte("right/" + id)).String()
	root := &rootJob{id: id, index: i, req: r, right: right,
		rightDigest: market.Result{Status: market.StatusOK, Stdout: market.Stream{Blob: market.Blob{CID: right, Size: 64}}}.Digest()}
	spec := market.JobSpec{Runtime: market.RuntimeWasm, Module: w.module, MaxPrice: w.cfg.MaxPrice, TimeoutMs: 30_000,
		MinReputation: w.cfg.MinReputation}
	if w.rng.Float64() < w.cfg.TimeShare {
		spec.ValueOfTime = w.cfg.ValueOfTime
	}
	spec.Verify = r.chooseVerify(root, spec)
	if w.cfg.Verify == "adaptive" && len(r.trusted) >= minTrusted && w.rng.Float64() >= w.cfg.Probation {
		// Not a probation job: only providers trusted here may win it.
		spec.MinReputation = max(spec.MinReputation, w.check.Trusted)
	}
	spec.Defaults()
	if err := spec.Validate(); err != nil {
		w.fail(fmt.Errorf("sim: job spec: %w", err))
		return
	}
	root.verify, _ = market.ParseVerify(spec.Verify)
	root.adaptive = w.cfg.Verify == "adaptive"
	root.value = spec.MaxPrice
	w.m.submitted(root)
	r.start(id, spec, root, false, nil)
}

// chooseVerify is the job's verification in its spec: the configured
// one, or under "adaptive" a single run whose result the requester checks
// before delivery at the rate reputation.CheckPolicy gives the winner.
func (r *requester) chooseVerify(root *rootJob, spec market.JobSpec) string {
	if r.w.cfg.Verify != "adaptive" {
		return r.w.cfg.Verify
	}
	return market.VerifyNone // one run; its result is checked at the winner's CheckPolicy rate
}

// start creates a market.Job, holds its max cost in the ledger and
// drives it.
func (r *requester) start(id string, spec market.JobSpec, root *rootJob, child bool, exclude []string) {
	w := r.w
	if r.ledger != nil {
		cost, err := spec.MaxCost()
		if err == nil {
			_, err = r.ledger.Append(w.ctx, settlement.KindHold, settlement.Hold{Job: id, Agent: "sim", Amount: cost})
		}
		if err != nil {
			w.fail(fmt.Errorf("sim: hold for %s: %w", id, err))
			return
		}
	}
	j := market.NewJob(id, spec, r.jobCfg, r.sg, r.rep, rand.New(rand.NewPCG(w.rng.Uint64(), uint64(root.index))), w.clk.now)
	for _, p := range exclude {
		j.Exclude(p, "ran this job already")
	}
	ru := &run{r: r, j: j, root: root, id: id, child: child, exclude: exclude}
	r.runs[id] = ru
	w.roots[id] = root
	w.m.open++
	r.pump(ru)
}

// pump carries out what the job asks for, as node/requester.go does,
// over the simulated network.
func (r *requester) pump(ru *run) {
	w := r.w
	rd := ru.j.Ready()
	if rd.Discover {
		w.clk.after(5*time.Millisecond, func() {
			if !ru.done {
				cands := w.discover(r.trusted)
				if ru.child && ru.root.adaptive {
					cands = r.checkCandidates(ru, cands)
				} else if ru.root.adaptive && !w.cfg.Legacy {
					cands = r.hireable(ru.root, cands)
				}
				ru.j.Candidates(w.clk.now, cands)
				r.pump(ru)
			}
		})
	}
	for _, env := range rd.Calls {
		call := new(market.CallForBids)
		if err := env.Open(keys{}, market.KindCall, call); err != nil {
			w.fail(err)
			return
		}
		cid := env.CID()
		for _, inv := range call.Invitees {
			if p := w.byID[inv]; p != nil {
				w.send(func() { p.onCall(r, call, cid) })
			}
		}
	}
	for _, o := range rd.Awards {
		p := w.byID[o.To]
		var a market.Award
		if err := canon.Unmarshal(o.Env.Body, &a); err != nil {
			w.fail(err)
			return
		}
		w.m.awarded(ru.root, p, a.Price)
		if ru.root.adaptive && !w.cfg.Legacy && r.unproven(p.id) {
			r.rep.review[p.id]++
			ru.reviewing = append(ru.reviewing, p.id)
		}
		w.send(func() { p.onAward(r, o.Env) })
	}
	for _, o := range rd.Cancels {
		if p := w.byID[o.To]; p != nil {
			w.send(func() { p.onCancel(ru.id) })
		}
	}
	if rd.Done != nil {
		r.finish(ru, rd.Done)
		return
	}
	if nt := ru.j.NextTimer(); !nt.IsZero() && !nt.Equal(ru.timer) {
		ru.timer = nt
		w.clk.at(nt, func() {
			if ru.done || !ru.timer.Equal(nt) {
				return
			}
			ru.timer = time.Time{}
			ru.j.Tick(w.clk.now)
			r.pump(ru)
		})
	}
}

func (r *requester) live(job string) *run {
	ru := r.runs[job]
	if ru == nil || ru.done {
		return nil
	}
	return ru
}

func (r *requester) onAnswer(job string, env canon.Envelope) {
	ru := r.live(job)
	if ru == nil {
		return
	}
	now := r.w.clk.now
	switch env.Kind {
	case market.KindBid:
		var b market.Bid
		if env.Open(keys{}, market.KindBid, &b) == nil {
			delete(r.creditNo, b.Provider)
			if ru.j.Bid(now, b, env.Encode()) != nil {
				r.w.m.dropped++
			}
		}
	case market.KindDecline:
		var d market.Decline
		if env.Open(keys{}, market.KindDecline, &d) == nil {
			if d.Reason == market.DeclineRequester {
				r.creditNo[d.Provider] = r.owes[d.Provider]
			}
			if ru.j.Decline(now, d) != nil {
				r.w.m.dropped++
			}
		}
	}
	r.pump(ru)
}

func (r *requester) onAck(job string, env canon.Envelope) {
	ru := r.live(job)
	if ru == nil {
		return
	}
	var a market.Ack
	if env.Open(keys{}, market.KindAck, &a) == nil && ru.j.Ack(r.w.clk.now, a) != nil {
		r.w.m.dropped++
	}
	r.pump(ru)
}

func (r *requester) onResult(job string, env canon.Envelope) {
	ru := r.live(job)
	if ru == nil {
		return
	}
	var res market.Result
	if env.Open(keys{}, market.KindResult, &res) == nil && ru.j.Result(r.w.clk.now, res, env.Encode()) != nil {
		r.w.m.dropped++
	}
	r.pump(ru)
}

// finish settles a finished job and judges it.
func (r *requester) finish(ru *run, o *market.Outcome) {
	w := r.w
	ru.done = true
	delete(r.runs, ru.id)
	w.m.open--
	for _, p := range ru.reviewing {
		r.endReview(p)
	}
	root := ru.root
	if ru.child {
		r.settle(ru, o, root.sample.receipts)
		r.sampleDone(root, o)
		return
	}
	if o.State != market.StateCompleted {
		r.settle(ru, o, nil)
		code := string(o.Code)
		if root.unhired && (o.Code == market.FailNoProviders || o.Code == market.FailNoBids) {
			code = "uncheckable"
		}
		w.m.failed(root, code)
		return
	}
	first := o.Paid[0]
	if root.adaptive {
		// Adaptive verification: check the result before the agent gets
		// it, at the rate the winner's record calls for. A result under
		// check earns its provider nothing until the verdict.
		st := r.rep.standing(first.Provider, 0)
		rate := r.w.check.Rate(st, root.value)
		cause := r.band(st)
		// Checked every time while another requester caught it, on the
		// word of checkers this one has paid and found right
		// (shareCatch), or while a rule here suspects it (suspected);
		// and while a result of it is under check already: until that
		// verdict, the record that would excuse this one from a check
		// is in question.
		if r.suspected(first.Provider) || r.checking[first.Provider] > 0 && !w.cfg.Legacy {
			if rate < 1 {
				cause = "forced"
			}
			rate = 1
		}
		if reputation.ShouldSample(r.secret, root.id, rate) {
			root.cause = cause
			root.pending = true
			r.checking[first.Provider]++
			if root.reviewed = r.unproven(first.Provider); root.reviewed {
				r.rep.review[first.Provider]++
			}
			root.sample = &sampleState{runs: []reputation.SampleRun{{Provider: first.Provider, Digest: first.Digest}},
				receipts: map[string]paidRun{}}
			r.settle(ru, o, root.sample.receipts)
			r.spawnSample(root)
			return
		}
	}
	r.settle(ru, o, nil)
	w.m.completed(root, first.Digest != root.rightDigest)
	if first.Digest != root.rightDigest {
		w.m.wrongBy[w.byID[first.Provider].pop.Kind+"/"+reasonUnchecked(root)]++
		w.m.slipped(w.byID[first.Provider], root)
	}
	if root.verify.Mode == market.VerifySample && reputation.ShouldSample(r.secret, root.id, root.verify.P) {
		root.sample = &sampleState{runs: []reputation.SampleRun{{Provider: first.Provider, Digest: first.Digest}}}
		r.spawnSample(root)
	}
}

// settle pays a finished job's runs and records what it says about its
// providers, as node/internal/requester's settle.go does: a countersigned receipt per paid run
// (appended to the ledger with the release of the rest of the hold),
// Success and MissedStart for paid runs, WrongResult for losers, Failure
// or Timeout for faults.
//
// When deferred is not nil (a result under check, or the check's own
// runs), Success and MissedStart wait there for the verdict.
func (r *requester) settle(ru *run, o *market.Outcome, deferred map[string]paidRun) {
	w := r.w
	now := w.clk.now
	var drafts []settlement.Draft
	var paid int64
	touched := map[string]bool{}
	record := func(p string, oc reputation.Outcome, ev string) {
		touched[p] = true
		_ = r.book.Record(now, p, capWasm, oc, ev)
	}
	if o.State == market.StateCompleted {
		for _, rr := range o.Paid {
			p := w.byID[rr.Provider]
			if r.nonPaying && w.rng.IntN(2) == 0 {
				p.disputed(r, ru.id) // refuses to sign for it: nothing paid
				continue
			}
			head := ""
			if r.ledger != nil {
				_, head = r.ledger.Head()
			}
			rc := settlement.Receipt{Job: rr.Result.Job, Attempt: rr.Attempt, Requester: r.id, Provider: rr.Provider,
				Capability: capWasm, Price: rr.Price, Result: canon.DocCID(rr.Env).String(), Outcome: string(rr.Result.Status),
				RequesterHead: head, Created: now.UnixMilli()}
			sr, err := settlement.SignReceipt(r.sg, rc)
			if err == nil {
				sr, err = settlement.Countersign(p.sg, sr, "")
			}
			if err != nil {
				w.fail(fmt.Errorf("sim: receipt for %s: %w", ru.id, err))
				return
			}
			cid := canon.DocCID(canon.MustMarshal(sr)).String()
			drafts = append(drafts, settlement.Draft{Kind: settlement.KindReceipt, Body: sr})
			paid += rr.Price
			r.owes[rr.Provider] += rr.Price
			p.paid(r, rr.Price, cid)
			if deferred != nil {
				deferred[rr.Provider] = paidRun{receipt: cid, late: !rr.Result.StartHeld}
			} else {
				record(rr.Provider, reputation.Success, cid)
				if !rr.Result.StartHeld {
					record(rr.Provider, reputation.MissedStart, cid+"#start")
				}
			}
			w.m.paid(ru.root, p, rr.Price)
		}
		for _, l := range o.Losers {
			record(l.Provider, reputation.WrongResult, "job:"+ru.id+":"+l.Provider)
			r.rep.caught(l.Provider)
			w.byID[l.Provider].caughtCheating()
		}
	}
	for _, f := range o.Faults {
		if !f.Kind.Evidence() {
			continue
		}
		oc := reputation.Failure
		if f.Timeout() {
			oc = reputation.Timeout
		}
		record(f.Provider, oc, fmt.Sprintf("job:%s:%d:%s", ru.id, f.Attempt, f.Provider))
	}
	if r.ledger != nil {
		if h, ok := r.ledger.Hold(ru.id); ok && !h.Closed && h.Remaining > paid {
			drafts = append(drafts, settlement.Draft{Kind: settlement.KindRelease,
				Body: settlement.Release{Job: ru.id, Amount: h.Remaining - paid, Reason: "job " + string(o.State)}})
		}
		if len(drafts) > 0 {
			if _, err := r.ledger.AppendAll(w.ctx, drafts...); err != nil {
				w.fail(fmt.Errorf("sim: settle %s: %w", ru.id, err))
				return
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(touched)) {
		r.rep.invalidate(p)
		r.noteTrusted(p)
		w.m.evidence(r, w.byID[p])
	}
}

// spawnSample re-runs a sampled job on a provider that has not run it.
func (r *requester) spawnSample(root *rootJob) {
	s := root.sample
	s.spawned++
	id := fmt.Sprintf("%s-s%d", root.id, s.spawned)
	spec := market.JobSpec{Runtime: market.RuntimeWasm, Module: r.w.module, MaxPrice: r.w.cfg.MaxPrice, TimeoutMs: 30_000,
		Verify: market.VerifyNone}
	var ex []string
	for _, sr := range s.runs {
		ex = append(ex, sr.Provider)
	}
	s.fromTrusted = false
	if root.adaptive && len(r.trusted) >= minTrusted {
		// A check is worth what its checker is: only trusted providers —
		// unless all of them have run this job already, or share a run's
		// subnet; then the tie is broken in the wider market rather than
		// left unresolved, which would cost the run under check nothing.
		// (Drawing a trusted checker as soon as there is one, rather than
		// minTrusted, was measured: it overloads the first few and let a
		// lazy population win 0.024 of awards instead of 0.014, mean of
		// seeds 1–5 of TestAttacks' market.)
		s.fromTrusted = len(r.w.checkers(r.trusted, ex, 1)) > 0 && !r.w.clk.now.Before(r.captured)
	}
	if s.fromTrusted {
		spec.MinReputation = r.w.check.Trusted
	}
	spec.Defaults()
	r.w.m.sampleRuns++
	if root.adaptive {
		cause := root.cause
		if s.spawned > 1 {
			cause = "tie_break"
		}
		r.w.m.checkRuns[cause]++
	}
	r.start(id, spec, root, true, ex)
}

// noteTrusted keeps the set of providers at the Trusted bound up to
// date: a provider barred here (CheckPolicy.Probation: caught CaughtBar's
// worth lately) checks no one, as in the node.
func (r *requester) noteTrusted(p string) {
	if r.rep.standing(p, r.w.check.Trusted).Eligible && r.rep.standing(p, 0).LowerBound >= r.w.check.Trusted &&
		(r.w.cfg.Legacy || !r.w.check.Probation(r.rep.standing(p, 0), r.book.DirectReliability(p, capWasm))) {
		r.trusted[p] = true
	} else {
		delete(r.trusted, p)
	}
}

// sampleDone judges a re-run with reputation.JudgeSample: a sample
// after delivery, or an adaptive check before it (pending), which then
// delivers the digest that stands.
func (r *requester) sampleDone(root *rootJob, o *market.Outcome) {
	w := r.w
	s := root.sample
	deliver := func(digest string) {
		// The verdict: runs that returned the digest that stands earn
		// their deferred Success.
		for _, run := range s.runs {
			if pr, ok := s.receipts[run.Provider]; ok && run.Digest == digest {
				delete(s.receipts, run.Provider)
				_ = r.book.Record(w.clk.now, run.Provider, capWasm, reputation.Success, pr.receipt)
				if pr.late {
					_ = r.book.Record(w.clk.now, run.Provider, capWasm, reputation.MissedStart, pr.receipt+"#start")
				}
				r.rep.invalidate(run.Provider)
				r.noteTrusted(run.Provider)
				w.m.evidence(r, w.byID[run.Provider])
			}
		}
		if root.pending && digest != root.rightDigest {
			w.m.wrongBy[w.byID[s.runs[0].Provider].pop.Kind+"/checked"]++
			for _, run := range s.runs {
				if run.Digest == digest {
					w.m.slipped(w.byID[run.Provider], root)
				}
			}
		}
		if root.pending {
			r.endCheck(root)
			w.m.completed(root, digest != root.rightDigest)
		}
	}
	if o.State != market.StateCompleted {
		if root.pending && !w.cfg.Legacy && len(s.runs) > 1 && r.refusedOverCredit() {
			for _, run := range s.runs[1:] {
				if run.Digest != s.runs[0].Digest {
					// Contradicted, and the tie-break found no bid
					// while a trusted provider refuses this requester
					// over its credit: a right result's check needs one
					// run, a wrong one's two, so the cheat's record here
					// would keep only its right results. Its results are
					// checked every time for a day; nobody is blamed
					// (reputation's doc, "Design choices", 19; the
					// node's Service.disputeUnsettled).
					r.suspect[s.runs[0].Provider] = w.clk.now.Add(shareQuarantine)
					if r.disputed == nil {
						r.disputed = map[string]time.Time{}
					}
					r.disputed[s.runs[0].Provider] = w.clk.now.Add(shareQuarantine)
					break
				}
			}
		}
		if root.pending {
			// The check could not run: the job fails rather than hand
			// the agent a result nobody vouched for; nobody is blamed.
			r.endCheck(root)
			w.m.failed(root, "unchecked")
		}
		return
	}
	s.runs = append(s.runs, reputation.SampleRun{Provider: o.Paid[0].Provider, Digest: o.Paid[0].Digest})
	d := reputation.JudgeSample(s.runs)
	if root.adaptive {
		d = reputation.JudgeCheck(r.replicas(s.runs), checkEpsilon, maxCheckRuns)
	}
	switch d.Verdict {
	case reputation.SampleTieBreak:
		r.spawnSample(root)
	case reputation.SampleAgree:
		r.stuck, r.stuckBy = 0, nil
		deliver(d.Digest)
	case reputation.SampleResolved:
		r.stuck, r.stuckBy = 0, nil
		for _, p := range d.Wrong {
			_ = r.book.Record(w.clk.now, p, capWasm, reputation.WrongResult, "sample:"+root.id+":"+p)
			r.rep.invalidate(p)
			r.rep.caught(p)
			r.noteTrusted(p)
			w.byID[p].caughtCheating()
			w.m.evidence(r, w.byID[p])
		}
		if w.cfg.ShareCatches && root.adaptive {
			var vouch []string // the checkers whose signed results contradict the wrong ones
			for _, run := range s.runs {
				if run.Digest == d.Digest {
					vouch = append(vouch, run.Provider)
				}
			}
			w.shareCatch(r, d.Wrong, vouch)
		}
		deliver(d.Digest)
	default:
		if root.adaptive && root.pending && !w.cfg.Legacy && r.trustedDisagree(s.runs) {
			if r.stuckBy == nil {
				r.stuckBy = map[string]bool{}
			}
			for _, sr := range s.runs {
				if r.trusted[sr.Provider] {
					r.stuckBy[sr.Provider] = true
				}
			}
			if r.stuck++; r.stuck >= captureStreak {
				r.captured = w.clk.now.Add(captureWindow)
				for p := range r.stuckBy {
					if r.suspect[p].Before(r.captured) {
						r.suspect[p] = r.captured
					}
				}
				r.stuck, r.stuckBy = 0, nil
			}
		}
		if root.adaptive && root.pending && !w.cfg.Legacy {
			// No verdict, but more cohorts contradicted these providers'
			// results than returned them: a veteran's run outweighs three
			// agreeing strangers, so the check of its wrong result ends so
			// where a right result's is settled by one checker, and its
			// record here keeps only its right results. Their results are
			// checked every time for a day; nobody is blamed (reputation's
			// doc, "Design choices", 20; the node's
			// Service.disputeOutnumbered).
			for _, p := range d.Outnumbered {
				r.suspect[p] = w.clk.now.Add(shareQuarantine)
			}
			// No verdict, but trusted providers contradicted each other:
			// those the best result outvoted take a failure, or they stay
			// trusted, win on price and check again (reputation's doc,
			// "Design choices", 17).
			for _, p := range w.check.Contradicted(r.replicas(s.runs), d, func(p string) bool { return r.trusted[p] }) {
				_ = r.book.Record(w.clk.now, p, capWasm, reputation.Failure, "contradicted:"+root.id+":"+p)
				r.rep.invalidate(p)
				r.noteTrusted(p)
				w.m.evidence(r, w.byID[p])
			}
		}
		if root.pending {
			r.endCheck(root)
			w.m.failed(root, string(market.FailVerify))
		}
	}
}

// trustedDisagree: providers trusted here returned different results
// among runs.
func (r *requester) trustedDisagree(runs []reputation.SampleRun) bool {
	first := ""
	for _, sr := range runs {
		if !r.trusted[sr.Provider] {
			continue
		}
		if first == "" {
			first = sr.Digest
		} else if sr.Digest != first {
			return true
		}
	}
	return false
}

// captureStreak is how many checks in a row without a verdict, in which
// providers trusted here contradicted each other, make a requester draw
// its checkers in the wider market for captureWindow, and check every
// result of those providers until then.
const captureStreak = 3

// captureWindow: ten minutes, about 240 jobs of a requester in the
// default setting.
const captureWindow = 10 * time.Minute

// checkCandidates are the candidates of a check run: six of the
// requester's trusted providers that have not run the job, drawn at
// random; while it trusts fewer than minTrusted, or none of them is
// left, checkerDraw of those discovery found — never in the subnet of a
// run so far.
func (r *requester) checkCandidates(ru *run, discovered []market.Candidate) []market.Candidate {
	w := r.w
	if ru.root.sample.fromTrusted {
		return w.checkers(r.trusted, ru.exclude, 6)
	}
	return w.drawn(discovered, ru.exclude, checkerDraw)
}

// replicas weighs each run of a check by what its provider's record here
// says, first-hand, its subnet its cohort (reputation.JudgeCheck).
func (r *requester) replicas(runs []reputation.SampleRun) []reputation.Replica {
	out := make([]reputation.Replica, len(runs))
	for i, sr := range runs {
		out[i] = reputation.Replica{Provider: sr.Provider, Digest: sr.Digest, Reliability: r.book.DirectReliability(sr.Provider, capWasm),
			Cohort: r.w.byID[sr.Provider].subnet}
	}
	return out
}

// unproven: p has no record here yet (below CheckPolicy.Trusted), so it
// holds one unjudged award here at a time. Providers with a record keep
// winning while a result of theirs is checked: they have it to lose.
func (r *requester) unproven(p string) bool {
	return r.rep.standing(p, 0).LowerBound < r.w.check.Trusted
}

// endCheck ends a root job's check: its result is judged (or the check
// could not run), and its provider's review, if any, ends.
func (r *requester) endCheck(root *rootJob) {
	root.pending = false
	if p := root.sample.runs[0].Provider; r.checking[p] <= 1 {
		delete(r.checking, p)
	} else {
		r.checking[p]--
	}
	if root.reviewed {
		root.reviewed = false
		r.endReview(root.sample.runs[0].Provider)
	}
}

// band names where a winner's standing here puts it on CheckPolicy's
// scale (Report.CheckRuns): below Trusted, below Proven, on the ramp to
// Settled, or settled.
func (r *requester) band(st reputation.Standing) string {
	c := r.w.check
	switch {
	case st.LowerBound < c.Trusted:
		return "probation"
	case st.LowerBound < c.Proven:
		return "trusted"
	case st.LowerBound < c.Settled:
		return "ramp"
	}
	return "settled"
}

func (r *requester) endReview(p string) {
	if r.rep.review[p]--; r.rep.review[p] <= 0 {
		delete(r.rep.review, p)
	}
	r.rep.invalidate(p)
}

// settleAll settles every debt: each provider signs a settlement for
// what it is owed, appended to the requester's ledger.
func (r *requester) settleAll() {
	w := r.w
	for _, pid := range slices.Sorted(maps.Keys(r.owes)) {
		amt := r.owes[pid]
		if amt <= 0 {
			continue
		}
		p := w.byID[pid]
		ss, err := settlement.SignSettle(p.sg, settlement.Settle{Debtor: r.id, Creditor: pid, Amount: amt, Created: w.clk.now.UnixMilli()})
		if err != nil {
			w.fail(fmt.Errorf("sim: settle %s: %w", pid, err))
			return
		}
		if r.ledger != nil {
			if _, err := r.ledger.Append(w.ctx, settlement.KindSettle, ss); err != nil {
				w.fail(fmt.Errorf("sim: settle %s: %w", pid, err))
				return
			}
		}
		r.owes[pid] = 0
		p.settled(r, amt, canon.DocCID(canon.MustMarshal(ss)).String())
	}
}

func reasonUnchecked(root *rootJob) string {
	if root.adaptive {
		return "unchecked"
	}
	return root.verify.String()
}

// checkEpsilon is the credibility a check's verdict needs
// (reputation.JudgeCheck): 1 − 0.01, reached by three agreeing strangers
// or by a stranger and a trusted checker. At the jobs' ε (0.001) strangers
// needed four agreeing runs of at most five: while a requester trusted
// nobody, most checks ended unresolved, blaming nobody, and cheats built
// records on the checks of their right results.
const checkEpsilon = 0.01

// maxCheckRuns bounds the runs of one adaptively checked job, the
// original included (reputation.JudgeCheck).
const maxCheckRuns = 5

// checkerDraw is how many providers discovery found are invited to bid
// for a check run while the requester trusts too few to draw from them:
// few, so that price hardly decides who checks.
const checkerDraw = 2

// minCheckers is how many trusted providers, besides a candidate, must
// not have declined a requester over its credit for it to hire that
// candidate when the candidate's result will be checked (hireable): a
// check of a wrong result takes two — a checker that contradicts it and
// a tie-break — and with one, the cheat's result ends unjudged.
const minCheckers = 2

// minTrusted is how many trusted providers a requester needs before it
// keeps its jobs (beyond the probation share) and its checks to them;
// until then every job is a probation job.
const minTrusted = 3

// shareCatch: requester from caught wrong results of the providers in
// wrong, contradicted by vouch's results for the same job (Config.
// ShareCatches). It tells every other requester — as a node would
// gossip an attestation carrying both providers' signed results, so that
// no one can accuse without the accused's own signature on a wrong
// output — after shareDelay. A receiver acts on it only if it
// has itself paid one of vouch and found it right (trusted here, with a
// first-hand reliability above a stranger's): a sybil's word, or a
// requester's about checkers nobody else knows, moves nothing. And it
// only checks: the accused's results are checked at rate 1 there for
// shareQuarantine, so a false accusation costs checks, never a record.
func (w *world) shareCatch(from *requester, wrong, vouch []string) {
	w.clk.after(shareDelay, func() {
		for _, r := range w.reqs {
			if r == from {
				continue
			}
			ok := false
			for _, c := range vouch {
				ok = ok || r.trusted[c] && r.book.DirectReliability(c, capWasm) > w.reps.VerifyPriorMean
			}
			if !ok {
				continue
			}
			for _, p := range wrong {
				r.suspect[p] = w.clk.now.Add(shareQuarantine)
			}
		}
	})
}

// shareDelay is how long a shared catch takes to reach the other
// requesters: a second, sent at once rather than batched. An on-off
// cheat settled at a requester wins most of its jobs there, so its
// slips come in bursts (17 in 90 s in one run); with reputation.Batcher's
// minute of delay sharing caught none of them (42 slipped with it and
// without), with a second it cut them to 7.
const shareDelay = time.Second

// shareQuarantine is how long a provider another requester caught is
// checked at rate 1: SubnetGuard's quarantine.
const shareQuarantine = 24 * time.Hour

// refusedOverCredit: a trusted provider declines this requester over its
// unpaid credit.
func (r *requester) refusedOverCredit() bool {
	for q := range r.trusted {
		if r.refuses(q) {
			return true
		}
	}
	return false
}

// refuses: q declined this requester over its credit, and it owes q no
// less now than then.
func (r *requester) refuses(q string) bool {
	debt, ok := r.creditNo[q]
	return ok && r.owes[q] >= debt
}

// hireable drops from an adaptive job's candidates those whose result
// this requester would check whatever the draw (certainCheck) while it
// has too few checkers for that check: checks are drawn among the
// providers it trusts, and fewer than minCheckers of those other than
// the candidate will work for it — the rest declined its calls over its
// unpaid credit (creditNo). Hired, such a provider would run the job,
// its check would find no bid and fail, blaming nobody and catching
// nothing: a cheat's award for free. Don't hire what you cannot check;
// the job goes to providers whose results need no certain check, or
// fails before anyone runs it (reputation's doc, "Design choices", 18).
func (r *requester) hireable(root *rootJob, cands []market.Candidate) []market.Candidate {
	if len(r.disputed) > 0 && r.refusedOverCredit() {
		// A provider whose contradicted result found no tie-break here
		// is not hired while a trusted provider still declines this
		// requester over its credit: the next tie-break would find no
		// bid either (reputation's doc, "Design choices", 21).
		kept := cands[:0:0]
		for _, c := range cands {
			if until, ok := r.disputed[c.Peer]; ok && r.w.clk.now.Before(until) {
				root.unhired = true
				continue
			}
			kept = append(kept, c)
		}
		cands = kept
	}
	var trusted []string
	for _, c := range cands {
		if r.trusted[c.Peer] {
			trusted = append(trusted, c.Peer)
		}
	}
	if len(trusted) < minTrusted || r.checkers("", trusted) > minCheckers {
		return cands // checks are drawn among strangers, or enough will check
	}
	out := cands[:0:0]
	for _, c := range cands {
		if r.checkers(c.Peer, trusted) < minCheckers && r.certainCheck(c.Peer, root.value) {
			root.unhired = true
			continue
		}
		out = append(out, c)
	}
	return out
}

// checkers counts the trusted providers other than p that have not
// declined this requester over credit it still owes.
func (r *requester) checkers(p string, trusted []string) int {
	n := 0
	for _, q := range trusted {
		if q != p && !r.refuses(q) {
			n++
		}
	}
	return n
}

// certainCheck: a result of p here would be checked whatever the draw
// (finish's rate is 1).
func (r *requester) certainCheck(p string, value int64) bool {
	return r.w.check.Rate(r.rep.standing(p, 0), value) >= 1 || r.checking[p] > 0 || r.suspected(p)
}

// suspected: p's results are checked every time here, for now (suspect).
func (r *requester) suspected(p string) bool {
	until, ok := r.suspect[p]
	return ok && r.w.clk.now.Before(until)
}
