package node

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

// LedgerDir is the ledger's directory in the node's home.
const LedgerDir = "ledger"

// openStores opens the ledger, releases the holds a previous run left
// open, and rebuilds reputation from the ledger.
func (n *Node) openStores(ctx context.Context) error {
	if err := n.openLedger(ctx); err != nil {
		return err
	}
	if err := n.releaseOrphans(ctx); err != nil {
		return fmt.Errorf("node: release orphaned holds: %w", err)
	}
	var err error
	if n.rep, err = n.newEvidence(); err != nil {
		return err
	}
	if err := n.rep.Rebuild(ctx); err != nil {
		return err
	}
	if act := n.cfg.Misbehave.Active(); len(act) > 0 {
		n.log.Warn("THIS NODE IS CONFIGURED TO MISBEHAVE AS A PROVIDER (testing only)", "misbehave", act)
	}
	return nil
}

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
