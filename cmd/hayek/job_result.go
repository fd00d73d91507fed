package main

import (
	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newJobResultCmd(g *globals) *cobra.Command {
	var asJSON bool
	var out string
	c := &cobra.Command{
		Use:   "result ID",
		Short: "Write a finished job's stdout, stderr and outputs",
		Long: `Write a finished job's stdout to stdout, byte for byte, and its stderr to
stderr; with --out, save its outputs as DIR/<name>.

The command exits like "job submit --wait": 0 when the job completed with exit
code 0, 1 when it ran and failed, 3 when it could not be run; 4 when there is
no such job, and 5 when it has not finished yet ("hayek job watch ID" waits).`,
		Example: `  hayek job result ID > out.txt
  hayek job result ID --out results/
  hayek job result ID --json | jq .usage`,
		Args:              jobIDArg,
		ValidArgsFunction: completeJobs(g, ""),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := connect(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := c.Context()
			job, err := cl.Job(ctx, args[0])
			if err != nil {
				return clientError(err)
			}
			if !asJSON {
				return deliver(ctx, g, cl, job, out)
			}
			if job.State != api.StateCompleted {
				return deliver(ctx, g, cl, job, "") // says why there is no result
			}
			res, err := cl.Result(ctx, job.ID)
			if err != nil {
				return clientError(err)
			}
			if err := writeJSON(g.Stdout, res); err != nil {
				return err
			}
			if out != "" {
				if err := saveOutputs(ctx, cl, res.Outputs, out); err != nil {
					return err
				}
			}
			return runStatus(job.ID, res.Status, res.ExitCode, res.Error)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON (stdout and stderr inline up to 1 MiB, and by CID)")
	c.Flags().StringVar(&out, "out", "", "save the job's outputs as `DIR`/<name>, creating DIR")
	return c
}
