package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/testnet"
)

func newTestnetSetupCmd(g *globals) *cobra.Command {
	var dir, scenario string
	c := &cobra.Command{
		Use:   "setup MANIFEST [--scenario NAME|FILE]",
		Short: "Resolve a manifest into a testnet directory: compose file, keys, homes",
		Long: `Resolve a TOML manifest (see testnet/networks/ci.toml) into DIR: docker-compose.yml,
testnet.json, and each node's home (DIR/homes/NODE, mode 0700) with its
identity (derived from the manifest's seed) and config.toml. Nothing starts:
hayek testnet up does that. The containers run as your user, so your client
commands reach each node's socket.

--scenario applies a scenario to the manifest as hayek testnet run does (its
networks, nodes, misbehaviour, verification) and records its [expect] in
testnet.json, so hayek testnet check enforces it. Its load (jobs, rate,
warm-up) and steps are the later stages' to run, as the output says.

Scenarios (testnet/scenarios/, or a file of your own):
  ` + strings.Join(testnet.Scenarios(), ", "),
		Example: `  hayek testnet setup testnet/networks/ci.toml --dir /tmp/ci
  hayek testnet setup testnet/networks/ci.toml --scenario sybil-adaptive --dir /tmp/sybil`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := testnet.LoadManifest(args[0])
			if err != nil {
				return withCode(ExitUsage, err)
			}
			var sc *testnet.Scenario
			if scenario != "" {
				if sc, err = testnet.LoadScenario(scenario); err != nil {
					return usageErrorf("%w\nTry: hayek testnet setup %s --scenario NAME, NAME one of %s, or a scenario file",
						err, args[0], strings.Join(testnet.Scenarios(), ", "))
				}
				if err := sc.Apply(m); err != nil {
					return withCode(ExitUsage, err)
				}
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
			if sc != nil {
				printScenarioStages(out, sc, t.Expect, dir)
			}
			return nil
		},
	}
	dirFlag(c, &dir)
	c.Flags().StringVar(&scenario, "scenario", "", "apply a scenario, name or file, and record its [expect] for check")
	return c
}

// printScenarioStages says what setup recorded of a scenario and how to
// run the rest of it stage by stage, since only run drives its load and
// steps.
func printScenarioStages(w io.Writer, sc *testnet.Scenario, e *testnet.Expect, dir string) {
	n := 0
	if e != nil {
		n = len(e.AwardShareMax)
		if e.WrongAcceptedMax != nil {
			n++
		}
		if e.SuccessMin != nil {
			n++
		}
		if e.FailedReasons != nil {
			n++
		}
	}
	plural := "s"
	if n == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "scenario %s: %d expectation%s for hayek testnet check ([expect] in testnet.json)\n", sc.Name, n, plural)
	warm := ""
	if sc.WarmUp != "" && sc.WarmUp != testnet.WarmRequesters {
		warm = " --warm-up " + sc.WarmUp
	}
	fmt.Fprintf(w, "its load: hayek testnet wait --dir %s%s && hayek testnet load --dir %s --jobs %d --rate %g\n", dir, warm, dir, sc.Jobs, sc.Rate)
	if len(sc.Steps) > 0 {
		fmt.Fprintf(w, "its %d steps are not run by the stages: take them with hayek testnet perturb, partition and heal (the scenario's [[step]])\n", len(sc.Steps))
	}
}
