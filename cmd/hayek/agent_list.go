package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newAgentListCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the agents, their budgets and limits",
		Long: `List the agents allowed to spend through this node, the operator's own
account included: each one's budget left, what is held for its jobs under
way, what it has spent and been funded with in all, its limits (0 or none:
no limit) and whether its token was revoked. Operator only.`,
		Example: "  hayek agent list\n  hayek agent list --json | jq '.[] | {name, budget_left}'",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			agents, err := ask(c, g, (*api.Client).Agents)
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, agents)
			}
			return writeTable(g.Stdout, "AGENT\tBUDGET LEFT\tHELD\tSPENT\tFUNDED\tMAX JOB PRICE\tAPPROVE ABOVE\tRATE\tSTATUS", agents, func(t io.Writer, a api.Agent) {
				fmt.Fprintf(t, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", a.Name, a.BudgetLeft, a.Held, a.Spent, a.Funded,
					limitText(a.MaxJobPrice, ""), limitText(a.ApproveAbove, ""), limitText(a.RatePerHour, "/h"), agentStatus(a))
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the agents as a JSON array")
	return c
}
