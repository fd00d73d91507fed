package main

import (
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newJobWatchCmd(g *globals) *cobra.Command {
	var asJSON bool
	var out string
	c := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a job's auction and run until it ends",
		Long: `Follow a job's events until it ends: the auction, each bid and decline,
the award, the run and its result, one line each on stderr. Then write the
job's stdout and stderr like "job submit --wait" and exit like it (4 when
there is no such job).

With --json, each event is printed to stdout as one line of JSON as it
happens (the job's own stdout is not written); the exit code still follows
the job's outcome.`,
		Example: `  hayek job watch ID
  hayek job watch ID --json | jq -c 'select(.type=="bid")'`,
		Args:              jobIDArg,
		ValidArgsFunction: completeJobs(g, ""),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := connect(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := c.Context()
			var show func(api.Event) error
			if asJSON {
				enc := json.NewEncoder(g.Stdout)
				enc.SetEscapeHTML(false)
				show = func(ev api.Event) error { return enc.Encode(ev) }
			} else {
				p := &progress{w: g.Stderr, start: time.Now()}
				show = func(ev api.Event) error { p.event(ev); return nil }
			}
			job, err := follow(ctx, cl, args[0], show)
			if err != nil {
				return err
			}
			if asJSON {
				if out != "" && job.State == api.StateCompleted {
					res, err := cl.Result(ctx, job.ID)
					if err != nil {
						return clientError(err)
					}
					if err := saveOutputs(ctx, cl, res.Outputs, out); err != nil {
						return err
					}
				}
				return outcome(job)
			}
			return deliver(ctx, g, cl, job, out)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print each event as one line of JSON on stdout")
	c.Flags().StringVar(&out, "out", "", "save the job's outputs as `DIR`/<name>, creating DIR")
	return c
}
