package requester

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
// one ledger append (one fsync on the job's path).
func (r *Service) settle(ctx context.Context, j *job, o *market.Outcome) {
	rctx, cancel := context.WithTimeout(ctx, r.d.ReceiptTimeout)
	defer cancel()
	cap := string(j.spec.Runtime)
	var drafts []settlement.Draft
	type evidence struct {
		peer    string
		oc      reputation.Outcome
		id      string
		receipt []byte
	}
	var evs []evidence
	record := func(peer string, oc reputation.Outcome, id string, receipt []byte) {
		if peer == r.self {
			return // a local run: no evidence about this node itself
		}
		evs = append(evs, evidence{peer, oc, id, receipt})
		drafts = append(drafts, settlement.Draft{Kind: settlement.KindOutcome, Body: settlement.Outcome{
			Peer: peer, Capability: cap, Outcome: string(oc), Job: j.id, Receipt: id}})
	}
	st := &api.Settlement{Held: j.held, Receipts: []string{}}
	if o.State == market.StateCompleted {
		type paid struct {
			rr  market.ReplicaResult
			sr  settlement.SignedReceipt
			err error
		}
		results := make([]paid, len(o.Paid))
		var wg sync.WaitGroup
		for i, rr := range o.Paid {
			if rr.Provider == r.self {
				// A local run: nobody to pay, no receipt; its price stays
				// in the hold and goes back to the agent.
				results[i] = paid{rr: rr, err: errLocal}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sr, err := r.exchangeReceipt(rctx, j, rr)
				results[i] = paid{rr, sr, err}
			}()
		}
		wg.Wait()
		var receipts []settlement.Draft
		for _, p := range results {
			if p.err == errLocal {
				continue
			}
			if p.err != nil {
				st.Error = fmt.Sprintf("%s did not countersign its receipt (%v): nothing paid to it", wire.ShortID(p.rr.Provider), p.err)
				if faultKind(p.err, market.FaultLost).Evidence() { // not when this node's own limits or shutdown failed it
					record(p.rr.Provider, reputation.Failure, "job:"+j.id+":"+p.rr.Provider, nil)
				}
				continue
			}
			b := canon.MustMarshal(p.sr)
			cid := canon.DocCID(b).String()
			receipts = append(receipts, settlement.Draft{Kind: settlement.KindReceipt, Body: p.sr})
			st.Paid += p.rr.Price
			st.Receipts = append(st.Receipts, cid)
			if c := checkOf(j); c != nil {
				// Under check: paid, but no Success before the verdict.
				c.deferred = append(c.deferred, deferred{p.rr.Provider, p.rr.Digest, reputation.Success, cid, b})
				if !p.rr.Result.StartHeld {
					c.deferred = append(c.deferred, deferred{p.rr.Provider, p.rr.Digest, reputation.MissedStart, cid + "#start", nil})
				}
			} else {
				record(p.rr.Provider, reputation.Success, cid, b)
				if !p.rr.Result.StartHeld {
					record(p.rr.Provider, reputation.MissedStart, cid+"#start", nil)
				}
			}
		}
		drafts = append(receipts, drafts...) // receipts first: outcomes rest on them
		for _, l := range o.Losers {
			record(l.Provider, reputation.WrongResult, "job:"+j.id+":"+l.Provider, nil)
			r.prob.caught(l.Provider)
		}
	}
	for _, f := range o.Faults {
		if !f.Kind.Evidence() {
			continue // busy, or this node's own limits: nothing the provider did
		}
		oc := reputation.Failure
		if f.Timeout() {
			oc = reputation.Timeout
		}
		record(f.Provider, oc, fmt.Sprintf("job:%s:%d:%s", j.id, f.Attempt, f.Provider), nil)
	}
	if j.sampling == nil {
		if h, ok := r.d.Ledger.Hold(j.id); ok && !h.Closed {
			if rest := h.Remaining - st.Paid; rest > 0 {
				drafts = append(drafts, settlement.Draft{Kind: settlement.KindRelease,
					Body: settlement.Release{Job: j.id, Amount: rest, Reason: "job " + string(o.State)}})
				st.Released = rest
			}
		}
	} else {
		st.Pending = true // the sample runs are paid from the rest of the hold
	}
	if len(drafts) > 0 {
		if _, err := r.d.Ledger.AppendAll(rctx, drafts...); err != nil {
			r.d.Log.Error("cannot record the job's settlement", "job", j.id, "err", err)
			st.Error = "the ledger refused the settlement: " + err.Error()
			st.Paid, st.Released, st.Receipts = 0, 0, []string{}
		}
	}
	for _, e := range evs {
		r.d.Rep.Record(e.peer, cap, e.oc, e.id)
		if e.receipt != nil {
			r.d.Rep.Attest(ctx, e.peer, cap, e.oc, e.id, e.receipt)
		}
	}
	j.mu.Lock()
	j.view.Settlement = st
	j.mu.Unlock()
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
