package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/testnet"
)

func newTestnetCheckCmd(g *globals) *cobra.Command {
	var (
		dir, out string
		timeout  time.Duration
		offline  bool
	)
	c := &cobra.Command{
		Use:   "check",
		Short: "Collect every node's ledger and jobs, and prove they agree",
		Long: `Wait until the net is at rest (every job ended, no hold open), then collect into
OUT/collected every node's status, deep ledger verification and ledger
export, and every job's state and events; then prove, from those files:
  - every ledger verifies deep, on its node and as an export, offline
  - hayek ledger audit over all exports finds no fault; every pair's
    bilateral balances agree
  - money is conserved: what requesters paid equals what providers earned,
    and nothing is left on holds
  - no job is lost: each completed, or failed with a reason the agent reads
  - the scenario's [expect] holds (wrong results accepted, award share by
    tag, share of jobs completed, failure reasons), on a net run set up
Writes OUT/check.json; exits 1 when anything fails. --offline checks what is
already collected, without a net.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				out = dir
			}
			ctx := cmd.Context()
			if !offline {
				r, err := testnetRunner(g, dir)
				if err != nil {
					return err
				}
				cctx, cancel := withTimeout(ctx, timeout)
				defer cancel()
				if err := r.Collect(cctx, out); err != nil {
					return err
				}
			}
			res, err := testnet.Check(ctx, out)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			if err := writeJSONFile(filepath.Join(out, "check.json"), res); err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), res.Summary())
			if !res.OK {
				return withCode(ExitFailed, fmt.Errorf("check failed: %d problems (see above and %s)", len(res.Failures), filepath.Join(out, "check.json")))
			}
			return nil
		},
	}
	dirFlag(c, &dir)
	timeoutFlag(c, &timeout, 5*time.Minute)
	c.Flags().StringVar(&out, "out", "", "where to collect and write check.json (default: the testnet's directory)")
	c.Flags().BoolVar(&offline, "offline", false, "check OUT/collected as it is, without collecting")
	return c
}

func writeJSONFile(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeJSON(f, v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
