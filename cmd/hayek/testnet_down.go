package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newTestnetDownCmd(g *globals) *cobra.Command {
	var (
		dir       string
		timeout   time.Duration
		keepHomes bool
	)
	c := &cobra.Command{
		Use:   "down",
		Short: "Remove every container, network and volume of the testnet, and its homes",
		Long: `Remove the testnet: compose down, then every container, network and
volume still labelled hayek.testnet=NAME, then the nodes' homes (keep them,
ledgers included, with --keep-homes). Collected data and reports stay.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := testnetRunner(g, dir)
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := r.Down(ctx, keepHomes); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "testnet %s removed\n", r.T.Name)
			return nil
		},
	}
	dirFlag(c, &dir)
	timeoutFlag(c, &timeout, 2*time.Minute)
	c.Flags().BoolVar(&keepHomes, "keep-homes", false, "keep the nodes' homes (identities, ledgers)")
	return c
}
