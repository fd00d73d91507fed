package agents

import (
	"context"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/settlement"
)

// Deps is what the agents service needs of the node.
type Deps struct {
	Ledger *settlement.Ledger // the registry: every agent, budget and policy is a ledger entry
	Now    func() time.Time
	Self   string // this node's peer ID, for placements kept on this node
	// Own is this node's own offer, when it sells.
	Own func() (market.Candidate, bool)
	// SpecError turns market's validation errors into the API's invalid_spec.
	SpecError func(error) error
	// CancelAgentJobs cancels a revoked agent's unfinished jobs (the requester's).
	CancelAgentJobs func(ctx context.Context, agent, reason string)
}

// Service is the agents service: the api.Admin calls on agents and their
// policies, and the admission and placement of each submitted job.
type Service struct {
	d         Deps
	rates     agentRates
	admission admission
}

// New returns the agents service.
func New(d Deps) *Service {
	return &Service{d: d, rates: agentRates{seen: map[string][]time.Time{}}}
}
