package reputation

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// simResult is what one simulated market run shows.
type simResult struct {
	below       int  // first job from which the cheat's mean stayed below every honest provider's (-1: never)
	firstCaught int  // first job where the cheat was caught (-1: never)
	lbBelow     bool // at the end, the cheat's lower bound is below every honest provider's too
	wrong       int  // wrong results accepted
	failed      int  // jobs that failed verification
	caught      int  // wrong results recorded against the cheat
	runs        int  // replicas run in all
	cheatMean   float64
	worstMean   float64 // the lowest honest mean
}

// simulate runs jobs under replicate:3 (at most 5 runs, ε = 0.01) on
// honest providers and one that returns a wrong result at wrongRate,
// driving a requester's Book as the node would: replicas drawn at random
// among distinct providers, reliabilities from the book, Decide, and
// Success / WrongResult for the agreeing and disagreeing providers.
func simulate(seed uint64, honest, jobs int, wrongRate float64) simResult {
	rng := rand.New(rand.NewPCG(seed, 0x73696d))
	b, err := NewBook(DefaultParams(), "requester")
	if err != nil {
		panic(err)
	}
	var providers []string
	for i := range honest {
		providers = append(providers, fmt.Sprint("honest", i))
	}
	providers = append(providers, "cheat")
	res := simResult{below: -1, firstCaught: -1}
	now := t0
	for j := range jobs {
		now = now.Add(10 * time.Minute)
		order := slices.Clone(providers)
		rng.Shuffle(len(order), func(a, c int) { order[a], order[c] = order[c], order[a] })
		right := fmt.Sprint("ok", j)
		var rs []Replica
		run := func(n int) {
			for range n {
				p := order[len(rs)]
				d := right
				if p == "cheat" && rng.Float64() < wrongRate {
					d = fmt.Sprint("bad", j)
				}
				rs = append(rs, Replica{Provider: p, Digest: d, Reliability: b.Reliability(p, wasm)})
				res.runs++
			}
		}
		run(3)
		var d Decision
		for {
			d = Decide(GroupReplicas(rs), 0.01, 5, len(rs))
			if d.Verdict != NeedMore {
				break
			}
			run(d.More)
		}
		switch d.Verdict {
		case Accept:
			if d.Digest != right {
				res.wrong++
			}
			for _, p := range d.Agree {
				_ = b.Record(now, p, wasm, Success, fmt.Sprintf("receipt/%d/%s", j, p))
			}
			for _, p := range d.Disagree {
				_ = b.Record(now, p, wasm, WrongResult, fmt.Sprintf("job/%d", j))
				if p == "cheat" {
					res.caught++
					if res.firstCaught < 0 {
						res.firstCaught = j
					}
				}
			}
		case Fail:
			res.failed++
		}
		cheat := b.Standing("cheat", wasm, 0)
		below := true
		res.lbBelow = true
		res.worstMean = 1
		for _, p := range providers[:honest] {
			st := b.Standing(p, wasm, 0)
			res.worstMean = min(res.worstMean, st.Mean)
			below = below && cheat.Mean < st.Mean
			res.lbBelow = res.lbBelow && cheat.LowerBound < st.LowerBound
		}
		res.cheatMean = cheat.Mean
		switch {
		case below && res.below < 0:
			res.below = j
		case !below:
			res.below = -1
		}
	}
	return res
}

// A provider that returns wrong results at some rate among honest ones
// never gets a wrong result accepted under replicate:3, and falls below
// every honest provider's mean — even honest ones never drawn yet, at ½ —
// within a bounded number of jobs, for good. Being caught is what takes
// time: the bounds are about 9/(3/7 · rate) jobs, where the chance of
// escaping that long is below 2·10⁻⁴. At the end its lower bound is below
// every honest provider's too.
func TestSimulationCheatFallsBelow(t *testing.T) {
	const (
		honest = 6
		jobs   = 300
	)
	seeds := []uint64{*propSeed, 2, 3, 4, 5, 6, 7, 8}
	for _, c := range []struct {
		rate  float64
		bound int
	}{{0.1, 200}, {0.3, 70}, {1, 20}} {
		for _, seed := range seeds {
			r := simulate(seed, honest, jobs, c.rate)
			t.Logf("seed %d, wrong rate %.1f: first caught at job %d, below every honest mean from job %d; %d wrong accepted, %d caught, %d failed, %.2f runs/job; cheat mean %.3f, worst honest %.3f",
				seed, c.rate, r.firstCaught, r.below, r.wrong, r.caught, r.failed, float64(r.runs)/jobs, r.cheatMean, r.worstMean)
			if r.wrong > 0 {
				t.Errorf("seed %d, rate %.1f: %d wrong results accepted", seed, c.rate, r.wrong)
			}
			if r.below < 0 || r.below > c.bound {
				t.Errorf("seed %d, rate %.1f: below every honest provider from job %d (first caught at %d), want by job %d (rerun with -seed=%d)",
					seed, c.rate, r.below, r.firstCaught, c.bound, seed)
			}
			if !r.lbBelow {
				t.Errorf("seed %d, rate %.1f: at the end the cheat's lower bound is not below every honest provider's", seed, c.rate)
			}
		}
	}
}

// The simulation is deterministic: the same seed, the same history.
func TestSimulationDeterministic(t *testing.T) {
	if a, b := simulate(*propSeed, 6, 100, 0.3), simulate(*propSeed, 6, 100, 0.3); a != b {
		t.Fatalf("two runs with seed %d differ: %+v vs %+v", *propSeed, a, b)
	}
}
