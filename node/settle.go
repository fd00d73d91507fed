package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/settlement"
)

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

// receiptHandler serves /hayek/receipt/1.0.0: it countersigns receipts
// for runs this node delivered, and records settlements its creditors
// send, until ctx ends.
func (n *Node) receiptHandler(ctx context.Context) network.StreamHandler {
	return func(st network.Stream) { n.handleReceipt(ctx, st) }
}

func (n *Node) handleReceipt(ctx context.Context, st network.Stream) {
	defer st.Close()
	b, ok := wire.Inbox{Drops: n.drops}.ReadFrame(st, wire.MaxReceiptFrame, "receipt")
	if !ok {
		return
	}
	reply := func(m wire.ReceiptMsg) { wire.WriteFrame(st, canon.MustMarshal(m)) }
	refuse := func(drop string, err error) {
		n.drops.Add(drop)
		reply(wire.ReceiptMsg{Error: err.Error()})
	}
	var m wire.ReceiptMsg
	if err := canon.Unmarshal(b, &m); err != nil {
		refuse("receipt/malformed", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st.SetDeadline(time.Now().Add(10 * time.Second)) // the answer waits for a synced append
	switch {
	case m.Kind == "receipt" && m.Receipt != nil:
		out, err := n.provider.Countersign(ctx, *m.Receipt)
		if err != nil {
			refuse("receipt/rejected", err)
			return
		}
		reply(wire.ReceiptMsg{Kind: "receipt", Receipt: &out})
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
		reply(wire.ReceiptMsg{Kind: "settle"})
	default:
		refuse("receipt/malformed", errors.New("want a receipt or a settlement"))
	}
}

func unmarshalCanon(b []byte, v any) error { return canon.Unmarshal(b, v) }

func canonDocCID(v any) string { return canon.DocCID(canon.MustMarshal(v)).String() }

func canonBytes(v any) []byte { return canon.MustMarshal(v) }
