package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newLedgerSettleCmd(g *globals) *cobra.Command {
	var (
		reference string
		asJSON    bool
	)
	c := &cobra.Command{
		Use:   "settle PEER AMOUNT [--reference R]",
		Short: "Record that a peer paid its debt outside the ledger",
		Long: `As the creditor, record that PEER paid this node AMOUNT outside the ledger
(a bank transfer, cash): a settle entry signed by this node reduces what the
peer owes. Only the creditor can settle, and never more than the debt
(hayek ledger balance shows it). No payment moves: hayek has no payment rail.

PEER is a peer ID, or any start or end of one that names a single peer the
node knows (its short form 12D3…eSTcZ6 will do).`,
		Example:           "  hayek ledger settle 12D3KooW… 5000 --reference 'invoice 2026-03'",
		Args:              nameArgs(2, "a PEER ID and an AMOUNT"),
		ValidArgsFunction: completePeers(g, 0),
		RunE: func(c *cobra.Command, args []string) error {
			amount, err := amountArg(args[1])
			if err != nil {
				return usageErrorf("%v\nTry: hayek ledger balance, to see what the peer owes", err)
			}
			cl, err := connect(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := c.Context()
			peer, err := resolvePeer(ctx, cl, args[0])
			if err != nil {
				return err
			}
			e, err := cl.Settle(ctx, api.Settle{Peer: peer, Amount: amount, Reference: reference})
			var ae *api.Error
			if errors.As(err, &ae) && ae.Code != api.CodeUnauthorized && ae.Code != api.CodeForbidden {
				return withCode(ExitFailed, fmt.Errorf("%w\nTry: hayek ledger balance, to see what %s owes", err, shortPeer(peer)))
			}
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, e)
			}
			_, err = fmt.Fprintf(g.Stdout, "recorded: %s paid %d outside the ledger (entry %d)\n", shortPeer(peer), amount, e.Seq)
			return err
		},
	}
	c.SetFlagErrorFunc(amountFlagError("hayek ledger balance, to see what each peer owes"))
	c.Flags().StringVar(&reference, "reference", "", "what identifies the payment (an invoice or transfer reference), recorded in the entry")
	c.Flags().BoolVar(&asJSON, "json", false, "print the settle entry as JSON")
	return c
}
