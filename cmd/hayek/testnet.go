package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/testnet"
)

// defaultTestnetDir is where setup writes a testnet and every other
// testnet command looks for it, unless --dir says otherwise.
const defaultTestnetDir = ".testnet"

func newTestnetCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "testnet",
		Short: "Run a docker-compose testnet of real nodes, inject faults, check and report",
		Long: `Run N hayek nodes as containers on private Docker networks, drive load, inject
faults and check that every ledger still adds up. The image is built offline
with scripts/testnet-image (FROM scratch: no registry needed).

Stages, each usable alone, in order:
  setup MANIFEST       resolve a manifest (testnet/networks/ci.toml) into DIR
  up                   start the containers; wait until every API answers
  wait                 wait until every requester sees the offers
  load                 submit jobs; wait until they end
  perturb ACTION NODE  kill, pause, resume, restart, stop, disconnect, connect
  partition A B        split the net in two; heal joins it again
  check                collect ledgers and jobs; prove they agree
  report               write report.json, report.md and plots
  down                 remove every container, network and volume (by label)
run MANIFEST --scenario NAME --out DIR chains them.

A node's operator socket is DIR/homes/NODE/hayek.sock:
  hayek --socket DIR/homes/r0/hayek.sock status`,
		Example: `  scripts/testnet-image
  hayek testnet run testnet/networks/ci.toml --scenario crash --out /tmp/crash
  hayek testnet setup testnet/networks/ci.toml && hayek testnet up && hayek testnet wait
  hayek testnet load --jobs 20 --rate 2 && hayek testnet check && hayek testnet down`,
	}
	c.AddCommand(newTestnetSetupCmd(g), newTestnetUpCmd(g), newTestnetWaitCmd(g), newTestnetLoadCmd(g),
		newTestnetPerturbCmd(g), newTestnetPartitionCmd(g), newTestnetHealCmd(g), newTestnetCheckCmd(g),
		newTestnetReportCmd(g), newTestnetDownCmd(g), newTestnetRunCmd(g))
	return c
}

// testnetRunner opens the testnet in dir for a command.
func testnetRunner(g *globals, dir string) (*testnet.Runner, error) {
	r, err := testnet.NewRunner(dir, g.Stderr)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return r, nil
}

func dirFlag(c *cobra.Command, dir *string) {
	c.Flags().StringVar(dir, "dir", defaultTestnetDir, "the testnet's directory (setup writes it)")
}

func timeoutFlag(c *cobra.Command, d *time.Duration, def time.Duration) {
	c.Flags().DurationVar(d, "timeout", def, "give up waiting after this long")
}

// withTimeout bounds a stage's wait.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

func hostIDs() (int, int) { return os.Getuid(), os.Getgid() }
