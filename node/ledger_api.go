package node

import (
	"context"
	"io"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/agents"
)

var _ api.Admin = (*Node)(nil)

// The ledger's part of api.Admin. The views are node/internal/ledgerview's
// (n.views, wired in newServices); the operator check lives here, at the
// API boundary, so that the views stay plain reads. SettleDebt, the one
// write, is the receipts service's (node/internal/receipts), beside the
// receiving side of /hayek/receipt/1.0.0 it sends the settlement on.

// Ledger implements api.Admin.
func (n *Node) Ledger(ctx context.Context, f api.LedgerFilter) ([]api.LedgerEntry, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return nil, err
	}
	return n.views.Entries(ctx, f)
}

// LedgerBalance implements api.Admin.
func (n *Node) LedgerBalance(ctx context.Context) (api.Balance, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return api.Balance{}, err
	}
	return n.views.Balance(), nil
}

// VerifyLedger implements api.Admin.
func (n *Node) VerifyLedger(ctx context.Context, deep bool) (api.VerifyReport, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return api.VerifyReport{}, err
	}
	return n.views.Verify(ctx, deep)
}

// ExportLedger implements api.Admin.
func (n *Node) ExportLedger(ctx context.Context, w io.Writer) error {
	if err := agents.OperatorOnly(ctx); err != nil {
		return err
	}
	return n.views.Export(ctx, w)
}

// SettleDebt implements api.Admin: the receipts service signs the
// settlement as this node, appends it and sends it to the debtor.
func (n *Node) SettleDebt(ctx context.Context, s api.Settle) (api.LedgerEntry, error) {
	return n.receipts.SettleDebt(ctx, s)
}
