package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newAgentRevokeCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke an agent's token for good",
		Long: `Revoke an agent: its token stops working at once, its pending jobs are
cancelled and their holds released. The decision is recorded in the ledger
and the account stays there; a new token needs a new agent.`,
		Example:           "  hayek agent revoke crawler",
		Args:              nameArgs(1, "one agent NAME"),
		ValidArgsFunction: completeAgents(g),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := ask(c, g, func(cl *api.Client, ctx context.Context) (api.Agent, error) { return cl.RevokeAgent(ctx, args[0]) })
			if err != nil {
				return agentError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, a)
			}
			_, err = fmt.Fprintf(g.Stdout, "agent %s revoked: its token no longer works; its pending jobs are cancelled and their holds released (budget left %d, held %d)\n",
				a.Name, a.BudgetLeft, a.Held)
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the agent as JSON")
	return c
}
