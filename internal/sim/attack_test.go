package sim

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/units"
)

// attackConfig is a small market: 40 honest providers, 3 requesters,
// 4,000 jobs and one attacking population of n providers, with the
// revised design and adaptive verification. Small enough to run in a few
// seconds, large enough for the goals to mean something: each requester
// pays to prove every provider it comes to trust (about 28 checked jobs
// each, CheckPolicy.Proven), a cost 3,000 jobs did not amortize below
// 1.3 runs per job.
func attackConfig(kind string, n int, tweak func(*Population)) Config {
	ms := func(n int) units.Duration { return units.Duration(time.Duration(n) * time.Millisecond) }
	cfg := DefaultConfig()
	cfg.Jobs, cfg.Requesters, cfg.NonPaying, cfg.Ledger = 4000, 3, 0, false
	honest := cfg.Populations[0]
	honest.Count = 40
	att := Population{Name: kind, Kind: kind, Count: n, CostMin: 45, CostMax: 65, RunMin: ms(500), RunMax: ms(3000), Slots: 4, Rate: 1}
	if tweak != nil {
		tweak(&att)
	}
	cfg.Populations = []Population{honest, att}
	return cfg
}

func runAttack(t *testing.T, cfg Config) *Report {
	t.Helper()
	r, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d: wrong_per_10k %.2f, replicas_per_job %.3f, detect_jobs_max %d (%d undetected), dishonest_award_share %.4f, sybil %.4f, honest_excluded %.4f; awards %v, wrong %v, failed %v",
		r.Seed, r.WrongPer10k, r.ReplicasPerJob, r.DetectJobsMax, r.Undetected, r.DishonestAwardShare, r.SybilAwardShare,
		r.HonestExcludedShare, r.AwardsByKind, r.WrongByKind, r.FailCodes)
	return r
}

// Each attack alone, on a fixed seed, against issue 10's goals (README,
// "Market integrity"). Every attack gets: verification at most 1.3 runs
// per job and at most 1% of honest providers excluded; then the goals
// that attack is about.
func TestAttacks(t *testing.T) {
	g := DefaultGoals()
	noWrong := func(t *testing.T, r *Report) {
		if r.WrongAccepted > 0 {
			t.Errorf("%d wrong results accepted (%v), want none", r.WrongAccepted, r.WrongByKind)
		}
	}
	share := func(max float64) func(*testing.T, *Report) {
		return func(t *testing.T, r *Report) {
			if r.DishonestAwardShare > max {
				t.Errorf("dishonest award share after burn-in %.4f, want ≤ %v", r.DishonestAwardShare, max)
			}
		}
	}
	for _, c := range []struct {
		kind   string
		n      int
		tweak  func(*Population)
		checks []func(*testing.T, *Report)
		runs   float64 // the most runs per job; 0: the goal
	}{
		{KindCheat, 8, nil, []func(*testing.T, *Report){noWrong, share(g.DishonestAwardShare), func(t *testing.T, r *Report) {
			if r.DetectJobsMax > g.DetectJobsMax || r.DetectJobsMax == 0 {
				t.Errorf("always-cheaters detected after up to %d runs, want 1 to %d", r.DetectJobsMax, g.DetectJobsMax)
			}
		}}, 0},
		{KindSybil, 100, func(p *Population) { p.PriceFactor, p.JoinAt, p.CostMin, p.CostMax = 0.5, 0.25, 50, 150 },
			[]func(*testing.T, *Report){noWrong, func(t *testing.T, r *Report) {
				if r.SybilAwardShare > g.SybilAwardShare || r.AwardsByKind[KindSybil] == 0 {
					t.Errorf("sybils won %.4f of awards, want some and ≤ %v", r.SybilAwardShare, g.SybilAwardShare)
				}
			}}, 0},
		{KindWhitewash, 8, nil, []func(*testing.T, *Report){noWrong, share(g.DishonestAwardShare)}, 0},
		// The ring only gossips (its results are right): praise for its
		// members and receiptless timeouts against honest providers.
		// Attestations alone must not push anyone out.
		{KindRing, 8, func(p *Population) { p.Rate = 0 }, []func(*testing.T, *Report){noWrong}, 0},
		// The ring returns one shared wrong output: members drawn
		// together must neither get it accepted nor outvote an honest
		// run (reputation.JudgeCheck, checkers drawn at random).
		{KindRing + "/cheating", 8, nil, []func(*testing.T, *Report){noWrong, share(g.DishonestAwardShare)}, 0},
		{KindLazy, 8, func(p *Population) { p.Rate = 0.5 }, []func(*testing.T, *Report){noWrong, share(g.DishonestAwardShare)}, 0},
		// Intermittent cheats caught every ~6 jobs kept a first-hand
		// reliability above CheckPolicy.ProbationReliability and won
		// probation jobs on price, each with a check and often a
		// tie-break: on this seed 1.328 runs per job and a share of
		// 0.0213 (seeds 1–5: 1.346 and 0.0186, means) until
		// CheckPolicy.ProbationAgainst barred them at their third catch
		// (1.280 and 0; seeds 1–5: 1.312 and 0.0014).
		{KindIntermittent, 8, func(p *Population) { p.Rate = 0.2 }, []func(*testing.T, *Report){noWrong, share(g.DishonestAwardShare)}, 0},
		{KindFalseStart, 8, func(p *Population) { p.LateBy = units.Duration(2 * time.Second) }, []func(*testing.T, *Report){noWrong, share(g.DishonestAwardShare)}, 0},
		// On-off cheats: honest for 40 runs, then always wrong. With 3
		// requesters, one of them gives such a cheat enough of its honest
		// runs to prove it (CheckPolicy.Proven, ~28 clean jobs). When
		// the rate dropped from 1 to ~0.1 there at once, about (1 − p)/p
		// of its wrong results slipped through before that requester
		// caught it (8 on this seed); on CheckPolicy's ramp to Settled
		// its first results past Proven are still almost always checked.
		// TestOnOffSeeds bounds it over seeds. Runs per job: 1.300 on
		// this seed before CheckPolicy.ProbationAgainst, 1.307 since
		// (seeds 1–5: 1.555 and 1.516, means), over the goal; the worst
		// seed, 5, was a requester whose trusted providers had switched
		// and left every check without a verdict until
		// CheckPolicy.Contradicted blamed them (seeds 1–5: 1.374, mean;
		// this seed unchanged). The rest is each requester proving its
		// providers itself, and replacing the cheats it drops. What is
		// asserted is the design's current bound, so that a change that
		// loses ground fails.
		{KindOnOff, 8, func(p *Population) { p.HonestJobs = 40 }, []func(*testing.T, *Report){noWrong, share(g.DishonestAwardShare)}, 1.31},
	} {
		t.Run(c.kind, func(t *testing.T) {
			r := runAttack(t, attackConfig(strings.TrimSuffix(c.kind, "/cheating"), c.n, c.tweak))
			runs := g.ReplicasPerJob
			if c.runs > 0 {
				runs = c.runs
			}
			if r.ReplicasPerJob > runs {
				t.Errorf("%.3f runs per job, want ≤ %v", r.ReplicasPerJob, runs)
			}
			if r.HonestExcludedShare > g.HonestExcludedShare {
				t.Errorf("%.4f of honest providers excluded, want ≤ %v", r.HonestExcludedShare, g.HonestExcludedShare)
			}
			for _, check := range c.checks {
				check(t, r)
			}
		})
	}
}

