package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/internal/sim"
	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node/api"
)

// agreeJobs is how many adaptive jobs the simulator and the devnet run.
const agreeJobs = 6

// agreeCosts are the honest providers' prices; the cheater undercuts
// them all at agreeCheat.
var agreeCosts = []int64{20, 30, 40, 50}

const agreeCheat = 10

// agreeSim runs the simulator on the devnet's population: one paying
// requester, four honest providers at agreeCosts, one always-cheater at
// agreeCheat, agreeJobs adaptive jobs far enough apart to run one at a
// time, as the devnet test submits them, on a lossless network.
func agreeSim(t *testing.T, seed uint64) *sim.Report {
	ms := func(n int) units.Duration { return units.Duration(time.Duration(n) * time.Millisecond) }
	cfg := sim.DefaultConfig()
	cfg.Seed, cfg.Jobs, cfg.Requesters, cfg.NonPaying = seed, agreeJobs, 1, 0
	cfg.Interval, cfg.MaxPrice, cfg.TimeShare = units.Duration(time.Hour), 100, 0
	cfg.Network = sim.Network{Latency: ms(5)}
	cfg.Populations = nil
	for _, c := range agreeCosts {
		cfg.Populations = append(cfg.Populations, sim.Population{Name: fmt.Sprintf("honest%d", c), Kind: sim.KindHonest, Count: 1,
			CostMin: c, CostMax: c, RunMin: ms(100), RunMax: ms(100), Slots: 4})
	}
	cfg.Populations = append(cfg.Populations, sim.Population{Name: "cheat", Kind: sim.KindCheat, Count: 1,
		CostMin: agreeCheat, CostMax: agreeCheat, RunMin: ms(100), RunMax: ms(100), Slots: 4, Rate: 1})
	r, err := sim.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSimulatorAgrees: hayek sim and a devnet of real nodes, given the
// same population — one requester, four honest providers at agreeCosts,
// one always-cheater undercutting them — run agreeJobs adaptive jobs to
// the same awards and verdicts.
//
// What is compared is what the shared code decides: the auction
// (market.Job ranks by price among eligible bids), the eligibility rules
// (reputation's floor on first-hand reliability, the review hold),
// CheckPolicy's rate (every result is checked: nobody reaches Proven in
// six jobs) and JudgeCheck's verdicts over first-hand reliabilities. So
// in both: the cheater wins the first job and nothing after it; its
// result is checked and outvoted — a cheat and four honest strangers
// weigh 0.9 each, so the check takes all four honest providers (three
// agreeing strangers against one reach only 0.986 < 0.99) — and the job
// completes with the honest result; every later job is won by an honest
// provider and settled by one check run, since a run and a check by
// providers with one clean job each reach 0.995. Nine check runs, no
// wrong result accepted, no job failed.
//
// What is not compared is who checks which job: checkers are drawn at
// random (the simulator's PRNG against the devnet's, seeded apart), and
// the devnet's timing decides nothing the comparison asks. The
// simulator's figures hold for every seed; the devnet's seed is printed.
func TestSimulatorAgrees(t *testing.T) {
	var want *sim.Report
	for seed := uint64(1); seed <= 3; seed++ {
		r := agreeSim(t, seed)
		t.Logf("sim seed %d: completed %d, failed %v, wrong %d, awards %v, check runs %d",
			seed, r.Completed, r.FailCodes, r.WrongAccepted, r.AwardsByKind, r.SampleRuns)
		if want != nil && (r.Completed != want.Completed || r.SampleRuns != want.SampleRuns ||
			r.AwardsByKind[sim.KindCheat] != want.AwardsByKind[sim.KindCheat] || r.WrongAccepted != want.WrongAccepted) {
			t.Fatalf("the simulator's figures depend on its seed: the comparison would be chance")
		}
		want = r
	}

	const cheater = 5
	d := startDevnet(t, 6, func(i int, c *Config) {
		// Starts this machine cannot keep would be missed-start evidence,
		// and move reliabilities the simulator's providers keep.
		c.Provider.StartBase.Set("30s")
		switch {
		case i == cheater:
			c.Misbehave.WrongOutputRate = 1
			c.Provider.Pricing.Base = agreeCheat
		case i >= 1:
			c.Provider.Pricing.Base = agreeCosts[i-1]
		}
	})
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	bad := d.Nodes[cheater].ID()
	who := names(d)
	wantOut := "hello from hayek\nagree"
	completed, cheatAwards, checkRuns, wrong := 0, 0, 0, 0
	for i := 0; i < agreeJobs; i++ {
		job := submitWait(t, c, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)},
			Stdin: &api.BlobRef{Text: "agree"}, MaxPrice: 100, Verify: "adaptive"})
		v := job.Verification
		if v == nil {
			t.Fatalf("job %d: no verification", i)
		}
		var winners []string
		for _, a := range job.Attempts {
			if a.Winner != "" {
				winners = append(winners, who[a.Winner])
				if a.Winner == bad {
					cheatAwards++
				}
			}
		}
		t.Logf("job %d: %s, awarded to %v; check %s: %v, %s", i, job.State, winners, v.State, len(v.Replicas), v.Detail)
		checkRuns += max(0, len(v.Replicas)-1)
		if job.State != api.StateCompleted {
			continue
		}
		completed++
		res, err := c.Result(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stdout.Text != wantOut {
			wrong++
		}
	}
	if completed != want.Completed || cheatAwards != want.AwardsByKind[sim.KindCheat] ||
		checkRuns != want.SampleRuns || wrong != want.WrongAccepted {
		t.Fatalf("devnet: %d completed, %d awards to the cheater, %d check runs, %d wrong results accepted; "+
			"the simulator: %d, %d, %d, %d",
			completed, cheatAwards, checkRuns, wrong,
			want.Completed, want.AwardsByKind[sim.KindCheat], want.SampleRuns, want.WrongAccepted)
	}
}
