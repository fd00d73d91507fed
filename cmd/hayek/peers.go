package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newPeersCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "peers",
		Short: "List the peers this node knows",
		Long: `List the peers this node knows: whether it is connected to each now, the
latency of the connection, whether the peer sells compute (its offer is
known; hayek offers shows it), and the addresses it was reached at. Peers
are named by the short form of their ID; --json gives whole IDs.`,
		Example: "  hayek peers\n  hayek peers --json | jq -r '.[].peer_id'",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			peers, err := ask(c, g, (*api.Client).Peers)
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, peers)
			}
			return writeTable(g.Stdout, "PEER\tCONNECTED\tLATENCY\tPROVIDER\tADDRESSES", peers, func(t io.Writer, p api.PeerInfo) {
				latency := "-"
				if p.LatencyMs > 0 {
					latency = fmt.Sprintf("%.1fms", p.LatencyMs)
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", shortPeer(p.PeerID), yesNo(p.Connected), latency, yesNo(p.Provider),
					orDash(strings.Join(p.Addrs, " ")))
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the peers as a JSON array, with full peer IDs")
	return c
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
