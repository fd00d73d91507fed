package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newAgentListCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "list",
		Short:   "List the agents, their budgets and limits",
		Example: "  hayek agent list\n  hayek agent list --json | jq '.[] | {name, budget_left}'",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := connect(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			agents, err := cl.Agents(c.Context())
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, agents)
			}
			t := newTable(g.Stdout)
			fmt.Fprintln(t, "AGENT\tBUDGET LEFT\tHELD\tSPENT\tFUNDED\tMAX JOB PRICE\tAPPROVE ABOVE\tRATE\tSTATUS")
			for _, a := range agents {
				status := "active"
				if a.Revoked {
					status = "revoked"
				}
				fmt.Fprintf(t, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", a.Name, a.BudgetLeft, a.Held, a.Spent, a.Funded,
					limitText(a.MaxJobPrice, ""), limitText(a.ApproveAbove, ""), limitText(a.RatePerHour, "/h"), status)
			}
			return t.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the agents as a JSON array")
	return c
}
