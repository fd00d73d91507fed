package node

import (
	"context"
	"time"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/agents"
	"github.com/hayek-market/hayek/node/internal/ledgerview"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// The node owns SettleDebt, the one ledger write of the operator's ledger
// API: it signs as this node, appends, records and attests reputation and
// sends the debtor the settlement over /hayek/receipt/1.0.0, whose
// receiving side (handleReceipt, settle.go) is the node's too. It moves
// with that protocol if a service comes to own it.

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

	return ledgerview.Entry(e), nil
}
