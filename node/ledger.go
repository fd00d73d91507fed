package node

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hayek-market/hayek/node/internal/agents"
	"github.com/hayek-market/hayek/node/internal/requester"
	"github.com/hayek-market/hayek/settlement"
)

// LedgerDir is the ledger's directory in the node's home.
const LedgerDir = "ledger"

// openStores opens the ledger, releases the holds a previous run left
// open (the requester's rule), and rebuilds reputation from the ledger.
func (n *Node) openStores(ctx context.Context) error {
	if err := n.openLedger(ctx); err != nil {
		return err
	}
	if err := requester.ReleaseOrphans(ctx, n.ledger, n.log); err != nil {
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
// first time (the agents service's rule). A ledger that lost acknowledged
// writes is refused (settlement.IsLostWrites): the error says to run
// hayek ledger recover.
func (n *Node) openLedger(ctx context.Context) error {
	l, err := settlement.Open(ctx, filepath.Join(n.home, LedgerDir), settlement.Options{
		Signer: n.signer, Verifier: n.verifier, Now: n.now, Logger: n.log,
	})
	if err != nil {
		return fmt.Errorf("node: ledger: %w", err)
	}
	n.ledger = l
	if err := agents.EnsureOperator(ctx, l, n.cfg.Settlement.OperatorBudget); err != nil {
		return fmt.Errorf("node: ledger: %w", err)
	}
	return nil
}
