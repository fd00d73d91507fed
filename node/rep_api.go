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

// Reputation implements api.Admin.
func (n *Node) Reputation(ctx context.Context, p string) ([]api.RepRow, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return nil, err
	}
	n.rep.FlushAll()
	var out []api.RepRow
	for _, r := range n.rep.Book().Snapshot() {
		if p != "" && r.Peer != p {
			continue
		}
		out = append(out, api.RepRow{Peer: r.Peer, Capability: r.Capability, Alpha: r.Alpha, Beta: r.Beta, Mean: r.Mean,
			LowerBound: r.LowerBound, Evidence: r.Evidence, FirstHand: r.FirstHand, ThirdParty: r.ThirdParty})
	}
	return out, nil
}
