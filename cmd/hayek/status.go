package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the local node's state",
		Long: `Show the local node's identity, addresses, version, uptime, peers, what it
sells, its jobs by state and its ledger's head. A node configured to misbehave
(for tests) says so loudly. A node that cannot be reached exits 3.`,
		Example: "  hayek status\n  hayek status --json | jq .peer_id",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			st, err := ask(c, g, (*api.Client).Status)
			if err != nil {
				return clientError(err)
			}
			if len(st.Misbehaving) > 0 {
				// Loud on stderr too, so --json users and scripts see it.
				fmt.Fprintf(g.Stderr, "hayek: WARNING: this node misbehaves on purpose, for tests and research only ([misbehave] in its config: %s); never run it on a real market\n",
					strings.Join(st.Misbehaving, ", "))
			}
			if asJSON {
				return writeJSON(g.Stdout, st)
			}
			t := newTable(g.Stdout)
			if len(st.Misbehaving) > 0 {
				fmt.Fprintf(t, "MISBEHAVING	!!! %s (test-only [misbehave] config) !!!\n", strings.Join(st.Misbehaving, ", "))
			}
			fmt.Fprintf(t, "peer id\t%s\n", st.PeerID)
			fmt.Fprintf(t, "version\t%s\n", orDash(st.Version))
			if !st.StartedAt.IsZero() {
				fmt.Fprintf(t, "up\t%v (since %s)\n", time.Since(st.StartedAt).Round(time.Second), st.StartedAt.Local().Format(time.DateTime))
			}
			for _, a := range st.Addrs {
				fmt.Fprintf(t, "address\t%s\n", a)
			}
			if st.Isolated {
				fmt.Fprintf(t, "peers\t0 — ISOLATED: no bootstrap peer answers; the node keeps dialling them (check network.bootstrap and that they run)\n")
			} else {
				fmt.Fprintf(t, "peers\t%d\n", st.Peers)
			}
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
			if st.LedgerHead != "" {
				fmt.Fprintf(t, "ledger\tseq %d, head %s\n", st.LedgerSeq, st.LedgerHead)
			}
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
