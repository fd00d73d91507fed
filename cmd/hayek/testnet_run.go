package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/testnet"
)

func newTestnetRunCmd(g *globals) *cobra.Command {
	var (
		scenario, out string
		keepUp        bool
		devnet        int
	)
	c := &cobra.Command{
		Use:   "run MANIFEST --scenario NAME --out DIR",
		Short: "Run a scenario end to end: setup, up, load with faults, check, report, down",
		Long: `Run a scenario on a fresh testnet: setup (into DIR/net), up, wait for offers,
load with the scenario's faults, bring every node back, check, report into
DIR, and down. Exits 0 when the check passes; otherwise 1, leaving the net up
for inspection and saying how to take it down.

Compose is the docker compose plugin where it answers, else docker-compose;
HAYEK_COMPOSE="docker compose" or "docker-compose" picks one, and the log
names the one used.

Without Docker, --devnet N runs the scenario on N nodes in this process
(hayek devnet) instead: the same load, check and report, but no container
faults, so only scenarios without them (baseline); MANIFEST is then
optional and supplies only the job mix.

Scenarios (testnet/scenarios/, or a file of your own):
  ` + strings.Join(testnet.Scenarios(), ", "),
		Example: `  scripts/testnet-image
  hayek testnet run testnet/networks/ci.toml --scenario crash --out /tmp/crash
  hayek testnet run --devnet 5 --scenario baseline --out /tmp/laptop`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && devnet == 0 {
				return usageErrorf("run needs a manifest (or --devnet N)\nTry: hayek testnet run testnet/networks/ci.toml --scenario baseline --out /tmp/baseline")
			}
			manifest := ""
			if len(args) == 1 {
				manifest = args[0]
			}
			if scenario == "" || out == "" {
				return usageErrorf("run needs --scenario and --out\nTry: hayek testnet run testnet/networks/ci.toml --scenario baseline --out /tmp/baseline")
			}
			if devnet < 0 || devnet == 1 || devnet > 64 {
				return usageErrorf("--devnet %d: want 2 to 64 nodes", devnet)
			}
			uid, gid := hostIDs()
			res, err := testnet.Run(cmd.Context(), testnet.RunOptions{Manifest: manifest, Scenario: scenario, Out: out,
				Log: g.Stderr, UID: uid, GID: gid, KeepUp: keepUp, Devnet: devnet})
			if err != nil {
				if errors.Is(err, testnet.ErrManifest) {
					return withCode(ExitUsage, err)
				}
				if errors.Is(err, testnet.ErrNoDocker) || errors.Is(err, testnet.ErrNoCompose) || errors.Is(err, testnet.ErrNoImage) {
					return withCode(ExitNotRun, err)
				}
				if res != nil {
					return fmt.Errorf("%w\n%s", err, res.DownHint())
				}
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprint(w, res.Check.Summary())
			printReportFigures(w, res.Report)
			fmt.Fprintf(w, "report: %s (%d plots)\n", filepath.Join(out, "report.md"), len(res.Report.Plots))
			if !res.Check.OK {
				return withCode(ExitFailed, fmt.Errorf("check failed\n%s", res.DownHint()))
			}
			if !res.Down {
				fmt.Fprintln(w, res.DownHint())
			}
			return nil
		},
	}
	c.Flags().StringVar(&scenario, "scenario", "", "scenario name or file")
	c.Flags().StringVar(&out, "out", "", "directory for the net, the collected data and the report")
	c.Flags().BoolVar(&keepUp, "keep-up", false, "leave the net up even when the check passes")
	c.Flags().IntVar(&devnet, "devnet", 0, "run on N nodes in this process instead of containers (no Docker; no container faults)")
	return c
}

// printReportFigures prints the report's headline figures.
func printReportFigures(w io.Writer, r *testnet.Report) {
	fmt.Fprintf(w, "jobs %d: completed %d, failed %d, lost %d (success %.1f%%); re-auctions %d; wrong results accepted %d\n",
		r.Jobs, r.Completed, r.Failed, r.Lost, 100*r.SuccessRate, r.Reauctions, r.WrongAccepted)
	fmt.Fprintf(w, "latency submit→result p50 %.0f ms, p90 %.0f ms, p99 %.0f ms; auction p50 %.0f ms, p99 %.0f ms; throughput %.2f jobs/s\n",
		r.Latency.P50, r.Latency.P90, r.Latency.P99, r.AuctionLatency.P50, r.AuctionLatency.P99, r.Throughput)
	if t := r.Traffic; t != nil {
		fmt.Fprintf(w, "per job: gossip messages %.1f (reaching %.1f nodes), direct streams %.1f, DHT lookups %.2f\n",
			t.PerJob.GossipMessages, t.PerJob.GossipDeliveries, t.PerJob.Streams, t.PerJob.DHTLookups)
	}
}
