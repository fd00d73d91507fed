package node

import (
	"context"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/agents"
	"github.com/hayek-market/hayek/node/internal/requester"
)

// The api.Admin calls on agents, delegated to the agents service
// (node/internal/agents); approval is the requester's.

// Authenticate implements api.Admin.
func (n *Node) Authenticate(ctx context.Context, token string) (api.Caller, error) {
	return n.agents.Authenticate(ctx, token)
}

// CreateAgent implements api.Admin.
func (n *Node) CreateAgent(ctx context.Context, req api.AgentCreate) (api.AgentToken, error) {
	return n.agents.CreateAgent(ctx, req)
}

// Agents implements api.Admin.
func (n *Node) Agents(ctx context.Context) ([]api.Agent, error) { return n.agents.Agents(ctx) }

// Agent implements api.Admin; "me" names the caller.
func (n *Node) Agent(ctx context.Context, name string) (api.Agent, error) {
	return n.agents.Agent(ctx, name)
}

// FundAgent implements api.Admin.
func (n *Node) FundAgent(ctx context.Context, name string, f api.Fund) (api.Agent, error) {
	return n.agents.FundAgent(ctx, name, f)
}

// RevokeAgent implements api.Admin: the token stops working, the agent's
// unfinished jobs are cancelled and their holds released.
func (n *Node) RevokeAgent(ctx context.Context, name string) (api.Agent, error) {
	return n.agents.RevokeAgent(ctx, name)
}

// SetAgentPolicy implements api.PolicyAdmin.
func (n *Node) SetAgentPolicy(ctx context.Context, name string, p api.AgentPolicy) (api.Agent, error) {
	return n.agents.SetAgentPolicy(ctx, name, p)
}

// Approve implements api.Admin.
func (n *Node) Approve(ctx context.Context, id string, d api.Decision) (api.Job, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return api.Job{}, err
	}
	return n.requester.Decide(ctx, id, requester.Approve, d.Reason)
}

// Reject implements api.Admin.
func (n *Node) Reject(ctx context.Context, id string, d api.Decision) (api.Job, error) {
	if err := agents.OperatorOnly(ctx); err != nil {
		return api.Job{}, err
	}
	return n.requester.Decide(ctx, id, requester.Reject, d.Reason)
}

// place is the agents service's placement as the requester takes it.
func (n *Node) place(agent string, spec *market.JobSpec, job *api.Placement) (requester.Placement, error) {
	pl, err := n.agents.Place(agent, spec, job)
	return requester.Placement{Local: pl.Local, Allow: pl.Allow, Deny: pl.Deny}, err
}

// ownCandidate is this node's own offer, when it sells.
func (n *Node) ownCandidate() (market.Candidate, bool) {
	if !n.cfg.Provider.Sell {
		return market.Candidate{}, false
	}
	o, ok := n.offers.Offer()
	if !ok || o.Withdrawn {
		return market.Candidate{}, false
	}
	return market.Candidate{Peer: n.ID(), Offer: o}, true
}
