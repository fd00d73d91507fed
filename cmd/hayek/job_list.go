package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

var jobStates = []api.JobState{api.StateApproval, api.StateQueued, api.StatePending, api.StateAuction, api.StateAwarded, api.StateRunning,
	api.StateCompleted, api.StateFailed, api.StateCancelled}

func newJobListCmd(g *globals) *cobra.Command {
	var asJSON bool
	var state, agent string
	var limit int
	c := &cobra.Command{
		Use:   "list",
		Short: "List this node's jobs, newest first",
		Long: `List this node's jobs, newest first: state, agent, provider, price and,
when some job has them, what was held, paid and released for it and how its
result was checked. EXIT is the run's exit code, or how a run stopped at a
limit ended (timeout, memory_limit, output_limit, trap). An agent sees only
its own jobs.`,
		Example: `  hayek job list
  hayek job list --state failed --json
  hayek job list --state approval
  hayek job list --agent crawler`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if state != "" && !slices.Contains(jobStates, api.JobState(state)) {
				return usageErrorf("--state %q: want one of %v\nTry: hayek job list --state running", state, jobStates)
			}
			if limit < 1 {
				return usageErrorf("--limit must be at least 1\nTry: hayek job list --limit 20")
			}
			jobs, err := ask(c, g, func(cl *api.Client, ctx context.Context) ([]api.Job, error) {
				return cl.Jobs(ctx, api.JobFilter{State: api.JobState(state), Agent: agent, Limit: limit})
			})
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, jobs)
			}
			// Payment and verification columns appear when some job has them.
			var paid, verified bool
			for _, j := range jobs {
				paid = paid || j.Settlement != nil
				verified = verified || j.Verification != nil
			}
			t := newTable(g.Stdout)
			fmt.Fprint(t, "ID\tSTATE\tAGENT\tPROVIDER\tPRICE")
			if paid {
				fmt.Fprint(t, "\tHELD\tPAID\tRELEASED")
			}
			if verified {
				fmt.Fprint(t, "\tVERIFIED")
			}
			fmt.Fprintln(t, "\tEXIT\tCREATED")
			for _, j := range jobs {
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%d", j.ID, j.State, orDash(j.Agent), orDash(shortPeer(j.Provider)), j.Price)
				if st := j.Settlement; paid && st != nil {
					pending := ""
					if st.Pending {
						pending = "…" // receipts still being exchanged
					}
					fmt.Fprintf(t, "\t%d\t%d%s\t%d", st.Held, st.Paid, pending, st.Released)
				} else if paid {
					fmt.Fprint(t, "\t-\t-\t-")
				}
				if v := j.Verification; verified && v != nil {
					fmt.Fprintf(t, "\t%s:%s", v.Mode, orDash(v.State))
				} else if verified {
					fmt.Fprint(t, "\t-")
				}
				exit := "-" // the exit code, or how a run stopped at a limit ended
				if j.Status != "" {
					exit = strings.TrimPrefix(runText(j.Status, exitCode(j)), "exit code ")
				}
				fmt.Fprintf(t, "\t%s\t%s ago\n", exit, time.Since(j.CreatedAt).Round(time.Second))
			}
			return t.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the jobs as a JSON array")
	c.Flags().StringVar(&state, "state", "", "only jobs in this state: approval, queued, pending, auction, awarded, running, completed, failed, cancelled")
	c.Flags().StringVar(&agent, "agent", "", "only the jobs of this agent (operator; an agent sees only its own anyway)")
	c.Flags().IntVar(&limit, "limit", api.DefaultJobsLimit, "at most this many jobs")
	c.RegisterFlagCompletionFunc("state", completeFixed(jobStates))
	return c
}
