package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
)

func newAuditCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Check job audit bundles offline",
		Long: `Audit bundles (hayek job audit ID --bundle FILE) carry a job's signed messages
and ledger entries; hayek audit verify checks one without a node.`,
		Example: "  hayek audit verify j7k2.audit.json",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for hayek audit\nTry: hayek audit verify FILE", args[0])
			}
			return c.Help()
		},
	}
	c.AddCommand(newAuditVerifyCmd(g))
	return c
}

func newAuditVerifyCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check an audit bundle against the signatures it contains",
		Long: `Check an audit bundle offline: every signed call, bid, decline, award and
result must verify against its signer's key (a peer ID is its public key) and
match its CID; every bid, price, winner and output the bundle states must be
the one its signer signed; every ledger entry must match its CID, and every
receipt carry both parties' signatures.

It prints the facts proven and by whose signature, then what is only the
auditing node's word (its own ledger records, what it saw, when). Exits 0
when the bundle verifies, 1 naming each failure when it does not.`,
		Example: "  hayek audit verify j7k2.audit.json\n  hayek audit verify - --json < j7k2.audit.json",
		Args:    nameArgs(1, "one bundle FILE (- for stdin)"),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := readAudit(g, args[0])
			if err != nil {
				return err
			}
			rep := node.VerifyAudit(a)
			if asJSON {
				if err := writeJSON(g.Stdout, rep); err != nil {
					return err
				}
			} else {
				printAuditReport(g.Stdout, a, rep)
			}
			if !rep.OK {
				return withCode(ExitFailed, fmt.Errorf("audit bundle %s does not verify: %d failures, first: %s", args[0], len(rep.Failures), rep.Failures[0]))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

func readAudit(g *globals, path string) (api.Audit, error) {
	var r io.Reader = g.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return api.Audit{}, usageErrorf("%v\nTry: hayek job audit ID --bundle FILE", err)
		}
		defer f.Close()
		r = f
	}
	var a api.Audit
	if err := json.NewDecoder(r).Decode(&a); err != nil {
		return api.Audit{}, withCode(ExitFailed, fmt.Errorf("%s is not an audit bundle: %w", path, err))
	}
	return a, nil
}

func printAuditReport(w io.Writer, a api.Audit, rep api.AuditReport) {
	if rep.OK {
		fmt.Fprintf(w, "audit of job %s verifies: %d facts proven by signatures\n", a.Job.ID, len(rep.Proven))
	} else {
		fmt.Fprintf(w, "audit of job %s DOES NOT verify:\n", a.Job.ID)
		for _, f := range rep.Failures {
			fmt.Fprintf(w, "  FAIL  %s\n", f)
		}
	}
	fmt.Fprintf(w, "\nproven\n")
	for _, f := range rep.Proven {
		fmt.Fprintf(w, "  %s\n        signed by %s (%s)\n", f.Fact, f.By, f.CID)
	}
	fmt.Fprintf(w, "\nonly node %s's word\n", a.Node)
	for _, u := range rep.Unproven {
		fmt.Fprintf(w, "  %s\n", u)
	}
}
