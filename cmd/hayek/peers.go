package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func init() { register(newPeersCmd) }

func newPeersCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "peers",
		Short:   "List the peers this node knows",
		Example: "  hayek peers\n  hayek peers --json | jq -r '.[].peer_id'",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := connect(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			peers, err := cl.Peers(c.Context())
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, peers)
			}
			t := newTable(g.Stdout)
			fmt.Fprintln(t, "PEER\tCONNECTED\tLATENCY\tPROVIDER\tADDRESSES")
			for _, p := range peers {
				latency := "-"
				if p.LatencyMs > 0 {
					latency = fmt.Sprintf("%.1fms", p.LatencyMs)
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", shortPeer(p.PeerID), yesNo(p.Connected), latency, yesNo(p.Provider),
					orDash(strings.Join(p.Addrs, " ")))
			}
			return t.Flush()
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
