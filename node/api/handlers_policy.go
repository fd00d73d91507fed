package api

import (
	"context"
	"fmt"
	"net/http"
)

// PolicyAdmin is implemented by a backend whose agents have placement and
// data policies (the node's does).
type PolicyAdmin interface {
	// SetAgentPolicy replaces an agent's policy (an empty one clears it)
	// and records the change in the ledger. Operator only.
	SetAgentPolicy(ctx context.Context, name string, p AgentPolicy) (Agent, error)
}

func (s *Server) setAgentPolicy(w http.ResponseWriter, r *http.Request) {
	pa, ok := s.b.(PolicyAdmin)
	if !ok {
		s.fail(w, r, Errorf(CodeNotFound, "this node keeps no agent policies"))
		return
	}
	var p AgentPolicy
	if err := decodeBody(w, r, &p, "the policy", false); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := CheckPolicy(p); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := pa.SetAgentPolicy(r.Context(), agentName(r), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, v)
}

// CheckPolicy checks the shape of a policy (peer IDs are the backend's to
// parse), reporting the first bad field as invalid_spec.
func CheckPolicy(p AgentPolicy) error {
	if err := CheckPlacement("policy", p.Placement); err != nil {
		return err
	}
	switch {
	case p.MaxPrice < 0:
		return fieldError("policy.max_price", "must be ≥ 0 (0: no limit)")
	case p.MaxInput < 0:
		return fieldError("policy.max_input", "must be ≥ 0 (0: no limit)")
	case len(p.Capabilities) > 64:
		return fieldError("policy.capabilities", "at most 64")
	}
	return nil
}

// CheckPlacement checks the shape of a placement under the field prefix
// what ("placement" or "policy").
func CheckPlacement(what string, p Placement) error {
	switch {
	case p.MinReputation < 0 || p.MinReputation > 1 || p.MinReputation != p.MinReputation:
		return fieldError(what+".min_reputation", "must be between 0 and 1")
	case len(p.Allow) > 64 || len(p.Deny) > 64:
		return fieldError(what+".allow", "at most 64 peers on each list")
	}
	for i, id := range append(append([]string{}, p.Allow...), p.Deny...) {
		if id == "" {
			f := fmt.Sprintf("%s.allow[%d]", what, i)
			if i >= len(p.Allow) {
				f = fmt.Sprintf("%s.deny[%d]", what, i-len(p.Allow))
			}
			return fieldError(f, "empty peer ID")
		}
	}
	return nil
}

// SetAgentPolicy replaces an agent's policy; an empty policy clears it.
// Operator only.
func (c *Client) SetAgentPolicy(ctx context.Context, name string, p AgentPolicy) (Agent, error) {
	var v Agent
	return v, c.sendJSON(ctx, http.MethodPut, agentPath(name, "/policy"), p, &v)
}
