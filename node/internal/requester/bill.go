package requester

import (
	"context"
	"fmt"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// bill is what settling a job appends and records: ledger drafts, the
// evidence for the reputation service, and the settlement the API shows.
type bill struct {
	job, self, cap string
	drafts         []settlement.Draft
	evs            []proof
	st             *api.Settlement
}

// proof is one piece of evidence about a provider, with the countersigned
// receipt it rests on when there is one (then it is attested too).
type proof struct {
	peer    string
	oc      reputation.Outcome
	id      string
	receipt []byte
}

// record adds evidence about peer, as an outcome entry and for the
// reputation service.
func (b *bill) record(peer string, oc reputation.Outcome, id string, receipt []byte) {
	if peer == b.self {
		return // a local run: no evidence about this node itself
	}
	b.evs = append(b.evs, proof{peer, oc, id, receipt})
	b.drafts = append(b.drafts, settlement.Draft{Kind: settlement.KindOutcome, Body: settlement.Outcome{
		Peer: peer, Capability: b.cap, Outcome: string(oc), Job: b.job, Receipt: id}})
}

// faults records the failures and timeouts the job's providers are to
// blame for.
func (b *bill) faults(fs []market.Fault) {
	for _, f := range fs {
		if !f.Kind.Evidence() {
			continue // busy, or this node's own limits: nothing the provider did
		}
		oc := reputation.Failure
		if f.Timeout() {
			oc = reputation.Timeout
		}
		b.record(f.Provider, oc, fmt.Sprintf("job:%s:%d:%s", b.job, f.Attempt, f.Provider), nil)
	}
}

// releaseRest returns the unpaid rest of the job's hold to its agent,
// unless sample runs are still to be paid from it.
func (r *Service) releaseRest(j *job, b *bill, state market.State) {
	if j.sampling != nil {
		b.st.Pending = true // the sample runs are paid from the rest of the hold
		return
	}
	if h, ok := r.d.Ledger.Hold(j.id); ok && !h.Closed {
		if rest := h.Remaining - b.st.Paid; rest > 0 {
			b.drafts = append(b.drafts, settlement.Draft{Kind: settlement.KindRelease,
				Body: settlement.Release{Job: j.id, Amount: rest, Reason: "job " + string(state)}})
			b.st.Released = rest
		}
	}
}

// commit appends the bill in one synced append (within the receipt
// timeout, rctx), hands the evidence to the reputation service (attesting
// with ctx, the job's own) and shows the settlement on the job.
func (r *Service) commit(ctx, rctx context.Context, j *job, b *bill) {
	if len(b.drafts) > 0 {
		if _, err := r.d.Ledger.AppendAll(rctx, b.drafts...); err != nil {
			r.d.Log.Error("cannot record the job's settlement", "job", j.id, "err", err)
			b.st.Error = "the ledger refused the settlement: " + err.Error()
			b.st.Paid, b.st.Released, b.st.Receipts = 0, 0, []string{}
		}
	}
	for _, e := range b.evs {
		r.d.Rep.Record(e.peer, b.cap, e.oc, e.id)
		if e.receipt != nil {
			r.d.Rep.Attest(ctx, e.peer, b.cap, e.oc, e.id, e.receipt)
		}
	}
	j.mu.Lock()
	j.view.Settlement = b.st
	j.mu.Unlock()
}
