package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/settlement"
)

func newLedgerRecoverCmd(g *globals) *cobra.Command {
	var (
		from           []string
		keepHolds      bool
		allowUntrailed bool
		asJSON         bool
	)
	c := &cobra.Command{
		Use:   "recover [--from EXPORT]...",
		Short: "Record a loss of acknowledged ledger entries and rebuild what counterparties prove",
		Long: `A node refuses to start when its ledger lost entries it had acknowledged (a
damaged, truncated or deleted database log): the ledger's head file names a
later entry than the database holds. This command, run with the node stopped,
opens the ledger in the home and appends, in one atomic write:

  1. a "lost" entry signed by this node: the last entry that survived, the
     last one acknowledged, the exports it read, what it re-appended;
  2. every receipt and settlement in the counterparties' exports (--from,
     written by hayek ledger export on their nodes) that names this node and
     that the ledger lacks, in their order. Their money moves as always. A
     payment whose hold was lost is first covered by a fund and a hold noted
     as the recovery's: in the hold's agent if the hold survived, in the
     reserved account ~recovered if nothing says whose job it was;
  3. the release of every hold still open (its job died with the node),
     unless --keep-holds.

Entries no counterparty holds (funds, holds, agents created, outcomes) are
gone: check hayek agent list and fund again what should be there. Without
--from, the loss is only recorded. Afterwards the node starts, hayek ledger
verify shows the lost range, and hayek ledger audit does not blame this node
for what the loss explains.

Runs without a node (the node must be stopped). Exits 0 when the ledger was
recovered or had nothing to recover, 1 when it cannot be (an export does not
verify, the surviving entries are corrupt), 2 on a usage error.`,
		Example: `  hayek ledger recover                                   # record the loss only
  hayek ledger recover --from p1.jsonl --from p2.jsonl   # exports from counterparties' nodes`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			home, err := g.homeDir()
			if err != nil {
				return usageErrorf("%v", err)
			}
			key, err := node.LoadIdentity(filepath.Join(home, node.IdentityFile))
			if err != nil {
				return withCode(ExitFailed, fmt.Errorf("%w\nTry: hayek --home DIR ledger recover, with the home of the node whose ledger lost writes", err))
			}
			signer, err := node.NewSigner(key)
			if err != nil {
				return withCode(ExitFailed, err)
			}
			ro := settlement.RecoverOptions{ReleaseOpenHolds: !keepHolds, AllowUntrailed: allowUntrailed}
			for _, path := range from {
				f, err := os.Open(path)
				if err != nil {
					return usageErrorf("--from: %v\nTry: hayek ledger export --out FILE, on the counterparty's node", err)
				}
				defer f.Close()
				ro.Exports = append(ro.Exports, settlement.AuditInput{Name: path, R: f})
			}
			dir := filepath.Join(home, node.LedgerDir)
			if _, err := os.Stat(dir); err != nil {
				return usageErrorf("no ledger in %s: %v\nTry: hayek --home DIR ledger recover", home, err)
			}
			rep, err := settlement.Recover(c.Context(), dir, settlement.Options{Signer: signer, Verifier: node.NewVerifier()}, ro)
			switch {
			case errors.Is(err, settlement.ErrNothingLost):
				fmt.Fprintf(g.Stderr, "hayek: the ledger in %s lost nothing: it opens as it is\n", dir)
				return nil
			case err != nil:
				return withCode(ExitFailed, fmt.Errorf("%w\nTry: stop the node (hayek serve) before recovering; check each --from with hayek ledger verify --file FILE", err))
			}
			if asJSON {
				return writeJSON(g.Stdout, rep)
			}
			return printRecovery(g.Stdout, rep, signer.ID())
		},
	}
	c.Flags().StringArrayVar(&from, "from", nil, "a counterparty's ledger export `FILE` (repeat for each)")
	c.Flags().BoolVar(&keepHolds, "keep-holds", false, "leave holds open (the node releases them when it starts anyway)")
	c.Flags().BoolVar(&allowUntrailed, "allow-untrailed", false, "accept exports written before exports had a signed trailer (their end cannot be checked)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

func printRecovery(w io.Writer, rep settlement.RecoverReport, self string) error {
	f := rep.Found
	switch {
	case f.Missing() > 0:
		fmt.Fprintf(w, "the ledger had lost %d acknowledged entries: it ended at entry %d, its head file named entry %d\n", f.Missing(), f.Have, f.Want)
	default:
		fmt.Fprintf(w, "the ledger had lost writes (%s) after entry %d\n", f.Reason, f.Have)
	}
	fmt.Fprintf(w, "entry %d records the loss, signed by %s\n", rep.Lost.Seq, shortPeer(self))
	if len(rep.Reapplied) > 0 {
		fmt.Fprintf(w, "\nre-appended from counterparties' exports (%d; %d were already here):\n", len(rep.Reapplied), rep.Present)
		t := newTable(w)
		fmt.Fprintln(t, "  SEQ\tKIND\tPEER\tJOB\tAMOUNT")
		for _, it := range rep.Reapplied {
			fmt.Fprintf(t, "  %d\t%s\t%s\t%s\t%d\n", it.Seq, it.Kind, shortPeer(it.Peer), orDash(it.Job), it.Amount)
		}
		if err := t.Flush(); err != nil {
			return err
		}
	} else if rep.Present > 0 {
		fmt.Fprintf(w, "the counterparties' exports hold nothing this ledger lacks (%d receipts and settlements already here)\n", rep.Present)
	}
	for _, it := range rep.Skipped {
		fmt.Fprintf(w, "skipped %s %s from %s (job %s, %d): %s\n", it.Kind, it.ID, shortPeer(it.Peer), orDash(it.Job), it.Amount, it.Reason)
	}
	if rep.Covered > 0 {
		fmt.Fprintf(w, "%d was funded to cover payments whose holds were lost (account %s where the agent is unknown)\n", rep.Covered, settlement.RecoveredAgent)
	}
	if rep.Released > 0 {
		fmt.Fprintf(w, "%d holds left open were released: their jobs did not survive\n", rep.Released)
	}
	_, err := fmt.Fprintf(w, "the ledger now ends at entry %d (%s)\nTry: hayek serve, then hayek ledger verify --deep; check hayek agent list for funds that were lost\n", rep.Seq, rep.Head)
	return err
}