// The on-off cheat of TestAttacks over seeds 1–5, whose figures one seed
// moves a lot: wrong results accepted in all five runs (20,000 jobs).
// Before a result was checked whenever an earlier one of its provider
// was under check, 35 slipped through (7, 4, 2, 3, 19); then 22 (8, 4,
// 1, 5, 4); with CheckPolicy's ramp from Proven to Settled, 2 (0, 0, 2,
// 0, 0); since CheckPolicy.Contradicted, 4 (0, 0, 3, 0, 1). The goal
// (≤ 1 per 10,000 jobs) allows 2. Every one of them, before and since, is
// an on-off cheat's first wrong result at the one requester it gave
// (nearly) all its 40 honest runs — lower bound 0.92–0.93 there, checked
// with probability 0.47–0.58 on the ramp — before anyone had caught it:
// whether a seed shows one is chance (a change anywhere moves which
// cheat wins where), and Contradicted, which fires only on seeds 3 and 5
// here, changed which seeds show one, not the exposure.
func TestOnOffSeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("five runs")
	}
	wrong := 0
	for seed := uint64(1); seed <= 5; seed++ {
		cfg := attackConfig(KindOnOff, 8, func(p *Population) { p.HonestJobs = 40 })
		cfg.Seed = seed
		r := runAttack(t, cfg)
		wrong += r.WrongAccepted
		if g := DefaultGoals(); r.HonestExcludedShare > g.HonestExcludedShare {
			t.Errorf("seed %d: %.4f of honest providers excluded, want ≤ %v", seed, r.HonestExcludedShare, g.HonestExcludedShare)
		}
	}
	if wrong > 4 {
		t.Errorf("%d wrong results accepted over seeds 1–5, want ≤ 4 (22 before the ramp to CheckPolicy.Settled)", wrong)
	}
}

