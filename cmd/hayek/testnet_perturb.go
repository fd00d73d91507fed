package main

import (
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/testnet"
)

func newTestnetPerturbCmd(g *globals) *cobra.Command {
	var (
		dir     string
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "perturb ACTION NODES",
		Short: "Inject a fault into nodes: kill, pause, resume, restart, stop, disconnect, connect",
		Long: `Inject a fault into the nodes NODES names (a node, a group, tag:NAME, or a
comma-separated list of those):
  kill        SIGKILL the node (kill -9): nothing is flushed or withdrawn
  pause       freeze the container; resume thaws it
  restart     start it again after kill or stop (waits until its API answers)
  stop        stop it gracefully: offer withdrawn, running jobs drained
  disconnect  take it off every network; connect (or heal) puts it back
Each is logged in DIR/perturbations.jsonl and marked on the report's plots.`,
		Example: `  hayek testnet perturb kill p0
  hayek testnet perturb restart p0
  hayek testnet perturb pause tag:b`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("perturb needs an action and nodes\nTry: hayek testnet perturb kill p0")
			}
			if !slices.Contains(testnet.PerturbActions, args[0]) {
				return usageErrorf("unknown action %q: want one of %s", args[0], strings.Join(testnet.PerturbActions, ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := testnetRunner(g, dir)
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			return r.Perturb(ctx, args[0], args[1])
		},
	}
	dirFlag(c, &dir)
	timeoutFlag(c, &timeout, 2*time.Minute)
	return c
}
