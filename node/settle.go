package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// receiptMsg is a frame on /hayek/receipt/1.0.0: a requester-signed
// receipt for the provider to countersign, or a creditor-signed settlement
// for the debtor to record. The answer is the same type: the countersigned
// receipt, or an error.
type receiptMsg struct {
	Kind    string                    `cbor:"kind"` // "receipt" or "settle"
	Receipt *settlement.SignedReceipt `cbor:"receipt"`
	Settle  *settlement.SignedSettle  `cbor:"settle"`
	Error   string                    `cbor:"error"`
}

// LedgerDir is the ledger's directory in the node's home.
const LedgerDir = "ledger"

// openLedger opens the node's ledger and gives the operator an account the
// first time. A ledger that lost acknowledged writes is refused
// (settlement.IsLostWrites): the error says to run hayek ledger recover.
func (n *Node) openLedger(ctx context.Context) error {
	l, err := settlement.Open(ctx, filepath.Join(n.home, LedgerDir), settlement.Options{
		Signer: n.signer, Verifier: n.verifier, Now: n.now, Logger: n.log,
	})
	if err != nil {
		return fmt.Errorf("node: ledger: %w", err)
	}
	n.ledger = l
	if _, ok := l.Agent(api.OperatorAgent); !ok {
		drafts := []settlement.Draft{{Kind: settlement.KindGovernance, Body: settlement.Governance{
			Action: "agent_create", Agent: api.OperatorAgent, Detail: "the node's operator"}}}
		if b := n.cfg.Settlement.OperatorBudget; b > 0 {
			drafts = append(drafts, settlement.Draft{Kind: settlement.KindFund, Body: settlement.Fund{
				Agent: api.OperatorAgent, Amount: b, Note: "settlement.operator_budget at first start"}})
		}
		if _, err := l.AppendAll(ctx, drafts...); err != nil {
			return fmt.Errorf("node: ledger: fund the operator: %w", err)
		}
	}
	return nil
}

// releaseOrphans returns the holds of jobs that died with the previous run
// of the node: jobs live in memory, so after a restart no job can settle
// an open hold, and its money goes back to its agent.
func (n *Node) releaseOrphans(ctx context.Context) error {
	var drafts []settlement.Draft
	for _, h := range n.ledger.OpenHolds() {
		if h.Remaining > 0 {
			drafts = append(drafts, settlement.Draft{Kind: settlement.KindRelease, Body: settlement.Release{
				Job: h.Job, Amount: h.Remaining, Reason: "the node restarted: the job was lost"}})
		}
	}
	if len(drafts) == 0 {
		return nil
	}
	n.log.Warn("releasing the holds of jobs lost in a restart", "jobs", len(drafts))
	_, err := n.ledger.AppendAll(ctx, drafts...)
	return err
}

// holdFor puts a job's max cost on hold against its agent's budget.
func (n *Node) holdFor(ctx context.Context, job, agent string, amount int64) error {
	_, err := n.ledger.Append(ctx, settlement.KindHold, settlement.Hold{Job: job, Agent: agent, Amount: amount})
	switch {
	case errors.Is(err, settlement.ErrBudgetExceeded):
		acct, _ := n.ledger.Agent(agent)
		return &api.Error{Code: api.CodeBudgetExceeded, Message: fmt.Sprintf(
			"agent %s has %d left and this job may cost up to %d (max price × runs allowed); lower --max-price or fund it: hayek agent fund %s N",
			agent, acct.Budget, amount, agent)}
	case errors.Is(err, settlement.ErrRevoked):
		return api.Errorf(api.CodeUnauthorized, "agent %s is revoked", agent)
	case err != nil:
		return ledgerError(err, "hold for job "+job, "max_price")
	}
	return nil
}

// releaseAll returns what is left of a job's hold to its agent.
func (n *Node) releaseAll(ctx context.Context, job, reason string) int64 {
	h, ok := n.ledger.Hold(job)
	if !ok || h.Closed || h.Remaining <= 0 {
		return 0
	}
	if _, err := n.ledger.Append(ctx, settlement.KindRelease, settlement.Release{Job: job, Amount: h.Remaining, Reason: reason}); err != nil {
		n.log.Error("cannot release hold", "job", job, "err", err)
		return 0
	}
	return h.Remaining
}

