package receipts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/settlement"
)

// answerWithin bounds how long an answer may take: it waits for a synced
// append.
const answerWithin = 10 * time.Second

// Handler serves /hayek/receipt/1.0.0: it countersigns receipts for runs
// this node delivered, and records settlements its creditors send, until
// ctx ends.
func (s *Service) Handler(ctx context.Context) network.StreamHandler {
	return func(st network.Stream) { s.handle(ctx, st) }
}

func (s *Service) handle(ctx context.Context, st network.Stream) {
	defer st.Close()
	b, ok := wire.Inbox{Drops: s.d.Drops}.ReadFrame(st, wire.MaxReceiptFrame, "receipt")
	if !ok {
		return
	}
	reply := func(m wire.ReceiptMsg) { wire.WriteFrame(st, canon.MustMarshal(m)) }
	refuse := func(drop string, err error) {
		s.d.Drops.Add(drop)
		reply(wire.ReceiptMsg{Error: err.Error()})
	}
	var m wire.ReceiptMsg
	if err := canon.Unmarshal(b, &m); err != nil {
		refuse("receipt/malformed", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, answerWithin)
	defer cancel()
	st.SetDeadline(time.Now().Add(answerWithin))
	switch {
	case m.Kind == "receipt" && m.Receipt != nil:
		out, err := s.d.Countersign(ctx, *m.Receipt)
		if err != nil {
			refuse("receipt/rejected", err)
			return
		}
		reply(wire.ReceiptMsg{Kind: "receipt", Receipt: &out})
	case m.Kind == "settle" && m.Settle != nil:
		ss, err := settlement.OpenSettle(s.d.Verifier, *m.Settle)
		if err != nil {
			refuse("settle/bad_signature", err)
			return
		}
		if ss.Debtor != s.d.Signer.ID() {
			refuse("settle/not_party", fmt.Errorf("settlement names %s as debtor", wire.ShortID(ss.Debtor)))
			return
		}
		if _, err := s.d.Ledger.Append(ctx, settlement.KindSettle, *m.Settle); err != nil && !errors.Is(err, settlement.ErrDuplicate) {
			refuse("settle/rejected", err)
			return
		}
		reply(wire.ReceiptMsg{Kind: "settle"})
	default:
		refuse("receipt/malformed", errors.New("want a receipt or a settlement"))
	}
}
