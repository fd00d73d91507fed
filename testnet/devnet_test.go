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
	// Every node's counters were collected; each job's call went out on
	// the wire and reached the other nodes, its requester looked up
	// providers on the DHT at least once.
	tr := res.Report.Traffic
	if tr == nil || len(tr.Nodes) != 3 || len(tr.Missing) > 0 || tr.Jobs != 6 {
		t.Fatalf("traffic %+v, want the counters of 3 nodes over 6 jobs", tr)
	}
	if tr.Total.Auctions < 6 || tr.PerJob.GossipMessages < 1 || tr.PerJob.GossipDeliveries < 1 ||
		tr.Total.DHTLookups < 1 || tr.PerJob.Streams < 3 {
		t.Errorf("traffic %+v", tr.Total)
	}
	crash, _ := LoadScenario("crash")
	if _, err := runDevnet(t.Context(), RunOptions{Out: filepath.Join(dir, "crash"), Devnet: 3}, mix, crash); err == nil {
		t.Fatal("a devnet ran the crash scenario, which needs containers")
	}
}
