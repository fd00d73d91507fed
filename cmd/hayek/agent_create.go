package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newAgentCreateCmd(g *globals) *cobra.Command {
	var (
		req    api.AgentCreate
		rate   string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "create NAME --budget N [--max-job-price N] [--approve-above N] [--rate N/hour]",
		Short: "Create an agent and print its token, once",
		Long: `Create an agent account with a budget and limits, and print its bearer token
on stdout. The node keeps only the token's hash: it is shown this once and
cannot be recovered (if lost, revoke the agent and create another).

Every job the agent submits holds its max cost (max price × runs) against the
budget; a job the budget left cannot cover is refused (budget_exceeded), and
so is one above --max-job-price or beyond --rate jobs per hour (over_limit).
A job whose max cost is above --approve-above waits for hayek job approve.
Amounts are in the ledger's smallest unit; 0 means no limit.`,
		Example: `  export HAYEK_TOKEN=$(hayek agent create crawler --budget 50000)
  hayek agent create trader --budget 100000 --max-job-price 5000 --approve-above 2000 --rate 60/hour
  hayek agent create ci --budget 1000 --json > ci-token.json`,
		Args: nameArgs(1, "one agent NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			if !c.Flags().Changed("budget") {
				return usageErrorf("--budget N is required: what the agent may spend, in the ledger's smallest unit (0 to fund it later)\nTry: hayek agent create %s --budget 10000", args[0])
			}
			for name, v := range map[string]int64{"--budget": req.Budget, "--max-job-price": req.MaxJobPrice, "--approve-above": req.ApproveAbove} {
				if v < 0 {
					return usageErrorf("%s must be ≥ 0\nTry: hayek agent create --help", name)
				}
			}
			if rate != "" {
				r, err := parseRate(rate)
				if err != nil {
					return usageErrorf("%v\nTry: --rate 100/hour", err)
				}
				req.RatePerHour = r
			}
			req.Name = args[0]
			tok, err := ask(c, g, func(cl *api.Client, ctx context.Context) (api.AgentToken, error) { return cl.CreateAgent(ctx, req) })
			if isCode(err, api.CodeBadRequest) {
				return withCode(ExitUsage, fmt.Errorf("%w\nTry: hayek agent create --help", err))
			}
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, tok)
			}
			fmt.Fprintf(g.Stderr, "agent %s created: budget %d, max job price %s, approval above %s, rate %s\n",
				tok.Name, req.Budget, limitText(req.MaxJobPrice, ""), limitText(req.ApproveAbove, ""), limitText(req.RatePerHour, "/hour"))
			fmt.Fprintln(g.Stderr, "hayek: the token below is shown only this once and cannot be recovered: store it now and give it to the agent as HAYEK_TOKEN (or --token)")
			_, err = fmt.Fprintln(g.Stdout, tok.Token)
			return err
		},
	}
	f := c.Flags()
	f.Int64Var(&req.Budget, "budget", 0, "what the agent may spend in all, in the ledger's smallest unit (required; hayek agent fund adds more)")
	f.Int64Var(&req.MaxJobPrice, "max-job-price", 0, "the highest --max-price one of its jobs may have (0: no cap beyond the budget)")
	f.Int64Var(&req.ApproveAbove, "approve-above", 0, "jobs whose max cost is above this wait for hayek job approve (0: never ask)")
	f.StringVar(&rate, "rate", "", "at most this many jobs per hour, as `N/hour`, N/h or N (default: no limit)")
	f.BoolVar(&asJSON, "json", false, `print {"name","token"} as JSON`)
	return c
}
