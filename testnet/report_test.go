package testnet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// testdata/run-crash/collected is what Collect gathered from a real run of
// ci.toml (six jobs, a provider killed mid-job and restarted): real
// ledger exports, signed by the nodes' seeded keys.
const fixtureRun = "testdata/run-crash"

// copyRun copies the fixture so a test can write into it.
func copyRun(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(fixtureRun)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestCheckCollectedRun(t *testing.T) {
	res, err := Check(t.Context(), fixtureRun)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("check failed:\n%s", res.Summary())
	}
	if len(res.Ledgers) != 5 || countOK(res.Ledgers) != 5 {
		t.Errorf("ledgers %+v, want 5 verified", res.Ledgers)
	}
	if res.Paid != res.Earned || res.Paid == 0 || res.Held != 0 {
		t.Errorf("paid %d earned %d held %d", res.Paid, res.Earned, res.Held)
	}
	if res.Jobs != 8 || res.Completed != 8 || res.Lost != 0 || res.Reauctions != 1 {
		t.Errorf("jobs: %s", res.Summary())
	}
	if res.Pairs != 10 || res.PairsAgree != 10 || res.AuditFaults != 0 {
		t.Errorf("audit: %s", res.Summary())
	}
}

func TestCheckCatchesATamperedLedger(t *testing.T) {
	dir := copyRun(t)
	path := filepath.Join(dir, collectedDir, exportsDir, "r1.jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Raise the price of the first receipt in the requester's own copy.
	i := strings.Index(string(b), `"price":`)
	if i < 0 {
		t.Fatal("no receipt in the fixture")
	}
	b = []byte(string(b[:i]) + `"price":9` + string(b[i+len(`"price":`):]))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Check(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !strings.Contains(strings.Join(res.Failures, "\n"), "r1") {
		t.Fatalf("a tampered ledger passed:\n%s", res.Summary())
	}
}

func TestCheckCatchesALostJob(t *testing.T) {
	dir := copyRun(t)
	var jobs []JobTimeline
	path := filepath.Join(dir, collectedDir, "jobs.json")
	if err := readJSON(path, &jobs); err != nil {
		t.Fatal(err)
	}
	jobs[3].Job.State = api.StateRunning
	jobs[4].Job.State, jobs[4].Job.Error = api.StateFailed, nil
	if err := writeJSON(path, jobs); err != nil {
		t.Fatal(err)
	}
	res, err := Check(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Lost != 2 {
		t.Fatalf("lost %d, want 2:\n%s", res.Lost, res.Summary())
	}
}

func TestReportFromCollectedRun(t *testing.T) {
	dir := copyRun(t)
	chk, err := Check(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(filepath.Join(dir, "check.json"), chk); err != nil {
		t.Fatal(err)
	}
	rep, err := WriteReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Jobs != 8 || rep.Completed != 8 || rep.Reauctions != 1 || rep.WrongAccepted != 0 {
		t.Errorf("report %+v", rep)
	}
	// The fixture's two warm-up jobs (mix "warmup", written before
	// JobRecord.WarmUp) count as jobs but not in the latencies.
	if rep.WarmUp != 2 || rep.Latency.N != 6 || rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 {
		t.Errorf("warm-up %d, latency %+v: want 2 and the 6 load jobs", rep.WarmUp, rep.Latency)
	}
	if len(rep.Heads) != 5 || rep.Heads[0].Head == "" {
		t.Errorf("ledger heads %+v", rep.Heads)
	}
	if len(rep.Plots) < 3 {
		t.Fatalf("%d plots, want at least 3", len(rep.Plots))
	}
	for _, p := range rep.Plots {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || len(b) < 1000 || string(b[1:4]) != "PNG" {
			t.Errorf("plot %s: %d bytes, %v", p, len(b), err)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| check | PASS |", "| money: left on holds | 0 |", "kill p", "latency_cdf.png"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

// TestBuildCrafted checks the figures on jobs made up for the purpose.
func TestBuildCrafted(t *testing.T) {
	tn := &Testnet{Name: "x", Nodes: []*Node{
		{Name: "r", PeerID: "R", Requester: true},
		{Name: "honest", PeerID: "H", Sell: true},
		{Name: "cheat", PeerID: "C", Sell: true, Misbehave: []string{"wrong_output_rate=1"}},
		{Name: "syb", PeerID: "S", Sell: true, Sybil: true},
	}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var jobs []JobTimeline
	add := func(id, prov, stdout string, latency time.Duration, state api.JobState) {
		fin := t0.Add(latency)
		j := &api.Job{ID: id, State: state, Provider: prov, CreatedAt: t0, FinishedAt: &fin,
			Attempts: []api.Attempt{{Number: 1, Winner: prov}}}
		if state == api.StateFailed {
			j.Error = &api.JobError{Code: "no_bids", Message: "no provider bid"}
		}
		jobs = append(jobs, JobTimeline{Record: JobRecord{ID: id, Node: "r", Mix: "hello"}, Job: j, Stdout: stdout,
			Events: []api.Event{
				{Type: "award", Attempt: 1, Provider: prov, Time: t0.Add(latency / 4)},
				{Type: "result", Time: fin},
			}})
	}
	for i := range 6 {
		add("h"+string(rune('0'+i)), "H", "good", time.Duration(i+1)*100*time.Millisecond, api.StateCompleted)
	}
	add("c0", "C", "bad", time.Second, api.StateCompleted)
	add("s0", "S", "good", 2*time.Second, api.StateCompleted)
	add("f0", "", "", time.Second, api.StateFailed)
	jobs = append(jobs, JobTimeline{Record: JobRecord{Mix: "hello", Node: "r", Error: "refused"}})
	r := Build(tn, jobs, nil)
	if r.Jobs != 10 || r.Completed != 8 || r.Failed != 1 || r.Refused != 1 {
		t.Errorf("counts %+v", r)
	}
	if r.WrongAccepted != 1 {
		t.Errorf("wrong results accepted %d, want 1", r.WrongAccepted)
	}
	if r.CheaterShare != 1.0/8 || r.SybilShare != 1.0/8 {
		t.Errorf("cheater share %v, sybil share %v, want 1/8 each", r.CheaterShare, r.SybilShare)
	}
	if r.Latency.N != 8 || r.Latency.P50 != 400 || r.Latency.Max != 2000 {
		t.Errorf("latency %+v", r.Latency)
	}
}

// TestTrafficCrafted sums made-up counters of two nodes, one without any.
func TestTrafficCrafted(t *testing.T) {
	parse := func(text string) api.Metrics {
		m, err := api.ParseMetrics([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	states := []NodeState{
		{Name: "a", Metrics: parse(`hayek_auctions_total 4
hayek_gossip_wire_sent_total{topic="/hayek/auction/1/runtime/wasm"} 20
hayek_gossip_wire_sent_total{topic="/hayek/reputation/1"} 6
hayek_gossip_received_total{topic="/hayek/auction/1/runtime/wasm"} 1
hayek_streams_opened_total{protocol="award"} 4
hayek_streams_opened_total{protocol="offer"} 2
hayek_dht_provider_finds_total 2
hayek_dht_queries_total{op="find"} 7
hayek_dht_queries_total{op="provide"} 3
hayek_dht_provides_total{result="ok"} 1
`)},
		{Name: "b", Metrics: parse(`hayek_gossip_wire_sent_total{topic="/hayek/auction/1/runtime/wasm"} 12
hayek_gossip_received_total{topic="/hayek/auction/1/runtime/wasm"} 4
hayek_gossip_control_sent_total{type="ihave"} 8
hayek_streams_opened_total{protocol="bid"} 4
hayek_dht_provides_total{result="ok"} 1
hayek_dht_provides_total{result="error"} 1
`)},
		{Name: "gone", Error: "status: unreachable"},
	}
	tr := trafficOf(states, 4)
	want := TrafficSums{Auctions: 4, GossipMessages: 32, GossipDeliveries: 5, GossipControl: 8, ReputationMessages: 6,
		Streams: 10, DHTLookups: 2, DHTQueries: 7, DHTProvides: 3}
	if tr == nil || tr.Total != want || len(tr.Nodes) != 2 {
		t.Fatalf("traffic %+v, want total %+v", tr, want)
	}
	if tr.PerJob.GossipMessages != 8 || tr.PerJob.DHTLookups != 0.5 || tr.GossipPerAuction != 8 {
		t.Errorf("per job %+v", tr.PerJob)
	}
	if tr.StreamsPerJob["bid"] != 1 || tr.StreamsPerJob["offer"] != 0.5 || len(tr.StreamsPerJob) != 3 {
		t.Errorf("streams per job %v", tr.StreamsPerJob)
	}
	if len(tr.Missing) != 1 || tr.Missing[0] != "gone" {
		t.Errorf("missing %v, want [gone]", tr.Missing)
	}
	var b strings.Builder
	tr.markdown(&b)
	if !strings.Contains(b.String(), "| gossip messages (call copies sent) | 32 | 8.0 |") ||
		!strings.Contains(b.String(), "DHT queries per lookup: 3.5.") {
		t.Errorf("markdown:\n%s", b.String())
	}
	if trafficOf(states[2:], 4) != nil {
		t.Error("traffic from no counters at all")
	}
}

// TestBuildLeavesWarmUpOut: warm-up jobs are counted as jobs but not in
// the latencies, throughput or awards, which describe the load.
func TestBuildLeavesWarmUpOut(t *testing.T) {
	tn := &Testnet{Name: "x", Nodes: []*Node{
		{Name: "r", PeerID: "R", Requester: true},
		{Name: "p", PeerID: "P", Sell: true},
	}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var jobs []JobTimeline
	add := func(id string, rec JobRecord, start, latency time.Duration) {
		created, fin := t0.Add(start), t0.Add(start+latency)
		j := &api.Job{ID: id, State: api.StateCompleted, Provider: "P", CreatedAt: created, FinishedAt: &fin,
			Attempts: []api.Attempt{{Number: 1, Winner: "P"}}}
		rec.ID, rec.Node = id, "r"
		jobs = append(jobs, JobTimeline{Record: rec, Job: j, Events: []api.Event{
			{Type: "award", Attempt: 1, Provider: "P", Time: created.Add(latency / 2)},
			{Type: "result", Time: fin},
		}})
	}
	add("w0", JobRecord{Mix: warmUpMix.Name}, 0, 9*time.Second) // written before WarmUp was recorded
	add("w1", JobRecord{Mix: "warmup-primes", WarmUp: true}, 0, 20*time.Second)
	add("l0", JobRecord{Mix: "hello"}, 30*time.Second, 100*time.Millisecond)
	add("l1", JobRecord{Mix: "hello"}, 31*time.Second, 200*time.Millisecond)
	r := Build(tn, jobs, nil)
	if r.Jobs != 4 || r.Completed != 4 || r.WarmUp != 2 {
		t.Errorf("jobs %d completed %d warm-up %d, want 4, 4, 2", r.Jobs, r.Completed, r.WarmUp)
	}
	if r.Latency.N != 2 || r.Latency.Max != 200 || r.AuctionLatency.N != 2 || r.AuctionLatency.Max != 100 {
		t.Errorf("latency %+v, auction %+v: want the two load jobs only", r.Latency, r.AuctionLatency)
	}
	if r.Awards["p"] != 2 {
		t.Errorf("awards %v, want p: 2 (the load's)", r.Awards)
	}
	if r.DurationS != 1.2 || r.Throughput != 2/1.2 {
		t.Errorf("duration %v s, throughput %v/s: want the load's 1.2 s and 2 jobs", r.DurationS, r.Throughput)
	}
}
