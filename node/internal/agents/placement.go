package agents

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/settlement"
)

// Placement and data policy: a job's own placement and its agent's policy
// (set by the operator, recorded as agent_policy governance entries) are
// merged into one rule set before any hold or auction. A job either rule
// forbids is refused with CodePolicy naming the rule; the rest reach the
// requester as a Placement (the node hands it on as a
// requester.Placement), which keeps every provider it does not permit out
// of the auction.

// Placement is where a job may run: what the requester's Placement is
// built from.
type Placement struct {
	Local bool     // only this node's own provider
	Allow []string // only these providers may be invited or awarded
	Deny  []string // never these
}

// SetAgentPolicy implements api.PolicyAdmin.
func (s *Service) SetAgentPolicy(ctx context.Context, name string, p api.AgentPolicy) (api.Agent, error) {
	if err := OperatorOnly(ctx); err != nil {
		return api.Agent{}, err
	}
	if err := api.CheckPolicy(p); err != nil {
		return api.Agent{}, err
	}
	sp, err := ledgerPolicy(p)
	if err != nil {
		return api.Agent{}, err
	}
	a, ok := s.d.Ledger.Agent(name)
	if !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %s (hayek agent list shows them)", name)
	}
	if a.Revoked {
		return api.Agent{}, api.Errorf(api.CodeConflict, "agent %s is revoked; its policy no longer matters", name)
	}
	detail := "set by the operator: " + describePolicy(p)
	if p.Empty() {
		detail = "cleared by the operator"
	}
	g := settlement.Governance{Action: settlement.ActionAgentPolicy, Agent: name, Policy: &sp, Detail: detail}
	if _, err := s.d.Ledger.Append(ctx, settlement.KindGovernance, g); err != nil {
		return api.Agent{}, fmt.Errorf("node: record the policy of %s: %w", name, err)
	}
	return s.Agent(ctx, name)
}

// ledgerPolicy is p as the ledger records it, peer IDs in canonical form.
func ledgerPolicy(p api.AgentPolicy) (settlement.Policy, error) {
	allow, err := peerList("policy.allow", p.Allow)
	if err != nil {
		return settlement.Policy{}, err
	}
	deny, err := peerList("policy.deny", p.Deny)
	if err != nil {
		return settlement.Policy{}, err
	}
	return settlement.Policy{Local: p.Local, Allow: allow, Deny: deny,
		MinReputationPermill: int64(math.Ceil(p.MinReputation * 1000)), MaxPrice: p.MaxPrice,
		Capabilities: slices.Clone(p.Capabilities), MaxInputBytes: int64(p.MaxInput)}, nil
}

// APIPolicy is the ledger's policy as the API shows it; nil for none.
func APIPolicy(p *settlement.Policy) *api.AgentPolicy {
	if p == nil {
		return nil
	}
	v := api.AgentPolicy{Placement: api.Placement{Local: p.Local, Allow: p.Allow, Deny: p.Deny,
		MinReputation: float64(p.MinReputationPermill) / 1000}, MaxPrice: p.MaxPrice,
		Capabilities: p.Capabilities, MaxInput: units.Size(p.MaxInputBytes)}
	if v.Empty() {
		return nil
	}
	return &v
}

func describePolicy(p api.AgentPolicy) string {
	var parts []string
	if p.Local {
		parts = append(parts, "local")
	}
	if len(p.Allow) > 0 {
		parts = append(parts, "allow "+strings.Join(p.Allow, ","))
	}
	if len(p.Deny) > 0 {
		parts = append(parts, "deny "+strings.Join(p.Deny, ","))
	}
	if p.MinReputation > 0 {
		parts = append(parts, fmt.Sprintf("min_reputation %g", p.MinReputation))
	}
	if p.MaxPrice > 0 {
		parts = append(parts, fmt.Sprintf("max_price %d", p.MaxPrice))
	}
	if len(p.Capabilities) > 0 {
		parts = append(parts, "capabilities "+strings.Join(p.Capabilities, ","))
	}
	if p.MaxInput > 0 {
		parts = append(parts, "max_input "+p.MaxInput.String())
	}
	return strings.Join(parts, "; ")
}

func peerList(field string, ids []string) ([]string, error) {
	var out []string
	for i, s := range ids {
		id, err := wire.DecodePeer(s)
		if err != nil {
			msg := fmt.Sprintf("%q is not a peer ID: %v", s, err)
			return nil, &api.Error{Code: api.CodeInvalidSpec, Message: fmt.Sprintf("%s[%d]: %s", field, i, msg),
				Fields: []api.FieldError{{Field: fmt.Sprintf("%s[%d]", field, i), Message: msg}}}
		}
		out = append(out, id.String())
	}
	return out, nil
}