// settle pays what a finished job owes and records what it says about the
// providers: a countersigned receipt per paid run, the unspent hold back to
// the agent, and reputation evidence for every provider involved — all in
// one ledger append (one fsync on the job's path).
func (r *requester) settle(j *reqJob, o *market.Outcome) {
	n := r.n
	ctx, cancel := context.WithTimeout(n.ctx, time.Duration(n.cfg.Settlement.ReceiptTimeout))
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
			wg.Add(1)
			go func() {
				defer wg.Done()
				sr, err := r.exchangeReceipt(ctx, j, rr)
				results[i] = paid{rr, sr, err}
			}()
		}
		wg.Wait()
		var receipts []settlement.Draft
		for _, p := range results {
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
			record(p.rr.Provider, reputation.Success, cid, b)
			if !p.rr.Result.StartHeld {
				record(p.rr.Provider, reputation.MissedStart, cid+"#start", nil)
			}
		}
		drafts = append(receipts, drafts...) // receipts first: outcomes rest on them
		for _, l := range o.Losers {
			record(l.Provider, reputation.WrongResult, "job:"+j.id+":"+l.Provider, nil)
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
		if h, ok := n.ledger.Hold(j.id); ok && !h.Closed {
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
		if _, err := n.ledger.AppendAll(ctx, drafts...); err != nil {
			n.log.Error("cannot record the job's settlement", "job", j.id, "err", err)
			st.Error = "the ledger refused the settlement: " + err.Error()
			st.Paid, st.Released, st.Receipts = 0, 0, []string{}
		}
	}
	for _, e := range evs {
		n.rep.Record(e.peer, cap, e.oc, e.id)
		if e.receipt != nil {
			n.rep.Attest(n.ctx, e.peer, cap, e.oc, e.id, e.receipt)
		}
	}
	j.mu.Lock()
	j.view.Settlement = st
	j.mu.Unlock()
}

// exchangeReceipt signs a receipt for one paid run and has its provider
// countersign it; the caller appends it.
func (r *requester) exchangeReceipt(ctx context.Context, j *reqJob, rr market.ReplicaResult) (settlement.SignedReceipt, error) {
	n := r.n
	_, head := n.ledger.Head()
	rc := settlement.Receipt{
		Job: rr.Result.Job, Attempt: rr.Attempt, Requester: n.ID(), Provider: rr.Provider,
		Capability: string(j.spec.Runtime), Price: rr.Price, Result: canon.DocCID(rr.Env).String(),
		Outcome: string(rr.Result.Status), RequesterHead: head, Created: n.now().UnixMilli(),
	}
	sr, err := settlement.SignReceipt(n.signer, rc)
	if err != nil {
		return settlement.SignedReceipt{}, err
	}
	backoff := 50 * time.Millisecond
	for {
		reply, err := n.sendReceiptMsg(ctx, rr.Provider, receiptMsg{Kind: "receipt", Receipt: &sr})
		if err == nil && reply.Error == "" && reply.Receipt != nil {
			got, err := settlement.OpenReceipt(n.verifier, *reply.Receipt)
			if err != nil || got != rc {
				n.drops.Add("receipt/bad_countersignature")
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

func (n *Node) sendReceiptMsg(ctx context.Context, to string, m receiptMsg) (receiptMsg, error) {
	pid, err := wire.DecodePeer(to)
	if err != nil {
		return receiptMsg{}, err
	}
	st, err := n.host.NewStream(ctx, pid, ProtoReceipt)
	if err != nil {
		return receiptMsg{}, err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wire.WriteFrame(st, canon.MustMarshal(m)); err != nil {
		st.Reset()
		return receiptMsg{}, err
	}
	st.CloseWrite()
	b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxReceiptFrame)
	if err != nil {
		st.Reset()
		return receiptMsg{}, err
	}
	var reply receiptMsg
	if err := canon.Unmarshal(b, &reply); err != nil {
		return receiptMsg{}, err
	}
	return reply, nil
}

// handleReceipt countersigns receipts for runs this node delivered, and
// records settlements its creditors send.
func (n *Node) handleReceipt(st network.Stream) {
	defer st.Close()
	b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxReceiptFrame)
	if err != nil {
		n.drops.Add("receipt/unreadable")
		st.Reset()
		return
	}
	reply := func(m receiptMsg) { wire.WriteFrame(st, canon.MustMarshal(m)) }
	refuse := func(drop string, err error) {
		n.drops.Add(drop)
		reply(receiptMsg{Error: err.Error()})
	}
	var m receiptMsg
	if err := canon.Unmarshal(b, &m); err != nil {
		refuse("receipt/malformed", err)
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	st.SetDeadline(time.Now().Add(10 * time.Second)) // the answer waits for a synced append
	switch {
	case m.Kind == "receipt" && m.Receipt != nil:
		out, err := n.provider.Countersign(ctx, *m.Receipt)
		if err != nil {
			refuse("receipt/rejected", err)
			return
		}
		reply(receiptMsg{Kind: "receipt", Receipt: &out})
	case m.Kind == "settle" && m.Settle != nil:
		s, err := settlement.OpenSettle(n.verifier, *m.Settle)
		if err != nil {
			refuse("settle/bad_signature", err)
			return
		}
		if s.Debtor != n.ID() {
			refuse("settle/not_party", fmt.Errorf("settlement names %s as debtor", wire.ShortID(s.Debtor)))
			return
		}
		if _, err := n.ledger.Append(ctx, settlement.KindSettle, *m.Settle); err != nil && !errors.Is(err, settlement.ErrDuplicate) {
			refuse("settle/rejected", err)
			return
		}
		reply(receiptMsg{Kind: "settle"})
	default:
		refuse("receipt/malformed", errors.New("want a receipt or a settlement"))
	}
}

func unmarshalCanon(b []byte, v any) error { return canon.Unmarshal(b, v) }

func canonDocCID(v any) string { return canon.DocCID(canon.MustMarshal(v)).String() }

func canonBytes(v any) []byte { return canon.MustMarshal(v) }
