package main

import (
	"slices"
	"strings"
	"time"

	"github.com/hayek-market/hayek/testnet"

	"github.com/spf13/cobra"
)

func newTestnetWaitCmd(g *globals) *cobra.Command {
	var (
		dir     string
		timeout time.Duration
		offers  int
		all     bool
		jobs    bool
		warm    string
	)
	c := &cobra.Command{
		Use:   "wait",
		Short: "Wait until every requester sees enough offers (or, with --jobs, every job has ended)",
		Long: `Wait until every requester node (every node, with --all) holds live offers from
--offers other providers (default: every other selling node, up to 20), or with --jobs
until every job load submitted has completed, failed or been cancelled. With
--warm-up providers it then runs each module of the manifest's job mix once on every
provider (pinned by placement, two at a time), as a scenario's warm_up = "providers".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(testnet.WarmUpModes, warm) {
				return usageErrorf("--warm-up %q: want %s", warm, strings.Join(testnet.WarmUpModes, " or "))
			}
			r, err := testnetRunner(g, dir)
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			if jobs {
				return r.WaitJobs(ctx)
			}
			if err := r.WaitOffers(ctx, offers, all); err != nil || warm != testnet.WarmProviders {
				return err
			}
			return r.WarmUpProviders(ctx)
		},
	}
	dirFlag(c, &dir)
	timeoutFlag(c, &timeout, 2*time.Minute)
	c.Flags().IntVar(&offers, "offers", -1, "offers each node must see (-1: every other seller's)")
	c.Flags().BoolVar(&all, "all", false, "every node, not only the requesters")
	c.Flags().BoolVar(&jobs, "jobs", false, "wait for the submitted jobs to end instead")
	c.Flags().StringVar(&warm, "warm-up", testnet.WarmRequesters, "what to warm before returning: requesters, or providers too (every mix module on every provider)")
	return c
}
