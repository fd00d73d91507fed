package agents

import (
	"slices"
	"testing"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// Place merges a job's placement with its agent's policy: where both set
// a rule, the stricter one wins; what either forbids is refused naming
// the rule.
func TestPlace(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	r.agent(t, api.AgentCreate{Name: "bot"})
	a, b, c := peer(t, 2), peer(t, 3), peer(t, 4)
	for _, c := range []struct {
		name    string
		policy  api.AgentPolicy
		job     *api.Placement
		spec    func(*market.JobSpec)
		want    Placement
		rule    string  // the refused rule, or ""
		minRep  float64 // the spec's minimum reputation after
		specRep float64 // the spec's own minimum reputation
	}{
		{name: "nothing set", want: Placement{}},
		{name: "the policy's allow list alone", policy: api.AgentPolicy{Placement: api.Placement{Allow: []string{a, b}}},
			want: Placement{Allow: []string{a, b}}},
		{name: "allow lists intersect", policy: api.AgentPolicy{Placement: api.Placement{Allow: []string{a, b}}},
			job: &api.Placement{Allow: []string{b, c}}, want: Placement{Allow: []string{b}}},
		{name: "disjoint allow lists", policy: api.AgentPolicy{Placement: api.Placement{Allow: []string{a}}},
			job: &api.Placement{Allow: []string{c}}, rule: "policy.allow"},
		{name: "deny lists add up", policy: api.AgentPolicy{Placement: api.Placement{Deny: []string{a}}},
			job: &api.Placement{Deny: []string{b}}, want: Placement{Deny: []string{b, a}}},
		{name: "everyone allowed is denied", policy: api.AgentPolicy{Placement: api.Placement{Deny: []string{a}}},
			job: &api.Placement{Allow: []string{a}}, rule: "placement.deny"},
		{name: "the policy's minimum reputation is higher", policy: api.AgentPolicy{Placement: api.Placement{MinReputation: 0.8}},
			job: &api.Placement{MinReputation: 0.5}, specRep: 0.3, minRep: 0.8},
		{name: "the job's minimum reputation is higher", policy: api.AgentPolicy{Placement: api.Placement{MinReputation: 0.5}},
			job: &api.Placement{MinReputation: 0.9}, minRep: 0.9},
		{name: "the spec's minimum reputation is higher", policy: api.AgentPolicy{Placement: api.Placement{MinReputation: 0.5}},
			specRep: 0.95, minRep: 0.95},
		{name: "above the policy's max price", policy: api.AgentPolicy{MaxPrice: 50}, rule: "policy.max_price"},
		{name: "within the policy's max price", policy: api.AgentPolicy{MaxPrice: 100}},
		{name: "a capability the policy does not allow", policy: api.AgentPolicy{Capabilities: []string{"gpu/nvidia/h100"}},
			rule: "policy.capabilities"},
		{name: "inputs larger than may leave", policy: api.AgentPolicy{MaxInput: 10},
			spec: func(s *market.JobSpec) {
				s.Inputs = []market.Input{{Name: "in", Blob: market.Blob{CID: s.Module.CID, Size: 11}}}
			}, rule: "policy.max_input"},
		{name: "the policy keeps jobs local, the node sells nothing", policy: api.AgentPolicy{Placement: api.Placement{Local: true}},
			rule: "policy.local"},
		{name: "the job asks to stay local, the node sells nothing", job: &api.Placement{Local: true}, rule: "placement.local"},
		{name: "a bad peer ID", job: &api.Placement{Allow: []string{"not-a-peer"}}, rule: "placement.allow[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := r.s.SetAgentPolicy(ctx, "bot", c.policy); err != nil {
				t.Fatal(err)
			}
			s := spec(100, "")
			s.MinReputation = c.specRep
			if c.spec != nil {
				c.spec(&s)
			}
			got, err := r.s.Place("bot", &s, c.job)
			if c.rule != "" {
				if rule := refusedRule(err); rule != c.rule {
					t.Fatalf("refused %q (%v), want %q", rule, err, c.rule)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Local != c.want.Local || !slices.Equal(got.Allow, c.want.Allow) || !slices.Equal(got.Deny, c.want.Deny) {
				t.Fatalf("placement %+v, want %+v", got, c.want)
			}
			if s.MinReputation != c.minRep {
				t.Fatalf("minimum reputation %g, want %g", s.MinReputation, c.minRep)
			}
		})
	}
}

// A local job runs only where this node's own provider sells what it
// needs, and its own allow and deny lists do not exclude this node.
func TestPlaceLocal(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	r.agent(t, api.AgentCreate{Name: "bot"})
	r.own = &market.Candidate{Peer: r.self, Offer: market.Offer{Provider: r.self,
		Capabilities: []market.Capability{market.RuntimeWasm},
		Limits:       market.Limits{MaxMemoryBytes: 1 << 30, MaxTimeoutMs: 60_000, MaxModuleBytes: 1 << 20, MaxInputBytes: 1 << 20}}}
	for _, c := range []struct {
		name   string
		policy api.AgentPolicy
		job    api.Placement
		verify string
		rule   string
	}{
		{name: "local", job: api.Placement{Local: true}},
		{name: "local by policy", policy: api.AgentPolicy{Placement: api.Placement{Local: true}}},
		{name: "this node is denied", policy: api.AgentPolicy{Placement: api.Placement{Deny: []string{r.self}}},
			job: api.Placement{Local: true}, rule: "placement.local"},
		{name: "this node is not allowed", policy: api.AgentPolicy{Placement: api.Placement{Local: true, Allow: []string{peer(t, 2)}}},
			rule: "policy.local"},
		{name: "replicas need other providers", job: api.Placement{Local: true}, verify: "replicate:2", rule: "placement.local"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := r.s.SetAgentPolicy(ctx, "bot", c.policy); err != nil {
				t.Fatal(err)
			}
			s := spec(100, c.verify)
			got, err := r.s.Place("bot", &s, &c.job)
			if rule := refusedRule(err); rule != c.rule {
				t.Fatalf("refused %q (%v), want %q", rule, err, c.rule)
			}
			if c.rule == "" && !got.Local {
				t.Fatalf("placement %+v, want local", got)
			}
		})
	}
}

// refusedRule is the field an API error names, or "" for no error.
func refusedRule(err error) string {
	if err == nil {
		return ""
	}
	if ae, ok := err.(*api.Error); ok && len(ae.Fields) > 0 {
		return ae.Fields[0].Field
	}
	return "no field: " + err.Error()
}
