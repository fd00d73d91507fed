package main

import (
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newLedgerBalanceCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "balance",
		Short: "Show where the money is: budgets, holds, balances with peers",
		Long: `Show the ledger's totals and the invariant they keep (funded = budgets left +
held + paid), each agent's budget, the holds open for jobs under way, and the
bilateral balance with each peer: positive, the peer owes this node; negative,
this node owes the peer; with the credit limit this node gives the peer.

A broken invariant exits 1: the ledger does not add up (hayek ledger verify).`,
		Example: "  hayek ledger balance\n  hayek ledger balance --json | jq .peers",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			b, err := ask(c, g, (*api.Client).LedgerBalance)
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				if err := writeJSON(g.Stdout, b); err != nil {
					return err
				}
			} else if err := printBalance(g.Stdout, b); err != nil {
				return err
			}
			if d := invariantGap(b); d.Sign() != 0 {
				return withCode(ExitFailed, fmt.Errorf("the ledger does not add up: funded %d ≠ budgets left %d + held %d + paid %d (off by %d)\nTry: hayek ledger verify",
					b.Funded, b.Budgets, b.Held, b.Paid, d))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the balance as JSON")
	return c
}

func printBalance(w io.Writer, b api.Balance) error {
	t := newTable(w)
	fmt.Fprintf(t, "ledger\tseq %d, head %s\n", b.Seq, orDash(b.Head))
	fmt.Fprintf(t, "funded\t%d\n", b.Funded)
	fmt.Fprintf(t, "budgets left\t%d\n", b.Budgets)
	fmt.Fprintf(t, "held\t%d\n", b.Held)
	fmt.Fprintf(t, "paid\t%d\n", b.Paid)
	fmt.Fprintf(t, "earned\t%d\n", b.Earned)
	check := "holds"
	if invariantGap(b).Sign() != 0 {
		check = "BROKEN"
	}
	fmt.Fprintf(t, "invariant\tfunded %d = budgets left %d + held %d + paid %d: %s\n", b.Funded, b.Budgets, b.Held, b.Paid, check)
	err := t.Flush()

	section := func(title string, n int, header string, row func(t io.Writer, i int)) {
		fmt.Fprintf(w, "\n%s\n", title)
		if n == 0 {
			fmt.Fprintln(w, "  none")
			return
		}
		t := newTable(w)
		fmt.Fprintln(t, header)
		for i := range n {
			row(t, i)
		}
		err = errors.Join(err, t.Flush())
	}
	section("agents", len(b.Agents), "  AGENT\tBUDGET LEFT\tHELD\tSPENT\tFUNDED\tSTATUS", func(t io.Writer, i int) {
		a := b.Agents[i]
		fmt.Fprintf(t, "  %s\t%d\t%d\t%d\t%d\t%s\n", a.Name, a.BudgetLeft, a.Held, a.Spent, a.Funded, agentStatus(a))
	})
	section("open holds", len(b.Holds), "  JOB\tAGENT\tAMOUNT\tREMAINING", func(t io.Writer, i int) {
		h := b.Holds[i]
		fmt.Fprintf(t, "  %s\t%s\t%d\t%d\n", h.Job, h.Agent, h.Amount, h.Remaining)
	})
	section("peers", len(b.Peers), "  PEER\tBALANCE\t\tCREDIT LIMIT", func(t io.Writer, i int) {
		p := b.Peers[i]
		who := "settled"
		switch {
		case p.Balance > 0:
			who = "owes this node"
		case p.Balance < 0:
			who = "this node owes it"
		}
		fmt.Fprintf(t, "  %s\t%+d\t%s\t%d\n", shortPeer(p.Peer), p.Balance, who, p.CreditLimit)
	})
	return err
}

// invariantGap is funded - (budgets left + held + paid), exact: amounts
// near the int64 limit must not wrap into a gap of 0.
func invariantGap(b api.Balance) *big.Int {
	d := big.NewInt(b.Funded)
	for _, v := range []int64{b.Budgets, b.Held, b.Paid} {
		d.Sub(d, big.NewInt(v))
	}
	return d
}
