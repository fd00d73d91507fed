package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/internal/sim"
)

// simJSON is `hayek sim --json`: the last variant's report (the design
// under test) as one object, with the others under "compare".
type simJSON struct {
	*sim.Report
	Compare []*sim.Report `json:"compare,omitempty"`
}

func newSimCmd(g *globals) *cobra.Command {
	var (
		config, plotDir, design, seeds string
		asJSON                         bool
		seed                           uint64
		jobs                           int
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate a market under attack and measure its integrity",
		Long: `Simulate hundreds of providers and thousands of jobs, with cheaters,
colluders, sybils, whitewashers, lazy providers and non-paying requesters,
and measure whether lying pays: wrong results accepted per 10,000 jobs, the
share of awards dishonest identities win, how fast cheaters are found, honest
providers pushed out, and what verification costs in runs per job.

The simulator runs the real auction (market.Job, market.Provider), reputation
book and odds rule, and settlement ledger, over a simulated network with
virtual time: no node, no sleep. It is deterministic: the same configuration
and seed print the same table.

Without --config it runs the setting of the goals in the README (20% dishonest
providers of every kind, a flood of 100 sybils, 20,000 jobs). --config reads a
TOML file of the same shape (see internal/sim/testdata/default.toml); fields it
leaves out keep their defaults. --design both (the default) prints the design
before issue 10 beside the current one.

--seeds runs the configuration's own design (the "after" column) once per
seed, two runs at a time on two cores, and prints one row per seed with the
goals' figures, the mean and the worst, and which seeds miss which goals
(marked *). With --json it prints {"runs": [...], "summary": {...}}.`,
		Example: `  hayek sim
  hayek sim --seed 7 --json
  hayek sim --config internal/sim/testdata/default.toml --plot plots/
  hayek sim --seeds 1-40`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg := sim.DefaultConfig()
			if config != "" {
				f, err := os.Open(config)
				if err != nil {
					return usageErrorf("%v\nTry: hayek sim --config FILE with a TOML file", err)
				}
				cfg, err = sim.ParseConfig(f)
				f.Close()
				if err != nil {
					return usageErrorf("%s: %v", config, err)
				}
			}
			if c.Flags().Changed("seed") {
				cfg.Seed = seed
			}
			if c.Flags().Changed("jobs") {
				cfg.Jobs = jobs
			}
			if err := cfg.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			if seeds != "" {
				if c.Flags().Changed("seed") {
					return usageErrorf("--seed and --seeds: give one\nTry: hayek sim --seeds 1-40, or hayek sim --seed 7")
				}
				if plotDir != "" || (c.Flags().Changed("design") && design != "after" && design != "current") {
					return usageErrorf("--seeds runs the design under test only, without plots\nTry: hayek sim --seeds %s, then hayek sim --seed N --plot DIR for one seed", seeds)
				}
				return runSweep(c, g, cfg, seeds, asJSON)
			}
			var vs []sim.Variant
			switch design {
			case "both":
				vs = sim.Variants(cfg)
			case "after", "current":
				vs = sim.Variants(cfg)[2:]
			case "before":
				vs = sim.Variants(cfg)[:2]
			default:
				return usageErrorf("--design %q: want both, before or after\nTry: hayek sim --help", design)
			}
			// The simulator allocates freely and keeps little: trade
			// memory for fewer collections.
			defer debug.SetGCPercent(debug.SetGCPercent(400))
			fmt.Fprintf(g.Stderr, "hayek sim: seed %d, %d jobs, %d variants (rerun with --seed %d)\n", cfg.Seed, cfg.Jobs, len(vs), cfg.Seed)
			reps, err := sim.RunAll(c.Context(), vs)
			if err != nil {
				return err
			}
			if plotDir != "" {
				for _, r := range reps {
					files, err := sim.WritePlots(plotDir, r)
					if err != nil {
						return err
					}
					fmt.Fprintf(g.Stderr, "wrote %s\n", strings.Join(files, ", "))
				}
			}
			if asJSON {
				out := simJSON{Report: reps[len(reps)-1], Compare: reps[:len(reps)-1]}
				e := json.NewEncoder(g.Stdout)
				e.SetIndent("", "  ")
				return e.Encode(out)
			}
			if err := sim.WriteTable(g.Stdout, reps...); err != nil {
				return err
			}
			if miss := sim.DefaultGoals().Misses(reps[len(reps)-1]); len(miss) > 0 {
				fmt.Fprintf(g.Stdout, "\n%s misses: %s\n", reps[len(reps)-1].Name, strings.Join(miss, "; "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "TOML file describing the market and its populations (default: the goals' setting)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object (the other designs under \"compare\")")
	cmd.Flags().StringVar(&plotDir, "plot", "", "write PNG plots (award share, reputation, detection) to this directory")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the run (overrides the config's)")
	cmd.Flags().IntVar(&jobs, "jobs", 20_000, "jobs to submit (overrides the config's)")
	cmd.Flags().StringVar(&seeds, "seeds", "", "run the design under test once per seed, e.g. 1-40 or 1-20,37, and print one row per seed")
	cmd.Flags().StringVar(&design, "design", "both", "both, before (the design before issue 10) or after (the current one)")
	return cmd
}

// runSweep is `hayek sim --seeds`: the design under test over many seeds.
func runSweep(c *cobra.Command, g *globals, cfg sim.Config, list string, asJSON bool) error {
	ss, err := sim.ParseSeeds(list)
	if err != nil {
		return usageErrorf("%v\nTry: hayek sim --seeds 1-40", err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	fmt.Fprintf(g.Stderr, "hayek sim: %d seeds, %d jobs each, the design under test\n", len(ss), cfg.Jobs)
	n := 0
	reps, err := sim.Sweep(c.Context(), cfg, ss, func(r *sim.Report) {
		n++
		fmt.Fprintf(g.Stderr, "  seed %d done (%d of %d, %.0f s)\n", r.Seed, n, len(ss), r.WallSeconds)
	})
	if err != nil {
		return err
	}
	goals := sim.DefaultGoals()
	if asJSON {
		e := json.NewEncoder(g.Stdout)
		e.SetIndent("", "  ")
		return e.Encode(struct {
			Runs    []*sim.Report    `json:"runs"`
			Summary sim.SweepSummary `json:"summary"`
		}{reps, goals.Summarize(reps)})
	}
	return sim.WriteSweep(g.Stdout, goals, reps)
}
