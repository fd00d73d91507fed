package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/testnet"
)

func newTestnetLoadCmd(g *globals) *cobra.Command {
	var (
		dir     string
		timeout time.Duration
		jobs    int
		rate    float64
		mixFile string
		noWait  bool
	)
	c := &cobra.Command{
		Use:   "load",
		Short: "Submit jobs through the requesters and wait until they end",
		Long: `Submit --jobs jobs at --rate per second, round-robin over the requester nodes,
each drawn from the manifest's job mix (or the [[mix]] entries of --mix FILE).
Each job is recorded in DIR/jobs.jsonl; then load waits until every one has
completed, failed or been cancelled (unless --no-wait).`,
		Example: `  hayek testnet load --jobs 50 --rate 5
  hayek testnet load --jobs 10 --rate 1 --mix heavy.toml --no-wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := testnetRunner(g, dir)
			if err != nil {
				return err
			}
			o := testnet.LoadOptions{Jobs: jobs, Rate: rate, Wait: !noWait}
			if mixFile != "" {
				if o.Mix, err = testnet.LoadMix(mixFile); err != nil {
					return withCode(ExitUsage, err)
				}
			}
			if jobs < 1 || rate <= 0 {
				return usageErrorf("--jobs %d --rate %g: want at least one job and a rate above 0", jobs, rate)
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			recs, err := r.Load(ctx, o)
			refused := 0
			for _, rec := range recs {
				if rec.Error != "" {
					refused++
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d jobs submitted, %d refused at submission\n", len(recs)-refused, refused)
			return err
		},
	}
	dirFlag(c, &dir)
	timeoutFlag(c, &timeout, 10*time.Minute)
	c.Flags().IntVar(&jobs, "jobs", 20, "jobs to submit")
	c.Flags().Float64Var(&rate, "rate", 2, "jobs per second")
	c.Flags().StringVar(&mixFile, "mix", "", "TOML file of [[mix]] entries (default: the manifest's)")
	c.Flags().BoolVar(&noWait, "no-wait", false, "return once every job is submitted")
	return c
}
