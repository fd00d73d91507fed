package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

// Approving and rejecting jobs that wait in state approval.

func newJobApproveCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "approve ID",
		Short: "Let a job waiting for approval go to auction",
		Long: `A job whose max cost is above its agent's approval threshold waits in state
approval. Approving it lets it go to auction; the decision is recorded in the
ledger. hayek job list --state approval lists the jobs waiting.`,
		Example:           "  hayek job list --state approval\n  hayek job approve ID",
		Args:              jobIDArg,
		ValidArgsFunction: completeJobs(g, api.StateApproval),
		RunE: func(c *cobra.Command, args []string) error {
			return decide(c, g, args[0], true, api.Decision{}, asJSON)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the job as JSON")
	return c
}

func newJobRejectCmd(g *globals) *cobra.Command {
	var (
		reason string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "reject ID [--reason R]",
		Short: "Refuse a job waiting for approval",
		Long: `Refuse a job waiting in state approval: it fails with the reason, and its
budget hold returns to its agent. The decision is recorded in the ledger. A
job nobody answers is rejected at its deadline.`,
		Example:           "  hayek job reject ID --reason 'too expensive for a test run'",
		Args:              jobIDArg,
		ValidArgsFunction: completeJobs(g, api.StateApproval),
		RunE: func(c *cobra.Command, args []string) error {
			return decide(c, g, args[0], false, api.Decision{Reason: reason}, asJSON)
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why, recorded with the decision and shown to the agent")
	c.Flags().BoolVar(&asJSON, "json", false, "print the job as JSON")
	return c
}

func decide(c *cobra.Command, g *globals, id string, approve bool, d api.Decision, asJSON bool) error {
	job, err := ask(c, g, func(cl *api.Client, ctx context.Context) (api.Job, error) {
		if approve {
			return cl.Approve(ctx, id, d)
		}
		return cl.Reject(ctx, id, d)
	})
	if isCode(err, api.CodeNotApproval) {
		return withCode(ExitFailed, fmt.Errorf("%w\nTry: hayek job list --state approval", err))
	}
	if err != nil {
		return clientError(err)
	}
	if asJSON {
		return writeJSON(g.Stdout, job)
	}
	if approve {
		_, err = fmt.Fprintf(g.Stdout, "job %s approved: it goes to auction (hayek job watch %s follows it)\n", job.ID, job.ID)
	} else {
		_, err = fmt.Fprintf(g.Stdout, "job %s rejected\n", job.ID)
	}
	return err
}
