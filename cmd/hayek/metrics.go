package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newMetricsCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "metrics",
		Short: "Print the local node's counters (Prometheus text format)",
		Long: `Print the local node's metrics as GET /v1/metrics serves them, in the
Prometheus text exposition format: gossip messages published, received,
rejected and sent on the wire per topic, direct streams opened and served per
protocol, DHT lookups and provides, auctions, bids and declines sent, jobs by
state, dropped messages by reason, and the Go runtime's and process's
figures. Operator only. --json prints the same as JSON: one object per
metric with its samples.

The node opens no port for them: scrape the socket (curl --unix-socket), or
run this command.`,
		Example: "  hayek metrics\n  hayek metrics | grep '^hayek_gossip'\n  hayek metrics --json | jq '.[] | select(.name == \"hayek_auctions_total\")'",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			text, err := ask(c, g, (*api.Client).Metrics)
			if err != nil {
				return clientError(err)
			}
			if !asJSON {
				_, err := g.Stdout.Write(text)
				return err
			}
			m, err := api.ParseMetrics(text)
			if err != nil {
				return fmt.Errorf("hayek: the node's metrics do not parse: %w", err)
			}
			return writeJSON(g.Stdout, m)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the metrics as JSON")
	return c
}
