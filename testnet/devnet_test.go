package testnet

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDevnetRun runs a small scenario end to end without Docker: three
// nodes in this process, load, collection, check and report.
func TestDevnetRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three libp2p nodes")
	}
	dir := t.TempDir()
	scen := filepath.Join(dir, "small.toml")
	if err := os.WriteFile(scen, []byte("name = \"small\"\njobs = 4\nrate = 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mix := []MixEntry{{Name: "hello", Module: "hello", Stdin: "x", Weight: 1, MaxPrice: 1000}}
	sc, err := LoadScenario(scen)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	res, err := runDevnet(t.Context(), RunOptions{Out: out, Devnet: 3, Log: testLog{t}}, mix, sc)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Check.OK {
		t.Fatalf("check failed:\n%s", res.Check.Summary())
	}
	// Two warm-up jobs (one per requester) and the four of the load.
	if res.Check.Jobs != 6 || res.Check.Completed != 6 || res.Check.Paid == 0 {
		t.Fatalf("%s", res.Check.Summary())
	}
	recs, err := ReadJobs(res.NetDir)
	if err != nil {
		t.Fatal(err)
	}
	agents := map[string]bool{}
	for _, rec := range recs {
		agents[rec.Agent] = true
	}
	if !agents["agent-0"] || !agents["agent-1"] {
		t.Errorf("jobs went through agents %v, want agent-0 and agent-1 of node-1", agents)
	}
	if len(res.Report.Plots) < 3 {
		t.Fatalf("%d plots", len(res.Report.Plots))
	}
	crash, _ := LoadScenario("crash")
	if _, err := runDevnet(t.Context(), RunOptions{Out: filepath.Join(dir, "crash"), Devnet: 3}, mix, crash); err == nil {
		t.Fatal("a devnet ran the crash scenario, which needs containers")
	}
}
