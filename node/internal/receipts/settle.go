package receipts

import (
	"context"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// SettleDebt implements api.Admin's SettleDebt: this node, as creditor,
// acknowledges a payment received outside the ledger; the debtor is sent
// the signed settlement so both ledgers record it.
func (s *Service) SettleDebt(ctx context.Context, req api.Settle) (api.LedgerEntry, error) {
	if err := s.d.OperatorOnly(ctx); err != nil {
		return api.LedgerEntry{}, err
	}
	if req.Amount <= 0 {
		return api.LedgerEntry{}, api.Errorf(api.CodeBadRequest, "amount must be > 0")
	}
	if _, err := wire.DecodePeer(req.Peer); err != nil {
		return api.LedgerEntry{}, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	if owed := s.d.Ledger.Balance(req.Peer); owed < req.Amount {
		return api.LedgerEntry{}, api.Errorf(api.CodeBadRequest, "%s owes this node %d; cannot settle %d", wire.ShortID(req.Peer), max(owed, 0), req.Amount)
	}
	ss, err := settlement.SignSettle(s.d.Signer, settlement.Settle{Debtor: req.Peer, Creditor: s.d.Signer.ID(), Amount: req.Amount,
		Reference: req.Reference, Created: s.d.Now().UnixMilli()})
	if err != nil {
		return api.LedgerEntry{}, err
	}
	b := canon.MustMarshal(ss)
	evidence := canon.DocCID(b).String()
	es, err := s.d.Ledger.AppendAll(ctx,
		settlement.Draft{Kind: settlement.KindSettle, Body: ss},
		settlement.Draft{Kind: settlement.KindOutcome, Body: settlement.Outcome{Peer: req.Peer,
			Capability: reputation.CapRequester, Outcome: string(reputation.Settled), Receipt: evidence}})
	if err != nil {
		return api.LedgerEntry{}, s.d.LedgerError(err, "settle with "+wire.ShortID(req.Peer), "amount")
	}
	// A debtor that settles earns standing as a requester; the signed
	// settlement is the evidence.
	s.d.Rep.Record(req.Peer, reputation.CapRequester, reputation.Settled, evidence)
	s.d.Rep.Attest(ctx, req.Peer, reputation.CapRequester, reputation.Settled, evidence, b)
	s.tellDebtor(req.Peer, ss)
	return s.d.Entry(es[0]), nil
}

// tellDebtor sends the debtor the signed settlement, which it records too.
// Best effort: the creditor's ledger is its word either way.
func (s *Service) tellDebtor(debtor string, ss settlement.SignedSettle) {
	s.d.Tasks.GoCtx(func(ctx context.Context) {
		sctx, cancel := context.WithTimeout(ctx, answerWithin)
		defer cancel()
		if reply, err := wire.SendReceipt(sctx, s.d.Host, debtor, wire.ReceiptMsg{Kind: "settle", Settle: &ss}); err != nil || reply.Error != "" {
			s.d.Log.Warn("debtor did not record the settlement", "peer", wire.ShortID(debtor), "err", err, "reply", reply.Error)
		}
	})
}