// On-off seed 5, the worst of seeds 1–5 (runs per job 1.307, 1.451,
// 1.504, 1.396, 1.920 before CheckPolicy.Contradicted). One requester
// trusted five providers, four of them on-off cheats that had switched:
// each result they won on price was checked (below Proven) by the
// others, each returning a wrong output of its own, and the one honest
// veteran's run was never credible alone (0.51: the cheats' first-hand
// reliabilities, 0.71–0.92, were those of their honest runs). 721 of the
// 723 checks without a verdict were that requester's, five runs and five
// results each; nobody was blamed, so the cheats stayed trusted, won on
// price (0.4284 of awards after burn-in) and checked again, and, paid
// for five runs a job, declined its calls over their credit limits (452
// of the 453 jobs without bids); 1,292 jobs failed at 1.920 runs per
// job. A check without a verdict in which trusted providers returned
// four different results now records a failure against each one the
// best result outvoted: 1.373 runs per job, a share of 0, 23 failed
// jobs. The runs per job stay over the goal (1.3), as on seeds 2 and 4:
// the requesters prove their providers themselves and replace the
// cheats they drop (reputation's doc, "Design choices", 17).
func TestOnOffSeed5(t *testing.T) {
	cfg := attackConfig(KindOnOff, 8, func(p *Population) { p.HonestJobs = 40 })
	cfg.Seed = 5
	r := runAttack(t, cfg)
	if g := DefaultGoals(); r.HonestExcludedShare > g.HonestExcludedShare {
		t.Errorf("%.4f of honest providers excluded, want ≤ %v", r.HonestExcludedShare, g.HonestExcludedShare)
	}
	// One wrong result (an on-off cheat's first, at the requester that
	// had all its honest runs: TestOnOffSeeds) — chance, not this rule.
	if r.WrongAccepted > 1 {
		t.Errorf("%d wrong results accepted (%v), want ≤ 1", r.WrongAccepted, r.WrongByKind)
	}
	if g := DefaultGoals(); r.DishonestAwardShare > g.DishonestAwardShare {
		t.Errorf("on-off cheats won %.4f of awards after burn-in, want ≤ %v", r.DishonestAwardShare, g.DishonestAwardShare)
	}
	// The design's bound on this seed (1.373, 23), not the goal.
	if r.ReplicasPerJob > 1.38 {
		t.Errorf("%.3f runs per job, want ≤ 1.38 (1.920 before CheckPolicy.Contradicted)", r.ReplicasPerJob)
	}
	if r.Failed > 30 {
		t.Errorf("%d jobs failed, want ≤ 30 (1,292 before CheckPolicy.Contradicted)", r.Failed)
	}
}

// Providers give a requester that never settles no more credit than
// their books allow: the most any provider is owed by it stays within
// the credit limit (acknowledged receipts count for it, so it can climb
// above the base: README), and the market goes on serving.
func TestNonPayingRequesters(t *testing.T) {
	cfg := attackConfig(KindHonest, 0, nil)
	cfg.Requesters, cfg.NonPaying, cfg.Ledger = 3, 1, true
	r := runAttack(t, cfg)
	if r.NonPayingMaxExposure <= 0 || r.NonPayingMaxExposure > cfg.CreditMax {
		t.Errorf("a provider is owed %d by a non-paying requester, want some and ≤ the credit limit %d", r.NonPayingMaxExposure, cfg.CreditMax)
	}
	if r.WrongAccepted > 0 || float64(r.Completed) < 0.9*float64(r.Jobs) {
		t.Errorf("%d of %d jobs completed, %d wrong", r.Completed, r.Jobs, r.WrongAccepted)
	}
}

// sybilAdaptiveConfig is testnet scenario sybil-adaptive in the
// simulator (testdata/sybil-adaptive.toml): 3 honest providers, 5 sybils
// on one subnet that undercut them and return the same wrong output on
// half their jobs, requesters verifying adaptively. Cheating newcomers
// outnumber the honest providers a requester knows, so checkers drawn
// among strangers are mostly sybils too.
func sybilAdaptiveConfig(t *testing.T, seed uint64) Config {
	t.Helper()
	f, err := os.Open("testdata/sybil-adaptive.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed = seed
	return cfg
}

// Colluding sybils drawn as each other's checkers must not get their
// shared wrong output accepted: reputation.JudgeCheck counts a subnet as
// one voice, and checkers are drawn from other subnets than the runs so
// far. Before, seeds 1–3 accepted 4, 0 and 81 wrong results.
func TestSybilAdaptive(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		r := runAttack(t, sybilAdaptiveConfig(t, seed))
		if r.WrongAccepted > 0 {
			t.Errorf("seed %d: %d wrong results accepted (%v), want none", seed, r.WrongAccepted, r.WrongByKind)
		}
	}
}

// On-off cheats that stay honest for 200 runs get past CheckPolicy's
// ramp at several requesters and are spot-checked at MinRate there. A
// requester that catches one telling the others at once
// (Config.ShareCatches: they check its results at rate 1 if they trust
// a checker that contradicted it) cuts what slips before each of them
// catches it: 38 wrong results accepted without, 9 with, on seed 1
// (27 and 4 since CheckPolicy.ProbationAgainst, 32 and 10 since
// CheckPolicy.CaughtBar and reputation's design choices 20–21: a cheat
// barred where it is checked every time works for requesters that
// spot-check it). Sharing is the default,
// in the simulator as in the node.
// Neither meets the goal: this is the attack the design still misses.
func TestShareCatches(t *testing.T) {
	cfg := attackConfig(KindOnOff, 8, func(p *Population) { p.HonestJobs = 200 })
	cfg.ShareCatches = false
	without := runAttack(t, cfg)
	cfg.ShareCatches = true // the default, as in the node
	with := runAttack(t, cfg)
	if 2*with.WrongAccepted > without.WrongAccepted {
		t.Errorf("%d wrong results accepted with catches shared, %d without: want at most half", with.WrongAccepted, without.WrongAccepted)
	}
}
