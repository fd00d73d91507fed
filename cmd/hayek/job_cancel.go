package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newJobCancelCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a job",
		Long: `Cancel a job that has not ended: its auction stops, or its provider is told
to stop, and its budget hold is released. A job that already ended is left as
it is; the command says so and exits 0.`,
		Example:           `  hayek job cancel ID`,
		Args:              jobIDArg,
		ValidArgsFunction: completeJobs(g, ""),
		RunE: func(c *cobra.Command, args []string) error {
			job, err := ask(c, g, func(cl *api.Client, ctx context.Context) (api.Job, error) { return cl.Cancel(ctx, args[0]) })
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, job)
			}
			if job.State == api.StateCancelled {
				_, err = fmt.Fprintf(g.Stdout, "job %s cancelled\n", job.ID)
			} else {
				_, err = fmt.Fprintf(g.Stdout, "job %s had already ended: %s\n", job.ID, job.State)
			}
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the job as JSON")
	return c
}
