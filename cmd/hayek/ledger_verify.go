package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

func newLedgerVerifyCmd(g *globals) *cobra.Command {
	var (
		deep           bool
		file           string
		asJSON         bool
		allowUntrailed bool
	)
	c := &cobra.Command{
		Use:   "verify [--deep] [--file FILE]",
		Short: "Check the ledger's chain, checkpoints and money invariant",
		Long: `Check the ledger: every entry's hash link, every body against the rules,
every checkpoint's signature, and the money invariant (funded = budgets left +
held + paid). With --deep, also both signatures of every receipt and the
creditor's signature of every settlement.

Without --file the node checks its own database. With --file, an export
(hayek ledger export) is checked here, offline, without a node: the
checkpoints name whose ledger it is and carry that node's signature, and the
export must end with the trailer that node signed over its last entry, so an
export cut short is refused. Exports written before trailers existed are
refused too unless --allow-untrailed: then entries cut off their end cannot
be noticed.

A ledger that lost acknowledged entries and was recovered (hayek ledger
recover) verifies; the report shows each loss it declared.

Exits 0 when the ledger verifies, 1 when it is corrupt, naming the first entry
that cannot be trusted (every entry before it verified).`,
		Example: "  hayek ledger verify --deep\n  hayek ledger verify --file ledger.jsonl --deep",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			var (
				rep       api.VerifyReport
				noTrailer bool
			)
			if file != "" {
				var err error
				if rep, noTrailer, err = verifyFile(c.Context(), g, file, deep, allowUntrailed); err != nil {
					return err
				}
			} else {
				var err error
				rep, err = ask(c, g, func(cl *api.Client, ctx context.Context) (api.VerifyReport, error) { return cl.VerifyLedger(ctx, deep) })
				if err != nil {
					return clientError(err)
				}
			}
			what := "the ledger"
			if file != "" {
				what = file
			}
			if asJSON {
				if err := writeJSON(g.Stdout, rep); err != nil {
					return err
				}
			} else if rep.OK {
				printVerified(g, what, rep)
			}
			if !rep.OK {
				msg := fmt.Sprintf("%s is corrupt", what)
				if rep.BadSeq > 0 {
					msg = fmt.Sprintf("%s is corrupt at entry %d (every entry before it verified)", what, rep.BadSeq)
				}
				try := "restore the ledger from a backup or a verified export; do not let the node append to it"
				if noTrailer {
					try = "export the ledger again (hayek ledger export); for an export written before exports had trailers, hayek ledger verify --file " + file + " --allow-untrailed"
				}
				return withCode(ExitFailed, fmt.Errorf("%s: %s\nTry: %s", msg, orDash(rep.Error), try))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&deep, "deep", false, "also check every receipt's and settlement's signatures")
	c.Flags().StringVar(&file, "file", "", "check this export `FILE` offline instead of asking the node (- for stdin)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.Flags().BoolVar(&allowUntrailed, "allow-untrailed", false, "with --file: accept an export written before exports had a signed trailer (its end cannot be checked)")
	return c
}

func printVerified(g *globals, what string, rep api.VerifyReport) {
	fmt.Fprintf(g.Stdout, "%s verifies: %d entries, %d checkpoints", what, rep.Entries, rep.Checkpoints)
	if rep.Deep {
		fmt.Fprintf(g.Stdout, ", %d receipts", rep.Receipts)
		if rep.Settles > 0 {
			fmt.Fprintf(g.Stdout, " and %d settlements", rep.Settles)
		}
		fmt.Fprint(g.Stdout, " with their signatures")
	}
	fmt.Fprintf(g.Stdout, " in %.3fs\n", rep.Seconds)
	if rep.Head != "" {
		fmt.Fprintf(g.Stdout, "head %s (seq %d)", rep.Head, rep.Seq)
		if rep.Node != "" {
			fmt.Fprintf(g.Stdout, ", signed by %s", rep.Node)
		}
		fmt.Fprintln(g.Stdout)
	}
	if rep.Unsealed > 0 {
		fmt.Fprintf(g.Stdout, "the last %d entries come after the last checkpoint: the node has not signed them yet\n", rep.Unsealed)
	}
	if rep.Untrailed {
		fmt.Fprintln(g.Stdout, "the export has no trailer (written before exports had one): entries cut off its end cannot be noticed")
	}
	for _, l := range rep.Lost {
		span := fmt.Sprintf("entries %d..%d (%d) acknowledged before were lost", l.Kept+1, l.Want, l.Missing)
		if l.Missing == 0 {
			span = fmt.Sprintf("entries after %d may have been lost (%s)", l.Kept, l.Reason)
		}
		fmt.Fprintf(g.Stdout, "entry %d records a loss: %s; %d receipts and settlements re-appended from counterparties", l.Seq, span, l.Reapplied)
		if l.Covered > 0 {
			fmt.Fprintf(g.Stdout, ", %d funded to cover payments whose holds were lost", l.Covered)
		}
		fmt.Fprintln(g.Stdout)
	}
}

// verifyFile checks an export offline. A corrupt export is a report with
// OK false (noTrailer: because it ends without its trailer); an error is a
// file that could not be read at all.
func verifyFile(ctx context.Context, g *globals, path string, deep, allowUntrailed bool) (rep api.VerifyReport, noTrailer bool, err error) {
	var r io.Reader = g.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return api.VerifyReport{}, false, usageErrorf("--file: %v\nTry: hayek ledger export --out %s", err, path)
		}
		defer f.Close()
		r = f
	}
	sr, err := settlement.VerifyExportWith(ctx, r, node.NewVerifier(), settlement.VerifyExportOptions{Deep: deep, AllowUntrailed: allowUntrailed})
	rep = api.VerifyReport{
		OK: err == nil, Entries: sr.Entries, Checkpoints: sr.Checkpoints, Receipts: sr.Receipts, Settles: sr.Settles,
		Deep: sr.Deep, Seconds: sr.Duration.Seconds(), Node: sr.Node, Head: sr.Head, Seq: sr.Seq, Unsealed: sr.Unsealed,
		Lost: node.LedgerLosses(sr.Lost), Untrailed: err == nil && !sr.Trailer,
	}
	switch {
	case err == nil:
	case settlement.IsCorruption(err):
		rep.Error = err.Error()
		rep.BadSeq, _ = settlement.CorruptSeq(err)
		noTrailer = errors.Is(err, settlement.ErrNoTrailer)
	case ctx.Err() != nil:
		return rep, false, withCode(ExitFailed, fmt.Errorf("verifying %s: %w", path, ctx.Err()))
	default:
		return rep, false, withCode(ExitFailed, fmt.Errorf("verifying %s: %w", path, err))
	}
	return rep, noTrailer, nil
}
