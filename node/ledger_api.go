package node

import (
	"context"
	"encoding/json"
	"io"
	"sort"
	"time"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/agents"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

var _ api.Admin = (*Node)(nil)

// Ledger implements api.Admin.
func (n *Node) Ledger(ctx context.Context, f api.LedgerFilter) ([]api.LedgerEntry, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	es, err := n.ledger.Entries(ctx, settlement.Filter{Kind: settlement.Kind(f.Kind), Job: f.Job, Peer: f.Peer, After: f.After, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]api.LedgerEntry, 0, len(es))
	for _, e := range es {
		out = append(out, entryView(e))
	}
	return out, nil
}

func entryView(e settlement.Entry) api.LedgerEntry {
	v := api.LedgerEntry{Seq: e.Seq, CID: e.CID(), Prev: e.Prev, Time: time.UnixMilli(e.Time).UTC(), Kind: string(e.Kind)}
	body, err := e.Decode()
	if err == nil {
		body = readableBody(body)
		v.Body, err = json.Marshal(body)
	}
	if err != nil {
		v.Body, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return v
}

// readableBody opens the signed bodies (receipts, settlements) so the JSON
// shows what they say; the signatures stay in the ledger.
func readableBody(b any) any {
	switch x := b.(type) {
	case settlement.SignedReceipt:
		var r settlement.Receipt
		if err := unmarshalCanon(x.Body, &r); err == nil {
			return struct {
				settlement.Receipt
				ProviderHead string `json:"provider_head"`
			}{r, x.ProviderHead}
		}
	case settlement.SignedSettle:
		var s settlement.Settle
		if err := unmarshalCanon(x.Body, &s); err == nil {
			return s
		}
	}
	return b
}

// LedgerBalance implements api.Admin.
func (n *Node) LedgerBalance(ctx context.Context) (api.Balance, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return api.Balance{}, err
	}
	t := n.ledger.Totals()
	seq, head := n.ledger.Head()
	b := api.Balance{Head: head, Seq: seq, Funded: t.Funded, Budgets: t.BudgetsLeft, Held: t.Held, Paid: t.Paid, Earned: t.Earned,
		Agents: []api.Agent{}, Holds: []api.HoldInfo{}, Peers: []api.PeerBalance{}}
	for _, a := range n.ledger.Agents() {
		b.Agents = append(b.Agents, n.agents.View(a))
	}
	for p, v := range n.ledger.Balances() {
		b.Peers = append(b.Peers, api.PeerBalance{Peer: p, Balance: v, CreditLimit: n.rep.CreditLimit(p)})
	}
	sort.Slice(b.Peers, func(i, j int) bool { return b.Peers[i].Peer < b.Peers[j].Peer })
	for _, h := range n.ledger.OpenHolds() {
		b.Holds = append(b.Holds, api.HoldInfo{Job: h.Job, Agent: h.Agent, Amount: h.Amount, Remaining: h.Remaining})
	}
	sort.Slice(b.Holds, func(i, j int) bool { return b.Holds[i].Job < b.Holds[j].Job })
	return b, nil
}

// VerifyLedger implements api.Admin.
func (n *Node) VerifyLedger(ctx context.Context, deep bool) (api.VerifyReport, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return api.VerifyReport{}, err
	}
	rep, err := n.ledger.Verify(ctx, deep)
	out := api.VerifyReport{OK: err == nil, Entries: rep.Entries, Checkpoints: rep.Checkpoints, Receipts: rep.Receipts,
		Settles: rep.Settles, Deep: deep, Seconds: rep.Duration.Seconds(), Node: rep.Node, Head: rep.Head, Seq: rep.Seq,
		Unsealed: rep.Unsealed, Lost: ledgerLosses(rep.Lost)}
	if err != nil {
		out.Error = err.Error()
		if seq, ok := settlement.CorruptSeq(err); ok {
			out.BadSeq = seq
		} else if !settlement.IsCorruption(err) {
			return out, err
		}
	}
	return out, nil
}

// ExportLedger implements api.Admin.
func (n *Node) ExportLedger(ctx context.Context, w io.Writer) error {
	if err := agents.OperatorOnly(ctx); err != nil {
		return err
	}
	return n.ledger.Export(ctx, w)
}

// SettleDebt implements api.Admin: this node, as creditor, acknowledges a
// payment received outside the ledger; the debtor is sent the signed
// settlement so both ledgers record it.
func (n *Node) SettleDebt(ctx context.Context, s api.Settle) (api.LedgerEntry, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return api.LedgerEntry{}, err
	}
	if s.Amount <= 0 {
		return api.LedgerEntry{}, api.Errorf(api.CodeBadRequest, "amount must be > 0")
	}
	if _, err := wire.DecodePeer(s.Peer); err != nil {
		return api.LedgerEntry{}, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	if owed := n.ledger.Balance(s.Peer); owed < s.Amount {
		return api.LedgerEntry{}, api.Errorf(api.CodeBadRequest, "%s owes this node %d; cannot settle %d", wire.ShortID(s.Peer), max(owed, 0), s.Amount)
	}
	ss, err := settlement.SignSettle(n.signer, settlement.Settle{Debtor: s.Peer, Creditor: n.ID(), Amount: s.Amount,
		Reference: s.Reference, Created: n.now().UnixMilli()})
	if err != nil {
		return api.LedgerEntry{}, err
	}
	b := canonBytes(ss)
	es, err := n.ledger.AppendAll(ctx,
		settlement.Draft{Kind: settlement.KindSettle, Body: ss},
		settlement.Draft{Kind: settlement.KindOutcome, Body: settlement.Outcome{Peer: s.Peer,
			Capability: reputation.CapRequester, Outcome: string(reputation.Settled), Receipt: canonDocCID(ss)}})
	if err != nil {
		return api.LedgerEntry{}, agents.LedgerError(err, "settle with "+wire.ShortID(s.Peer), "amount")
	}
	e := es[0]
	// A debtor that settles earns standing as a requester; the signed
	// settlement is the evidence.
	n.rep.Record(s.Peer, reputation.CapRequester, reputation.Settled, canonDocCID(ss))
	n.rep.Attest(ctx, s.Peer, reputation.CapRequester, reputation.Settled, canonDocCID(ss), b)
	// Tell the debtor; it records the same signed settlement. Best effort:
	// our ledger is the creditor's word either way.
	n.tasks.GoCtx(func(ctx context.Context) {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if reply, err := wire.SendReceipt(sctx, n.host, s.Peer, wire.ReceiptMsg{Kind: "settle", Settle: &ss}); err != nil || reply.Error != "" {
			n.log.Warn("debtor did not record the settlement", "peer", wire.ShortID(s.Peer), "err", err, "reply", reply.Error)
		}
	})

	return entryView(e), nil
}

// ledgerLosses is how the API shows the losses a ledger declared.
func ledgerLosses(ls []settlement.LostRange) []api.LedgerLoss {
	var out []api.LedgerLoss
	for _, l := range ls {
		out = append(out, api.LedgerLoss{Seq: l.Seq, Reason: l.Reason, Kept: l.Kept, Want: l.Want, Missing: l.Missing(),
			Reapplied: l.Reapplied, Covered: l.Covered})
	}
	return out
}
