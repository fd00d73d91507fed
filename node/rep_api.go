package node

import (
	"context"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/agents"
	"github.com/hayek-market/hayek/node/internal/evidence"
)

// ReputationTopic carries signed attestations: batches of first-hand
// evidence, each positive report carrying its countersigned receipt.
const ReputationTopic = evidence.Topic

// KindAttestation is the envelope kind of attestations.
const KindAttestation = evidence.KindAttestation

// Reputation implements api.Admin: the evidence service's book.
func (n *Node) Reputation(ctx context.Context, p string) ([]api.RepRow, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return nil, err
	}
	return n.rep.Rows(p), nil
}
