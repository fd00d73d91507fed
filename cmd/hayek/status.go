package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func init() { register(newStatusCmd) }

func newStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the local node's state",
		Long: `Show the local node's identity, addresses, version, uptime, peers, what it
sells, and its jobs by state. A node that cannot be reached exits 3.`,
		Example: "  hayek status\n  hayek status --json | jq .peer_id",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := connect(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			st, err := cl.Status(c.Context())
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, st)
			}
			t := newTable(g.Stdout)
			fmt.Fprintf(t, "peer id\t%s\n", st.PeerID)
			fmt.Fprintf(t, "version\t%s\n", orDash(st.Version))
			if !st.StartedAt.IsZero() {
				fmt.Fprintf(t, "up\t%v (since %s)\n", time.Since(st.StartedAt).Round(time.Second), st.StartedAt.Local().Format(time.DateTime))
			}
			for _, a := range st.Addrs {
				fmt.Fprintf(t, "address\t%s\n", a)
			}
			fmt.Fprintf(t, "peers\t%d\n", st.Peers)
			selling := "no"
			if st.Selling {
				selling = fmt.Sprintf("yes: %s (running %d jobs)", strings.Join(st.Capabilities, ", "), st.Running)
			}
			fmt.Fprintf(t, "selling\t%s\n", selling)
			var jobs []string
			for _, s := range jobStates {
				if n := st.Jobs[s]; n > 0 {
					jobs = append(jobs, fmt.Sprintf("%d %s", n, s))
				}
			}
			fmt.Fprintf(t, "jobs\t%s\n", orDash(strings.Join(jobs, ", ")))
			if len(st.Dropped) > 0 {
				reasons := make([]string, 0, len(st.Dropped))
				for r := range st.Dropped {
					reasons = append(reasons, r)
				}
				sort.Strings(reasons)
				for i, r := range reasons {
					reasons[i] = fmt.Sprintf("%d %s", st.Dropped[r], r)
				}
				fmt.Fprintf(t, "dropped\t%s\n", strings.Join(reasons, ", "))
			}
			return t.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return c
}
