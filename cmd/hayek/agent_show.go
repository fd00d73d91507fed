package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newAgentShowCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an agent's budget left, holds, spending and limits",
		Long: `Show an agent's account. NAME "me" is the caller: an agent (with its token)
reads its own account this way, the operator its own.`,
		Example:           "  hayek agent show crawler\n  HAYEK_TOKEN=$T hayek agent show me --json | jq .budget_left",
		Args:              nameArgs(1, "one agent NAME (or me)"),
		ValidArgsFunction: completeAgents(g),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := ask(c, g, func(cl *api.Client, ctx context.Context) (api.Agent, error) { return cl.Agent(ctx, args[0]) })
			if err != nil {
				return agentError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, a)
			}
			return printAgent(g.Stdout, a)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the agent as JSON")
	return c
}
