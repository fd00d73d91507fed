package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hayek sim runs in-process: the table with the seed it used, JSON with
// the keys, plots, and usage errors with a hint.
func TestSim(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "small.toml")
	if err := os.WriteFile(cfg, []byte(`
requesters = 2
ledger = false
[[population]]
kind = "honest"
count = 12
[[population]]
kind = "cheat"
count = 2
cost_min = 40
cost_max = 45
`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "sim", "--config", cfg, "--jobs", "300", "--seed", "7")
	r.want(t, ExitOK)
	if !strings.Contains(r.stderr, "seed 7") || !strings.Contains(r.stdout, "wrong_per_10k") || !strings.Contains(r.stdout, "before replicate:2") {
		t.Fatalf("hayek sim printed:\n%s\n%s", r.stdout, r.stderr)
	}
	plots := t.TempDir()
	j := runCLI(t, "sim", "--config", cfg, "--jobs", "300", "--seed", "7", "--design", "after", "--json", "--plot", plots)
	j.want(t, ExitOK)
	var out map[string]any
	if err := json.Unmarshal([]byte(j.stdout), &out); err != nil {
		t.Fatalf("--json printed %q: %v", j.stdout, err)
	}
	for _, k := range []string{"wrong_per_10k", "dishonest_award_share", "sybil_award_share", "honest_excluded_share", "replicas_per_job", "detect_jobs_max", "seed"} {
		if _, ok := out[k]; !ok {
			t.Errorf("--json has no %q: %s", k, j.stdout)
		}
	}
	if out["seed"] != float64(7) {
		t.Errorf("seed %v, want 7", out["seed"])
	}
	pngs, _ := filepath.Glob(filepath.Join(plots, "*.png"))
	if len(pngs) != 3 {
		t.Errorf("--plot wrote %v, want 3 PNGs", pngs)
	}
	sw := runCLI(t, "sim", "--config", cfg, "--jobs", "300", "--seeds", "7-8")
	sw.want(t, ExitOK)
	for _, want := range []string{"replicas_per_job", "mean", "worst", "of 2 seeds meet every goal"} {
		if !strings.Contains(sw.stdout, want) {
			t.Errorf("--seeds printed no %q:\n%s", want, sw.stdout)
		}
	}
	if !strings.Contains(sw.stderr, "seed 8 done") {
		t.Errorf("--seeds reported no progress: %s", sw.stderr)
	}
	swj := runCLI(t, "sim", "--config", cfg, "--jobs", "300", "--seeds", "8,7", "--json")
	swj.want(t, ExitOK)
	var sweep struct {
		Runs []struct {
			Seed           uint64  `json:"seed"`
			ReplicasPerJob float64 `json:"replicas_per_job"`
		} `json:"runs"`
		Summary struct {
			Seeds int `json:"seeds"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(swj.stdout), &sweep); err != nil {
		t.Fatalf("--seeds --json printed %q: %v", swj.stdout, err)
	}
	if len(sweep.Runs) != 2 || sweep.Runs[0].Seed != 8 || sweep.Runs[1].Seed != 7 || sweep.Summary.Seeds != 2 || sweep.Runs[1].ReplicasPerJob != out["replicas_per_job"] {
		t.Errorf("--seeds 8,7 --json: %+v; seed 7 alone had %v runs per job", sweep, out["replicas_per_job"])
	}
	for _, args := range [][]string{{"--seeds", "9-3"}, {"--seeds", "1-2", "--seed", "4"}, {"--seeds", "1-2", "--design", "both"}} {
		r := runCLI(t, append([]string{"sim"}, args...)...)
		r.want(t, ExitUsage)
		if !strings.Contains(r.stderr, "Try:") {
			t.Errorf("hayek sim %v: usage error without a hint: %s", args, r.stderr)
		}
	}
	bad := runCLI(t, "sim", "--design", "sideways")
	bad.want(t, ExitUsage)
	if !strings.Contains(bad.stderr, "Try:") {
		t.Errorf("usage error without a hint: %s", bad.stderr)
	}
}