// forbidden is the refusal of a job by rule (a field such as
// "placement.local" or "policy.capabilities").
func forbidden(rule, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	return &api.Error{Code: api.CodePolicy, Message: rule + ": " + msg, Fields: []api.FieldError{{Field: rule, Message: msg}}}
}

// place merges the job's placement with its agent's policy, refuses what
// they forbid, raises spec's minimum reputation to theirs, and returns
// where the job may run.
func (s *Service) Place(agent string, spec *market.JobSpec, job *api.Placement) (Placement, error) {
	var jp api.Placement
	if job != nil {
		jp = *job
	}
	if err := api.CheckPlacement("placement", jp); err != nil {
		return Placement{}, err
	}
	jAllow, err := peerList("placement.allow", jp.Allow)
	if err != nil {
		return Placement{}, err
	}
	jDeny, err := peerList("placement.deny", jp.Deny)
	if err != nil {
		return Placement{}, err
	}
	var pol settlement.Policy
	if a, ok := s.d.Ledger.Agent(agent); ok && a.Policy != nil {
		pol = *a.Policy
	}
	who := fmt.Sprintf("agent %s's policy", agent)
	if pol.MaxPrice > 0 && spec.MaxPrice > pol.MaxPrice {
		return Placement{}, forbidden("policy.max_price", "max price %d is above the %d per run %s allows", spec.MaxPrice, pol.MaxPrice, who)
	}
	if len(pol.Capabilities) > 0 {
		for _, c := range spec.AllCapabilities() {
			if !slices.Contains(pol.Capabilities, string(c)) {
				return Placement{}, forbidden("policy.capabilities", "%s does not allow %s (it allows %s); the operator changes it with hayek agent policy %s --cap ...",
					who, c, strings.Join(pol.Capabilities, ", "), agent)
			}
		}
	}
	local := jp.Local || pol.Local
	if pol.MaxInputBytes > 0 && !local && spec.InputBytes() > pol.MaxInputBytes {
		return Placement{}, forbidden("policy.max_input", "the job's inputs total %s, more than the %s %s lets leave this node",
			units.Size(spec.InputBytes()), units.Size(pol.MaxInputBytes), who)
	}
	deny := union(jDeny, pol.Deny)
	if local {
		rule, whose := "placement.local", "the job's placement"
		if pol.Local {
			rule, whose = "policy.local", who
		}
		if err := s.canRunLocally(spec, deny, jAllow, pol.Allow); err != nil {
			return Placement{}, forbidden(rule, "%s keeps the job on this node's own provider, but %v", whose, err)
		}
		spec.MinReputation = max(spec.MinReputation, jp.MinReputation, float64(pol.MinReputationPermill)/1000)
		return Placement{Local: true}, nil
	}
	pl := Placement{Allow: jAllow, Deny: deny}
	if len(pol.Allow) > 0 {
		if len(jAllow) == 0 {
			pl.Allow = pol.Allow
		} else {
			pl.Allow = slices.DeleteFunc(slices.Clone(jAllow), func(p string) bool { return !slices.Contains(pol.Allow, p) })
			if len(pl.Allow) == 0 {
				return Placement{}, forbidden("policy.allow", "none of the job's allowed providers is on %s allow list", who)
			}
		}
	}
	if len(pl.Allow) > 0 && !slices.ContainsFunc(pl.Allow, func(p string) bool { return !slices.Contains(pl.Deny, p) }) {
		return Placement{}, forbidden("placement.deny", "every allowed provider is also denied: nobody may run the job")
	}
	spec.MinReputation = max(spec.MinReputation, jp.MinReputation, float64(pol.MinReputationPermill)/1000)
	return pl, nil
}

// canRunLocally says why this node cannot run spec on its own provider,
// or nil.
func (s *Service) canRunLocally(spec *market.JobSpec, deny []string, allows ...[]string) error {
	self := s.d.Self
	for _, allow := range allows {
		if len(allow) > 0 && !slices.Contains(allow, self) {
			return fmt.Errorf("this node is not on the allow list")
		}
	}
	if slices.Contains(deny, self) {
		return fmt.Errorf("this node is on the deny list")
	}
	if spec.Verify != "" && spec.Verify != market.VerifyNone {
		return fmt.Errorf("verify %s needs other providers; use verify none", spec.Verify)
	}
	c, ok := s.d.Own()
	if !ok {
		return fmt.Errorf("this node sells nothing (provider.sell is off, or it is stopping)")
	}
	for _, k := range spec.AllCapabilities() {
		if !c.Offer.Sells(k) {
			return fmt.Errorf("this node does not sell %s", k)
		}
	}
	if reason, detail := c.Offer.Fits(spec.Needs()); reason != "" {
		return fmt.Errorf("this node's provider cannot run it: %s (%s)", reason, detail)
	}
	return nil
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, p := range b {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
