package requester

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/settlement"
)

// Sampling (verify "sample:P") checks a delivered job after the fact: with
// probability P the requester runs it again on another provider and
// compares result digests; a disagreement gets a third run to break the
// tie, and the provider outvoted gets wrong_result evidence. It detects
// cheating, it does not prevent it: the first provider was already paid.
// The runs are hidden jobs ("<id>-s1", "<id>-s2") paid from the sampled
// job's hold.
type sampling struct {
	original market.ReplicaResult
	runs     []market.ReplicaResult
	spawned  int

	// An adaptive check (adaptive.go) holds the job back until its verdict.
	adaptive bool
	reviewed string                     // an unproven winner held under review until the verdict
	checked  string                     // the provider whose result is under check, until the verdict
	outcome  *market.Outcome            // the checked job's, delivered if its digest stands
	final    []market.Event             // its last events, published with it
	outcomes map[string]*market.Outcome // digest → the first check run's outcome with it
	deferred []deferred                 // paid runs' evidence, waiting for the verdict
	awards   map[string][]byte          // award CID → the signed award of each run, for a catch's proof
}

// sampled decides, from the job ID alone, whether a job is re-run: the
// draw can be recomputed by anyone, and no provider can steer it.
func sampled(jobID string, p float64) bool {
	h := fnv.New64a()
	h.Write([]byte("hayek/sample/" + jobID))
	return float64(h.Sum64())/float64(math.MaxUint64) < p
}

// decideSample marks a completed sampled job for a re-run, before its
// settlement so that its hold is kept for the re-runs.
func (r *Service) decideSample(j *job, o *market.Outcome) {
	if j.parent != nil || o.State != market.StateCompleted || len(o.Paid) == 0 {
		return
	}
	v, err := market.ParseVerify(j.spec.Verify)
	if err == nil && v.Mode == market.VerifyAdaptive {
		r.decideCheck(j, o)
		return
	}
	if err != nil || v.Mode != market.VerifySample {
		if len(o.Paid) > 1 || len(o.Losers) > 0 {
			r.setVerification(j, &api.Verification{Mode: market.VerifyReplicate, State: "accepted",
				Replicas: providers(o.Paid), Losers: providers(o.Losers)})
		}
		return
	}
	if !sampled(j.id, v.P) {
		r.setVerification(j, &api.Verification{Mode: market.VerifySample, State: "skipped",
			Detail: fmt.Sprintf("not drawn for a re-run (p=%g)", v.P)})
		return
	}
	j.sampling = &sampling{original: o.Paid[0]}
	r.setVerification(j, &api.Verification{Mode: market.VerifySample, State: "pending",
		Replicas: []string{o.Paid[0].Provider}, Detail: "drawn for a re-run on another provider"})
}

func providers(rs []market.ReplicaResult) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Provider
	}
	return out
}

func (r *Service) setVerification(j *job, v *api.Verification) {
	j.mu.Lock()
	j.view.Verification = v
	j.mu.Unlock()
}

// spawnSample starts the next hidden run of a sampled job, on a provider
// that has not run it yet, with its hold carved from the job's.
func (r *Service) spawnSample(ctx context.Context, parent *job) {
	s := parent.sampling
	s.spawned++
	id := fmt.Sprintf("%s-s%d", parent.id, s.spawned)
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	amount := parent.spec.MaxPrice
	_, err := r.d.Ledger.AppendAll(hctx,
		settlement.Draft{Kind: settlement.KindRelease, Body: settlement.Release{Job: parent.id, Amount: amount, Reason: "moved to the sample run " + id}},
		settlement.Draft{Kind: settlement.KindHold, Body: settlement.Hold{Job: id, Agent: parent.agent, Amount: amount}})
	if err != nil {
		if s.adaptive {
			r.finishCheck(ctx, parent, "", "unverified", fmt.Sprintf("cannot hold the check run: %v", err))
		} else {
			r.finishSample(ctx, parent, "unverified", fmt.Sprintf("cannot hold the sample run: %v", err))
		}
		return
	}
	spec := parent.spec
	spec.Verify = market.VerifyNone
	if s.adaptive {
		// A check is part of the job the agent waits for: it ends by the
		// job's deadline (give or take one run's timeout), not a whole
		// deadline after it.
		parent.mu.Lock()
		left := parent.view.Deadline.Sub(r.d.Now())
		parent.mu.Unlock()
		spec.DeadlineMs = max(spec.TimeoutMs, left.Milliseconds())
	}
	child := r.newJob(id, spec, spec.Digest(), "", parent.agent, amount, r.d.Now())
	child.parent = parent
	if s.adaptive {
		// Only the providers drawn to check may win (checkCandidates).
		child.rep = &drawnRep{probation: r.prob, only: map[string]bool{}}
		child.machine = r.newMachine(child, r.d.Now())
	}
	r.placeJob(child, parent.place, r.d.Now()) // a check runs only where the job itself may
	child.exclude = []string{s.original.Provider}
	child.machine.Exclude(s.original.Provider, "ran the job being checked")
	for _, run := range s.runs {
		child.machine.Exclude(run.Provider, "already re-ran it")
		child.exclude = append(child.exclude, run.Provider)
	}
	r.mu.Lock()
	r.jobs[id] = child
	r.mu.Unlock()
	if !r.start(child) && s.adaptive {
		r.finishCheck(ctx, parent, "", "unverified", "the node is stopping")
	}
}

