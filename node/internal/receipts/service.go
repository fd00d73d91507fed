package receipts

import (
	"context"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// Reputation is where a settlement's outcome goes: recorded first-hand
// and attested to others.
type Reputation interface {
	Record(peer, capability string, o reputation.Outcome, evidence string)
	Attest(ctx context.Context, subject, capability string, o reputation.Outcome, evidence string, receipt []byte)
}

// Deps is what the receipts service needs of the node.
type Deps struct {
	Host     host.Host // sends settlements to debtors
	Signer   canon.Signer
	Verifier canon.Verifier
	Drops    *wire.Drops
	Log      *slog.Logger
	Now      func() time.Time
	Tasks    *wire.Group // runs the sends to debtors; Stop ends them
	Ledger   *settlement.Ledger
	Rep      Reputation
	// Countersign is the provider's: it countersigns a receipt for a run
	// this node delivered, or says why not.
	Countersign func(ctx context.Context, sr settlement.SignedReceipt) (settlement.SignedReceipt, error)
	// OperatorOnly refuses a caller that is not the node's operator.
	OperatorOnly func(ctx context.Context) error
	// LedgerError turns what the ledger refuses into the API's errors.
	LedgerError func(err error, what, apiField string) error
	// Entry is how the API shows a ledger entry.
	Entry func(settlement.Entry) api.LedgerEntry
}

// Service is the receipts service.
type Service struct{ d Deps }

// New returns the receipts service.
func New(d Deps) *Service { return &Service{d: d} }
