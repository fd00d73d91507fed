package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/testnet"
)

func newTestnetSetupCmd(g *globals) *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "setup MANIFEST",
		Short: "Resolve a manifest into a testnet directory: compose file, keys, homes",
		Long: `Resolve a TOML manifest (see testnet/networks/ci.toml) into DIR: docker-compose.yml,
testnet.json, and each node's home (DIR/homes/NODE, mode 0700) with its
identity (derived from the manifest's seed) and config.toml. Nothing starts:
hayek testnet up does that. The containers run as your user, so your client
commands reach each node's socket.`,
		Example: `  hayek testnet setup testnet/networks/ci.toml --dir /tmp/ci`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := testnet.LoadManifest(args[0])
			if err != nil {
				return withCode(ExitUsage, err)
			}
			uid, gid := hostIDs()
			t, err := testnet.Setup(m, dir, uid, gid)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			out := cmd.OutOrStdout()
			tw := newTable(out)
			fmt.Fprintln(tw, "NODE\tPEER\tADDRESSES\tROLE")
			for _, n := range t.Nodes {
				role := ""
				if n.Requester {
					role += "requester "
				}
				if n.Sell {
					role += "provider "
				}
				if n.Bootstrap {
					role += "bootstrap "
				}
				if len(n.Misbehave) > 0 {
					role += fmt.Sprint(n.Misbehave)
				}
				var addrs []string
				for _, a := range n.Addrs {
					addrs = append(addrs, a.Network+"="+a.IP)
				}
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", n.Name, shortPeer(n.PeerID), addrs, role)
			}
			tw.Flush()
			fmt.Fprintf(out, "wrote %s/%s; next: hayek testnet up --dir %s\n", t.Dir, testnet.ComposeFile, dir)
			return nil
		},
	}
	dirFlag(c, &dir)
	return c
}