// sampleDone compares a sample run with the original, and settles the
// question or asks for a tie-breaker.
func (r *Service) sampleDone(ctx context.Context, child *job, o *market.Outcome) {
	parent := child.parent
	s := parent.sampling
	if s.adaptive {
		r.checkDone(ctx, child, o)
		return
	}
	if o.State != market.StateCompleted || len(o.Paid) == 0 {
		r.finishSample(ctx, parent, "unverified", "the re-run could not be done: "+o.Message)
		return
	}
	run := o.Paid[0]
	s.runs = append(s.runs, run)
	wrong := func(rr market.ReplicaResult) { r.wrongResult(ctx, parent, rr.Provider) }
	switch {
	case len(s.runs) == 1 && run.Digest == s.original.Digest:
		r.finishSample(ctx, parent, "confirmed", fmt.Sprintf("re-run on %s agrees", wire.ShortID(run.Provider)))
	case len(s.runs) == 1:
		r.setVerification(parent, &api.Verification{Mode: market.VerifySample, State: "disputed",
			Replicas: []string{s.original.Provider, run.Provider}, Detail: "the re-run disagrees: a third run breaks the tie"})
		r.spawnSample(ctx, parent)
	case run.Digest == s.original.Digest:
		wrong(s.runs[0])
		r.finishSample(ctx, parent, "confirmed", fmt.Sprintf("the tie-breaker agrees with the original; %s was wrong", wire.ShortID(s.runs[0].Provider)), s.runs[0].Provider)
	case run.Digest == s.runs[0].Digest:
		wrong(s.original)
		r.finishSample(ctx, parent, "refuted", fmt.Sprintf("two re-runs agree against the original: %s delivered a wrong result (it was paid once)", wire.ShortID(s.original.Provider)), s.original.Provider)
	default:
		r.finishSample(ctx, parent, "inconclusive", "three runs, three different results")
	}
}

// finishSample records the verdict and returns the rest of the hold.
func (r *Service) finishSample(ctx context.Context, parent *job, state, detail string, losers ...string) {
	s := parent.sampling
	reps := []string{s.original.Provider}
	for _, run := range s.runs {
		reps = append(reps, run.Provider)
	}
	released := r.releaseAll(ctx, parent.id, "sampling "+state)
	parent.mu.Lock()
	defer parent.mu.Unlock()
	parent.view.Verification = &api.Verification{Mode: market.VerifySample, State: state, Replicas: reps, Losers: losers, Detail: detail}
	if old := parent.view.Settlement; old != nil {
		st := *old // copied, never changed in place: snapshots may share nothing
		st.Released += released
		st.Pending = false
		parent.view.Settlement = &st
	}
	sj := &storedJob{Job: cloneJob(parent.view), Result: parent.result, Events: slices.Clone(parent.events), Digest: parent.digest,
		Spec: &parent.spec, Signed: parent.signed, Offers: parent.offers}
	if err := r.store.put(sj); err != nil {
		r.d.Log.Error("cannot store job", "job", parent.id, "err", err)
	}
}
