package api

import "github.com/hayek-market/hayek/internal/units"

// Placement says where a job may run. It is the requester's own rule:
// providers never see it, and it is checked before any auction.
type Placement struct {
	// Local keeps the job on this node's own provider: nothing leaves the
	// node.
	Local bool `json:"local,omitempty"`
	// Allow, when set, is the only providers (peer IDs) that may be
	// invited or awarded the job; Deny is providers that never are.
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
	// MinReputation raises the job's min_reputation: providers whose lower
	// credible bound is below it are never invited.
	MinReputation float64 `json:"min_reputation,omitempty"`
}

// AgentPolicy is what the operator lets an agent's jobs do, set with
// PUT /v1/agents/{name}/policy and recorded as an agent_policy governance
// entry. It is merged with each job's own placement: the stricter rule
// wins (allow lists intersect, deny lists add up, the higher minimum
// reputation holds). Zero values mean no rule.
type AgentPolicy struct {
	Placement
	// MaxPrice is the most a job may offer per run (its max_price).
	MaxPrice int64 `json:"max_price,omitempty"`
	// Capabilities, when set, is the runtimes and capabilities the agent's
	// jobs may ask for ("runtime/wasm", "gpu/nvidia/h100").
	Capabilities []string `json:"capabilities,omitempty"`
	// MaxInput is the most input (inputs and stdin) a job may send to
	// another node; local jobs send none.
	MaxInput units.Size `json:"max_input,omitempty"`
}

// Empty reports whether the policy has no rule.
func (p AgentPolicy) Empty() bool {
	return !p.Local && len(p.Allow) == 0 && len(p.Deny) == 0 && p.MinReputation == 0 &&
		p.MaxPrice == 0 && len(p.Capabilities) == 0 && p.MaxInput == 0
}
