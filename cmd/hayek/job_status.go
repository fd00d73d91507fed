package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node/api"
)

func newJobStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status ID",
		Short: "Show a job's state, price and auction",
		Long: `Show a job: its state, the provider and price, the run's exit code, its
outputs, and each auction attempt with every bid and decline.

The command exits 0 whenever it could show the job, whatever the job's state;
4 when there is no such job (see "hayek --help" for every exit code).`,
		Example: `  hayek job status ID
  hayek job status ID --json | jq .state`,
		Args:              jobIDArg,
		ValidArgsFunction: completeJobs(g, ""),
		RunE: func(c *cobra.Command, args []string) error {
			job, err := ask(c, g, func(cl *api.Client, ctx context.Context) (api.Job, error) { return cl.Job(ctx, args[0]) })
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, job)
			}
			return printJob(g.Stdout, job)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the job as JSON")
	return c
}

// settlementLine says what a job cost: held, paid, released.
func settlementLine(st *api.Settlement) string {
	line := fmt.Sprintf("held %d, paid %d, released %d", st.Held, st.Paid, st.Released)
	if st.Pending {
		line += "; receipts still being exchanged"
	}
	if st.Error != "" {
		line += "; " + st.Error
	}
	return line
}

// verificationLine says how a job's result was checked.
func verificationLine(v *api.Verification) string {
	line := v.Mode + ": " + orDash(v.State)
	if len(v.Replicas) > 0 {
		line += fmt.Sprintf(", %d runs compared", len(v.Replicas))
	}
	if len(v.Losers) > 0 {
		short := make([]string, len(v.Losers))
		for i, l := range v.Losers {
			short[i] = shortPeer(l)
		}
		line += ", rejected " + strings.Join(short, " ")
	}
	if v.Detail != "" {
		line += " (" + v.Detail + ")"
	}
	return line
}

// printJob writes a job for a human.
func printJob(w io.Writer, j api.Job) error {
	t := newTable(w)
	fmt.Fprintf(t, "job\t%s\n", j.ID)
	state := string(j.State)
	if j.State == api.StateApproval {
		state += " (waiting for the operator: hayek job approve " + j.ID + ")"
	}
	fmt.Fprintf(t, "state\t%s\n", state)
	if j.Runtime != "" {
		fmt.Fprintf(t, "runtime\t%s\n", j.Runtime)
	}
	if j.Agent != "" {
		fmt.Fprintf(t, "agent\t%s\n", j.Agent)
	}
	if j.Error != nil {
		fmt.Fprintf(t, "error\t%s: %s\n", j.Error.Code, j.Error.Message)
	}
	if j.Provider != "" {
		fmt.Fprintf(t, "provider\t%s\n", shortPeer(j.Provider))
	}
	fmt.Fprintf(t, "price\t%d (max %d)\n", j.Price, j.MaxPrice)
	if j.Status != "" {
		fmt.Fprintf(t, "result\t%s\n", runLine(j.Status, exitCode(j)))
	}
	if j.Usage != nil {
		fmt.Fprintf(t, "usage\t%s, %s memory\n", formatDuration(time.Duration(j.Usage.WallMs*float64(time.Millisecond))),
			units.FormatSize(j.Usage.MemoryBytes))
	}
	if st := j.Settlement; st != nil {
		fmt.Fprintf(t, "payment\t%s\n", settlementLine(st))
		for _, r := range st.Receipts {
			fmt.Fprintf(t, "receipt\t%s\n", r)
		}
	}
	if v := j.Verification; v != nil {
		fmt.Fprintf(t, "verify\t%s\n", verificationLine(v))
	} else if j.Verify != "" && j.Verify != "none" {
		fmt.Fprintf(t, "verify\t%s\n", j.Verify)
	}
	if p := j.Placement; p != nil {
		fmt.Fprintf(t, "placement\t%s\n", policyLine(api.AgentPolicy{Placement: *p}))
	}
	fmt.Fprintf(t, "module\t%s\n", j.Module)
	fmt.Fprintf(t, "created\t%s\n", j.CreatedAt.Local().Format(time.DateTime))
	if j.FinishedAt != nil {
		fmt.Fprintf(t, "finished\t%s (after %s)\n", j.FinishedAt.Local().Format(time.DateTime), formatDuration(j.FinishedAt.Sub(j.CreatedAt)))
	}
	for _, o := range j.Outputs {
		fmt.Fprintf(t, "output\t%s\t%s\t%s\n", o.Name, units.FormatSize(o.Size), o.CID)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, a := range j.Attempts {
		fmt.Fprintf(w, "\nattempt %d: %d invited, %d bids, %d declines, %d silent", a.Number, len(a.Invitees), len(a.Bids), len(a.Declines), len(a.Silent))
		if a.Winner != "" {
			fmt.Fprintf(w, "; won by %s at %d", shortPeer(a.Winner), a.Price)
			if a.PriceBasis != "" {
				fmt.Fprintf(w, " (%s)", a.PriceBasis)
			}
		}
		if a.Fault != "" {
			fmt.Fprintf(w, "; dropped: %s", a.Fault)
		}
		fmt.Fprintln(w)
		t := newTable(w)
		for _, b := range a.Bids {
			fmt.Fprintf(t, "  bid\t%s\t%d\tstarts within %v, load %.1f%%\n", shortPeer(b.Provider), b.Price,
				time.Duration(b.StartWithinMs)*time.Millisecond, float64(b.Load)/10)
		}
		for _, d := range a.Declines {
			fmt.Fprintf(t, "  decline\t%s\t%s", shortPeer(d.Provider), d.Reason)
			if d.Detail != "" {
				fmt.Fprintf(t, "\t%s", d.Detail)
			}
			fmt.Fprintln(t)
		}
		if len(a.Silent) > 0 {
			short := make([]string, len(a.Silent))
			for i, s := range a.Silent {
				short[i] = shortPeer(s)
			}
			fmt.Fprintf(t, "  silent\t%s\n", strings.Join(short, " "))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	return nil
}
