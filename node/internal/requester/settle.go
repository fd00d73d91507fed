package requester

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// errLocal marks a run by this node itself, which is not paid.
var errLocal = errors.New("requester: run locally")

// releaseAll returns what is left of a job's hold to its agent.
func (r *Service) releaseAll(ctx context.Context, job, reason string) int64 {
	h, ok := r.d.Ledger.Hold(job)
	if !ok || h.Closed || h.Remaining <= 0 {
		return 0
	}
	if _, err := r.d.Ledger.Append(ctx, settlement.KindRelease, settlement.Release{Job: job, Amount: h.Remaining, Reason: reason}); err != nil {
		r.d.Log.Error("cannot release hold", "job", job, "err", err)
		return 0
	}
	return h.Remaining
}

// settle pays what a finished job owes and records what it says about the
// providers: a countersigned receipt per paid run, the unspent hold back to
// the agent, and reputation evidence for every provider involved — all in
// one ledger append (one fsync on the job's path). Its steps: exchange the
// receipts, turn them into payments, blame the losers and the faulty,
// release the rest of the hold, commit.
func (r *Service) settle(ctx context.Context, j *job, o *market.Outcome) {
	rctx, cancel := context.WithTimeout(ctx, r.d.ReceiptTimeout)
	defer cancel()
	b := &bill{job: j.id, self: r.self, cap: string(j.spec.Runtime), st: &api.Settlement{Held: j.held, Receipts: []string{}}}
	if o.State == market.StateCompleted {
		r.pay(j, b, r.exchangeReceipts(rctx, j, o.Paid))
		for _, l := range o.Losers {
			b.record(l.Provider, reputation.WrongResult, "job:"+j.id+":"+l.Provider, nil)
			r.prob.caught(l.Provider)
		}
	}
	b.faults(o.Faults)
	r.releaseRest(j, b, o.State)
	r.commit(ctx, rctx, j, b)
}

// paidRun is a paid run with its countersigned receipt, or why it has none.
type paidRun struct {
	rr  market.ReplicaResult
	sr  settlement.SignedReceipt
	err error
}

// exchangeReceipts has each paid run's provider countersign its receipt,
// all at once, and waits for every answer. One provider's refusal does not
// cut the others short: the group has no shared context.
func (r *Service) exchangeReceipts(ctx context.Context, j *job, runs []market.ReplicaResult) []paidRun {
	out := make([]paidRun, len(runs))
	var g errgroup.Group
	for i, rr := range runs {
		if rr.Provider == r.self {
			// A local run: nobody to pay, no receipt; its price stays
			// in the hold and goes back to the agent.
			out[i] = paidRun{rr: rr, err: errLocal}
			continue
		}
		g.Go(func() error {
			sr, err := r.exchangeReceipt(ctx, j, rr)
			out[i] = paidRun{rr, sr, err}
			return nil
		})
	}
	g.Wait()
	return out
}

// pay turns countersigned receipts into payments and Success evidence
// (deferred while the job is under an adaptive check); a provider that
// did not countersign is not paid, and blamed unless this node failed the
// exchange. The receipts go first in the append: outcomes rest on them.
func (r *Service) pay(j *job, b *bill, runs []paidRun) {
	var receipts []settlement.Draft
	for _, p := range runs {
		if p.err == errLocal {
			continue
		}
		if p.err != nil {
			b.st.Error = fmt.Sprintf("%s did not countersign its receipt (%v): nothing paid to it", wire.ShortID(p.rr.Provider), p.err)
			if faultKind(p.err, market.FaultLost).Evidence() { // not when this node's own limits or shutdown failed it
				b.record(p.rr.Provider, reputation.Failure, "job:"+j.id+":"+p.rr.Provider, nil)
			}
			continue
		}
		sb := canon.MustMarshal(p.sr)
		cid := canon.DocCID(sb).String()
		receipts = append(receipts, settlement.Draft{Kind: settlement.KindReceipt, Body: p.sr})
		b.st.Paid += p.rr.Price
		b.st.Receipts = append(b.st.Receipts, cid)
		if c := checkOf(j); c != nil {
			// Under check: paid, but no Success before the verdict.
			c.deferred = append(c.deferred, deferred{p.rr.Provider, p.rr.Digest, reputation.Success, cid, sb})
			if !p.rr.Result.StartHeld {
				c.deferred = append(c.deferred, deferred{p.rr.Provider, p.rr.Digest, reputation.MissedStart, cid + "#start", nil})
			}
		} else {
			b.record(p.rr.Provider, reputation.Success, cid, sb)
			if !p.rr.Result.StartHeld {
				b.record(p.rr.Provider, reputation.MissedStart, cid+"#start", nil)
			}
		}
	}
	b.drafts = append(receipts, b.drafts...)
}

// exchangeReceipt signs a receipt for one paid run and has its provider
// countersign it; the caller appends it.
func (r *Service) exchangeReceipt(ctx context.Context, j *job, rr market.ReplicaResult) (settlement.SignedReceipt, error) {
	_, head := r.d.Ledger.Head()
	rc := settlement.Receipt{
		Job: rr.Result.Job, Attempt: rr.Attempt, Requester: r.self, Provider: rr.Provider,
		Capability: string(j.spec.Runtime), Price: rr.Price, Result: canon.DocCID(rr.Env).String(),
		Outcome: string(rr.Result.Status), RequesterHead: head, Created: r.d.Now().UnixMilli(),
	}
	sr, err := settlement.SignReceipt(r.d.Signer, rc)
	if err != nil {
		return settlement.SignedReceipt{}, err
	}
	backoff := 50 * time.Millisecond
	for {
		reply, err := wire.SendReceipt(ctx, r.d.Host, rr.Provider, wire.ReceiptMsg{Kind: "receipt", Receipt: &sr})
		if err == nil && reply.Error == "" && reply.Receipt != nil {
			got, err := settlement.OpenReceipt(r.d.Verifier, *reply.Receipt)
			if err != nil || got != rc {
				r.d.Drops.Add("receipt/bad_countersignature")
				return settlement.SignedReceipt{}, fmt.Errorf("bad countersignature: %v", err)
			}
			return *reply.Receipt, nil
		}
		if err == nil {
			return settlement.SignedReceipt{}, fmt.Errorf("%s refused: %s", wire.ShortID(rr.Provider), reply.Error)
		}
		select {
		case <-ctx.Done():
			return settlement.SignedReceipt{}, fmt.Errorf("no countersignature before the receipt timeout: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
