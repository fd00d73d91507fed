package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node/api"
)

func newAgentPolicyCmd(g *globals) *cobra.Command {
	var (
		place    placementFlags
		maxPrice int64
		caps     []string
		maxInput units.Size
		asJSON   bool
	)
	c := &cobra.Command{
		Use:   "policy NAME [flags]",
		Short: "Set where an agent's jobs may run and what they may use",
		Long: `Set an agent's placement and data policy, replacing the one it had (no
flags clear it). Every job of the agent is checked against it before any
hold or auction, together with the job's own placement — the stricter rule
wins — and a job it forbids is refused naming the rule (policy.capabilities,
policy.max_price, ...). Providers outside the allow list, on the deny list
or below the minimum reputation are never invited.

The change is a governance entry in the ledger (hayek ledger --kind
governance shows who changed what, when).`,
		Example: `  hayek agent policy crawler --deny 12D3KooW... --min-rep 0.6
  hayek agent policy crawler --cap runtime/wasm --max-price 200 --max-input 10MiB
  hayek agent policy crawler --placement local
  hayek agent policy crawler            # clear it`,
		Args:              nameArgs(1, "one agent NAME"),
		ValidArgsFunction: completeAgents(g),
		RunE: func(c *cobra.Command, args []string) error {
			try := "\nTry: hayek agent policy NAME [--placement local] [--allow PEER] [--deny PEER] [--min-rep X] [--cap C] [--max-price N] [--max-input SIZE]"
			pl, err := place.value(try)
			if err != nil {
				return err
			}
			if maxPrice < 0 {
				return usageErrorf("--max-price must be ≥ 0 (0: no limit)%s", try)
			}
			p := api.AgentPolicy{Placement: pl, MaxPrice: maxPrice, Capabilities: caps, MaxInput: maxInput}
			a, err := ask(c, g, func(cl *api.Client, ctx context.Context) (api.Agent, error) {
				return cl.SetAgentPolicy(ctx, args[0], p)
			})
			if err != nil {
				return agentError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, a)
			}
			if a.Policy == nil {
				_, err = fmt.Fprintf(g.Stdout, "agent %s: policy cleared (recorded in the ledger)\n", a.Name)
				return err
			}
			_, err = fmt.Fprintf(g.Stdout, "agent %s: policy set (recorded in the ledger): %s\n", a.Name, policyLine(*a.Policy))
			return err
		},
	}
	fl := c.Flags()
	addPlacementFlags(fl, &place, "the agent's jobs")
	fl.Int64Var(&maxPrice, "max-price", 0, "the most a job of the agent may offer per run (0: no limit beyond --max-job-price)")
	fl.StringArrayVar(&caps, "cap", nil, "a runtime or capability the agent's jobs may use, e.g. runtime/wasm (repeatable; none: any)")
	fl.Var(&maxInput, "max-input", "the most input a job may send to another node, e.g. 10MiB (0: no limit)")
	fl.BoolVar(&asJSON, "json", false, "print the agent as JSON")
	return c
}

// policyLine is a policy in one line.
func policyLine(p api.AgentPolicy) string {
	s := ""
	add := func(f string, a ...any) {
		if s != "" {
			s += "; "
		}
		s += fmt.Sprintf(f, a...)
	}
	if p.Local {
		add("local only")
	}
	if len(p.Allow) > 0 {
		add("allow %v", p.Allow)
	}
	if len(p.Deny) > 0 {
		add("deny %v", p.Deny)
	}
	if p.MinReputation > 0 {
		add("min reputation %g", p.MinReputation)
	}
	if p.MaxPrice > 0 {
		add("max price %d", p.MaxPrice)
	}
	if len(p.Capabilities) > 0 {
		add("capabilities %v", p.Capabilities)
	}
	if p.MaxInput > 0 {
		add("max input %s", p.MaxInput)
	}
	return s
}
