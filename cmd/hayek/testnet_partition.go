package main

import (
	"time"

	"github.com/spf13/cobra"
)

func newTestnetPartitionCmd(g *globals) *cobra.Command {
	var (
		dir     string
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "partition GROUP_A GROUP_B",
		Short: "Split the net in two: no packet crosses between the groups until heal",
		Long: `Split the testnet: the nodes of GROUP_A keep only the manifest's first network,
those of GROUP_B only its second, so the two sides cannot reach each other.
Groups are node names, group names, tag:NAME, or comma-separated lists.
hayek testnet heal joins the net again.`,
		Example: `  hayek testnet partition tag:a tag:b
  hayek testnet partition r0,p0 r1,p1,p2`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := testnetRunner(g, dir)
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			return r.Partition(ctx, args[0], args[1])
		},
	}
	dirFlag(c, &dir)
	timeoutFlag(c, &timeout, 2*time.Minute)
	return c
}

func newTestnetHealCmd(g *globals) *cobra.Command {
	var (
		dir     string
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "heal",
		Short: "Put every node back on all its networks (ends partitions and disconnects)",
		Long: `Reconnect every node to every network the manifest puts it on, at its fixed
address: the end of a partition or of perturb disconnect. Paused or killed
nodes stay so (perturb resume, perturb restart).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := testnetRunner(g, dir)
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			return r.Heal(ctx)
		},
	}
	dirFlag(c, &dir)
	timeoutFlag(c, &timeout, 2*time.Minute)
	return c
}
