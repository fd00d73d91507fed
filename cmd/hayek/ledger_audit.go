package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/settlement"
)

func newLedgerAuditCmd(g *globals) *cobra.Command {
	var asJSON, allowUntrailed bool
	c := &cobra.Command{
		Use:   "audit EXPORT EXPORT...",
		Short: "Check several nodes' ledger exports against each other, offline",
		Long: `Check ledgers against each other. Each export (hayek ledger export, one per
node) must verify on its own, signatures and trailer included (exports from
before trailers need --allow-untrailed); then, for every pair of
nodes given, every receipt and settlement between them is looked up in both
ledgers, and every ledger head a receipt names in its owner's chain.

Findings, each naming the node at fault:
  missing       one ledger holds a receipt or settlement the other lacks,
                though the other's export runs past it
  head_missing  a receipt names a ledger head its owner's chain does not
                contain: the history it was signed over was rewritten
  head_order    a receipt names a head that comes after the receipt itself
  conflict      two receipts for the same run between the same pair
  newer         (not a fault) a receipt newer than the other export: export
                both again and audit once more
  lost          (not a fault) a receipt or head missing because its ledger
                lost entries and declared it (hayek ledger recover)

With nothing missing, each pair's two bilateral balances are opposites.

Runs without a node. Exits 0 when no fault is found, 1 when one is or an
export does not verify, 2 when the files cannot be read or two are exports of
the same node.`,
		Example: `  for i in 0 1 2 3 4; do hayek --home devnet/node-$i ledger export --out node-$i.jsonl; done
  hayek ledger audit node-*.jsonl
  hayek ledger audit mine.jsonl theirs.jsonl --json | jq '.pairs[].findings'`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageErrorf("audit needs at least two exports, one per node\nTry: hayek ledger audit mine.jsonl theirs.jsonl")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			var ins []settlement.AuditInput
			for _, path := range args {
				f, err := os.Open(path)
				if err != nil {
					return usageErrorf("%v\nTry: hayek ledger export --out %s, on that node", err, path)
				}
				defer f.Close()
				ins = append(ins, settlement.AuditInput{Name: path, R: f, AllowUntrailed: allowUntrailed})
			}
			start := time.Now()
			rep, err := settlement.Audit(c.Context(), node.NewVerifier(), ins...)
			switch {
			case err == nil:
			case settlement.IsCorruption(err):
				return withCode(ExitFailed, fmt.Errorf("%w\nTry: hayek ledger verify --file FILE, to see that export alone", err))
			case c.Context().Err() != nil:
				return withCode(ExitFailed, err)
			default:
				return withCode(ExitUsage, err)
			}
			if asJSON {
				err = writeJSON(g.Stdout, auditJSON(rep))
			} else {
				err = printAudit(g.Stdout, rep, time.Since(start))
			}
			if err != nil {
				return err
			}
			if n := rep.Faults(); n > 0 {
				return withCode(ExitFailed, fmt.Errorf("%d faults found", n))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.Flags().BoolVar(&allowUntrailed, "allow-untrailed", false, "accept exports written before exports had a signed trailer (their end cannot be checked)")
	return c
}

func printAudit(w io.Writer, rep settlement.AuditReport, took time.Duration) error {
	t := newTable(w)
	fmt.Fprintf(t, "%d ledgers verify, signatures included:\n", len(rep.Ledgers))
	fmt.Fprintln(t, "NODE\tEXPORT\tENTRIES\tRECEIPTS\tSETTLEMENTS\tUNCHECKED\tLAST ENTRY")
	for _, l := range rep.Ledgers {
		fmt.Fprintf(t, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", shortPeer(l.Node), l.Name, l.Entries, l.Receipts, l.Settles, l.Unchecked,
			time.UnixMilli(l.Time).Local().Format(time.DateTime))
	}
	fmt.Fprintln(t)
	fmt.Fprintln(t, "PAIR\tSHARED\tBALANCES\tAGREE")
	var findings []settlement.Finding
	for _, p := range rep.Pairs {
		fmt.Fprintf(t, "%s ~ %s\t%d\t%+d / %+d\t%s\n", shortPeer(p.A), shortPeer(p.B), p.Shared, p.BalanceA, p.BalanceB, yesNo(p.Agree()))
		findings = append(findings, p.Findings...)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if len(findings) > 0 {
		fmt.Fprintln(w)
	}
	for _, f := range findings {
		blame := "at fault"
		switch f.Kind {
		case settlement.FindingNewer:
			blame = "export older"
		case settlement.FindingLost:
			blame = "lost entries (declared)"
		}
		fmt.Fprintf(w, "%s: %s %s (entry %d of %s): %s\n", f.Kind, shortPeer(f.Subject), blame, f.Seq, shortPeer(f.Holder), f.Detail)
	}
	ok := "no faults"
	if n := rep.Faults(); n > 0 {
		ok = fmt.Sprintf("%d faults", n)
	}
	_, err := fmt.Fprintf(w, "\n%s among %d pairs in %.3fs\n", ok, len(rep.Pairs), took.Seconds())
	return err
}

// The report as --json prints it.
type (
	auditOut struct {
		Faults  int         `json:"faults"`
		Ledgers []ledgerOut `json:"ledgers"`
		Pairs   []pairOut   `json:"pairs"`
	}
	ledgerOut struct {
		Node        string `json:"node"`
		Export      string `json:"export"`
		Seq         uint64 `json:"seq"`
		Head        string `json:"head"`
		Time        int64  `json:"time"` // last entry's, Unix ms
		Entries     uint64 `json:"entries"`
		Unsealed    uint64 `json:"unsealed"`
		Receipts    uint64 `json:"receipts"`
		Settlements uint64 `json:"settlements"`
		Unchecked   int    `json:"unchecked"` // receipts and settlements with nodes not given
	}
	pairOut struct {
		A        string       `json:"a"`
		B        string       `json:"b"`
		Shared   int          `json:"shared"`
		BalanceA int64        `json:"balance_a"` // A's balance with B: positive when B owes A
		BalanceB int64        `json:"balance_b"`
		Agree    bool         `json:"agree"`
		Findings []findingOut `json:"findings"`
	}
	findingOut struct {
		Kind    string `json:"kind"`
		Subject string `json:"subject"`
		Holder  string `json:"holder"`
		Seq     uint64 `json:"seq"`
		Item    string `json:"item"`
		Job     string `json:"job,omitempty"`
		Amount  int64  `json:"amount"`
		Detail  string `json:"detail"`
	}
)

func auditJSON(rep settlement.AuditReport) auditOut {
	out := auditOut{Faults: rep.Faults(), Ledgers: []ledgerOut{}, Pairs: []pairOut{}}
	for _, l := range rep.Ledgers {
		out.Ledgers = append(out.Ledgers, ledgerOut{Node: l.Node, Export: l.Name, Seq: l.Seq, Head: l.Head, Time: l.Time, Entries: l.Entries,
			Unsealed: l.Unsealed, Receipts: l.Receipts, Settlements: l.Settles, Unchecked: l.Unchecked})
	}
	for _, p := range rep.Pairs {
		po := pairOut{A: p.A, B: p.B, Shared: p.Shared, BalanceA: p.BalanceA, BalanceB: p.BalanceB, Agree: p.Agree(), Findings: []findingOut{}}
		for _, f := range p.Findings {
			po.Findings = append(po.Findings, findingOut(f))
		}
		out.Pairs = append(out.Pairs, po)
	}
	return out
}
