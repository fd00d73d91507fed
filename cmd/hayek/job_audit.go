package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newJobAuditCmd(g *globals) *cobra.Command {
	var (
		asJSON bool
		bundle string
	)
	c := &cobra.Command{
		Use:   "audit ID [--json | --bundle FILE]",
		Short: "Show a job's audit: who asked, who bid, who ran it, what was paid",
		Long: `Show the record of a job: its intent (the spec, the agent, its limits and
policy when the job was admitted, who approved it and when), discovery (the
offers seen), every auction with each bid and decline, its score and why the
winner won, the award, the run (module, input and output CIDs, usage, the
provider's signed result), verification, the receipts and ledger entries with
their CIDs, and a timeline.

--bundle writes the whole record, with the signed messages and ledger entries
themselves, to FILE: hayek audit verify FILE checks it offline, on any
machine, and says which facts are proven by whose signature.`,
		Example: "  hayek job audit j7k2…\n  hayek job audit j7k2… --bundle j7k2.audit.json && hayek audit verify j7k2.audit.json",
		Args:    jobIDArg,
		RunE: func(c *cobra.Command, args []string) error {
			if asJSON && bundle != "" {
				return usageErrorf("--json and --bundle are exclusive: --bundle writes the JSON to a file\nTry: hayek job audit ID --bundle FILE")
			}
			a, err := ask(c, g, func(cl *api.Client, ctx context.Context) (api.Audit, error) { return cl.Audit(ctx, args[0]) })
			if err != nil {
				return clientError(err)
			}
			switch {
			case asJSON:
				return writeJSON(g.Stdout, a)
			case bundle != "":
				if err := writeJSONFile(bundle, a); err != nil {
					return err
				}
				_, err = fmt.Fprintf(g.Stdout, "audit of job %s written to %s (%d signed messages, %d ledger entries); check it with: hayek audit verify %s\n",
					a.Job.ID, bundle, len(a.Signed), len(a.Entries), bundle)
				return err
			}
			printJobAudit(g.Stdout, a)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the audit bundle as JSON")
	c.Flags().StringVar(&bundle, "bundle", "", "write the audit bundle, signatures included, to `FILE`")
	return c
}

func printJobAudit(w io.Writer, a api.Audit) {
	j := a.Job
	fmt.Fprintf(w, "job %s on node %s: %s\n\n", j.ID, a.Node, j.State)
	in := a.Intent
	fmt.Fprintf(w, "intent\n  agent      %s\n  spec       %s (module %s, max price %d, verify %s)\n", in.Agent, orDash(in.SpecCID), j.Module, j.MaxPrice, j.Verify)
	if in.Limits != nil {
		fmt.Fprintf(w, "  limits     max job price %d, approve above %d, %d jobs/hour (0: none)\n", in.Limits.MaxJobPrice, in.Limits.ApproveAbove, in.Limits.RatePerHour)
	}
	if in.Policy != nil {
		fmt.Fprintf(w, "  policy     %s\n", policyLine(*in.Policy))
	}
	if p := in.Placement; p != nil {
		fmt.Fprintf(w, "  placement  %s\n", policyLine(api.AgentPolicy{Placement: *p}))
	}
	fmt.Fprintf(w, "  approval   %s\n", in.Approval)
	fmt.Fprintf(w, "\ndiscovery: %d offers seen\n", len(a.Discovery))
	for _, o := range a.Discovery {
		note := ""
		if !o.Permitted {
			note = " (outside the placement: not invited)"
		}
		fmt.Fprintf(w, "  %s offer %d%s\n", o.Provider, o.Seq, note)
	}
	for _, au := range a.Auctions {
		fmt.Fprintf(w, "\nauction %d: call %s, %d invited\n", au.Attempt, orDash(au.Call), len(au.Invitees))
		for _, b := range au.Bids {
			won := ""
			if b.Won {
				won = "  WON"
			}
			fmt.Fprintf(w, "  bid      %s price %d start within %dms score %d%s\n", b.Provider, b.Price, b.StartWithinMs, b.Score, won)
		}
		for _, d := range au.Declines {
			fmt.Fprintf(w, "  decline  %s %s %s\n", d.Provider, d.Reason, d.Detail)
		}
		for _, s := range au.Silent {
			fmt.Fprintf(w, "  silent   %s\n", s)
		}
		if au.Why != "" {
			fmt.Fprintf(w, "  winner   %s at %d: %s\n", strings.Join(au.Winners, ", "), au.Price, au.Why)
		}
		if au.Fault != "" {
			fmt.Fprintf(w, "  fault    %s\n", au.Fault)
		}
	}
	if ex := a.Execution; ex != nil {
		fmt.Fprintf(w, "\nexecution by %s: %s, signed result %s\n  module  %s\n", ex.Provider, ex.Status, ex.ResultCID, ex.Module)
		for _, b := range ex.Inputs {
			fmt.Fprintf(w, "  input   %s (%d bytes)\n", b.CID, b.Size)
		}
		for _, o := range ex.Outputs {
			fmt.Fprintf(w, "  output  %s %s (%d bytes)\n", o.Name, o.CID, o.Size)
		}
		if ex.Usage != nil {
			fmt.Fprintf(w, "  usage   %.1fms, %d bytes of memory\n", ex.Usage.WallMs, ex.Usage.MemoryBytes)
		}
	}
	if v := a.Verification; v != nil {
		fmt.Fprintf(w, "\nverification: %s %s %s\n", v.Mode, v.State, v.Detail)
	}
	fmt.Fprintf(w, "\nledger\n")
	for _, e := range a.Entries {
		fmt.Fprintf(w, "  %d %s %s\n", e.Seq, e.Kind, e.CID)
	}
	fmt.Fprintf(w, "\ntimeline\n")
	for _, l := range a.Timeline {
		fmt.Fprintf(w, "  %s\n", l)
	}
}
