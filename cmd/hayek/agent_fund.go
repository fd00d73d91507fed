package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newAgentFundCmd(g *globals) *cobra.Command {
	var (
		note   string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "fund NAME AMOUNT",
		Short: "Add to an agent's budget",
		Long: `Add AMOUNT (in the ledger's smallest unit) to an agent's budget. It is
recorded as a fund entry in the ledger. NAME operator funds the operator's own
account, which the operator's jobs are held against.`,
		Example:           "  hayek agent fund crawler 10000\n  hayek agent fund operator 500000 --note 'March'",
		Args:              nameArgs(2, "an agent NAME and an AMOUNT"),
		ValidArgsFunction: completeAgents(g),
		RunE: func(c *cobra.Command, args []string) error {
			amount, err := amountArg(args[1])
			if err != nil {
				return usageErrorf("%v\nTry: hayek agent fund %s 10000", err, args[0])
			}
			a, err := ask(c, g, func(cl *api.Client, ctx context.Context) (api.Agent, error) {
				return cl.FundAgent(ctx, args[0], api.Fund{Amount: amount, Note: note})
			})
			if err != nil {
				return agentError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, a)
			}
			_, err = fmt.Fprintf(g.Stdout, "agent %s funded with %d: budget left %d (funded %d in all)\n", a.Name, amount, a.BudgetLeft, a.Funded)
			return err
		},
	}
	c.SetFlagErrorFunc(amountFlagError("hayek agent fund NAME 10000"))
	c.Flags().StringVar(&note, "note", "", "a note recorded with the fund entry")
	c.Flags().BoolVar(&asJSON, "json", false, "print the agent as JSON")
	return c
}
