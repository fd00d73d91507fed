package main

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

var jobStates = []api.JobState{api.StatePending, api.StateAuction, api.StateAwarded, api.StateRunning,
	api.StateCompleted, api.StateFailed, api.StateCancelled}

func newJobListCmd(g *globals) *cobra.Command {
	var asJSON bool
	var state string
	var limit int
	c := &cobra.Command{
		Use:   "list",
		Short: "List this node's jobs, newest first",
		Example: `  hayek job list
  hayek job list --state failed --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if state != "" && !slices.Contains(jobStates, api.JobState(state)) {
				return usageErrorf("--state %q: want one of %v\nTry: hayek job list --state running", state, jobStates)
			}
			if limit < 1 {
				return usageErrorf("--limit must be at least 1\nTry: hayek job list --limit 20")
			}
			cl, err := connect(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			jobs, err := cl.Jobs(c.Context(), api.JobFilter{State: api.JobState(state), Limit: limit})
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, jobs)
			}
			t := newTable(g.Stdout)
			fmt.Fprintln(t, "ID\tSTATE\tPROVIDER\tPRICE\tEXIT\tCREATED")
			for _, j := range jobs {
				exit := "-"
				if j.ExitCode != nil {
					exit = strconv.Itoa(int(*j.ExitCode))
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%d\t%s\t%s ago\n", j.ID, j.State, orDash(shortPeer(j.Provider)), j.Price, exit,
					time.Since(j.CreatedAt).Round(time.Second))
			}
			return t.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the jobs as a JSON array")
	c.Flags().StringVar(&state, "state", "", "only jobs in this state: pending, auction, awarded, running, completed, failed, cancelled")
	c.Flags().IntVar(&limit, "limit", api.DefaultJobsLimit, "at most this many jobs")
	return c
}
