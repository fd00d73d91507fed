package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/testnet"
)

func newTestnetReportCmd(g *globals) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "report",
		Short: "Write report.json, report.md and plots from what check collected",
		Long: `Write OUT/report.json, OUT/report.md and PNG plots (latency CDF, jobs completed
over time with the faults marked, providers' reputation over time, award
share per provider) from OUT/collected, which hayek testnet check writes. It
needs no running net. Messages and DHT lookups per job, net-wide and per
node, come from the counters check collected from every node (hayek
metrics).`,
		Example: `  hayek testnet check --out /tmp/run && hayek testnet report --out /tmp/run`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := testnet.WriteReport(out)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			printReportFigures(cmd.OutOrStdout(), rep)
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %d plots\n", filepath.Join(out, "report.md"), len(rep.Plots))
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", defaultTestnetDir, "the directory check collected into")
	return c
}
