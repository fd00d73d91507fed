package market

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/canon/canontest"
)

// TestJobMoneyProperty drives random jobs to their end — any valid spec up
// to the money bounds, any verification, bids anywhere in (0, max price]
// and [0, MaxStartWithin], declines, silence, faults, disagreeing replicas
// — and checks that money never escapes the hold: every award pays between
// the winner's bid and the max price, as its rule says, and what the
// outcome pays in all is at most the spec's MaxCost, computed exactly.
func TestJobMoneyProperty(t *testing.T) {
	r := propRand(t)
	const jobs = 300
	counts := map[string]int{}
	defer func() {
		t.Logf("outcomes: %v", counts)
		if counts["replicas paid"] < jobs/20 || counts["failed"] < jobs/20 || counts["thin"] < jobs/20 || counts["second"] < jobs/20 {
			t.Errorf("too few of some outcome to test the property: %v", counts)
		}
	}()
	for i := range jobs {
		keys := canontest.NewKeyring()
		spec := fzSpec()
		spec.MaxPrice = []int64{1 + r.Int64N(1000), 1 + r.Int64N(MaxPriceCap), MaxPriceCap}[r.IntN(3)]
		spec.ValueOfTime = []int64{0, r.Int64N(100), r.Int64N(MaxValueOfTime + 1), MaxValueOfTime}[r.IntN(4)]
		spec.Verify = []string{"none", "sample:0.5", fmt.Sprintf("replicate:%d", 2+r.IntN(MaxReplicas-1)), "replicate:2", "replicate:3"}[r.IntN(5)]
		if err := spec.Validate(); err != nil {
			t.Fatal(err)
		}
		maxCost, err := spec.MaxCost()
		if err != nil {
			t.Fatalf("a valid spec has no max cost: %v", err)
		}
		cfg := DefaultJobConfig("req")
		cfg.DistinctSubnets = r.IntN(2) == 0
		now := fzNow
		j := NewJob(fmt.Sprint("job-", i), spec, cfg, keys.Signer("req"), NeutralReputation{}, rand.New(rand.NewPCG(uint64(i), 7)), now)
		var cands []Candidate
		for p := range 1 + r.IntN(14) {
			peer := fmt.Sprint("p", p)
			o := fzOffer(peer, 1)
			o.Pricing = Pricing{Base: 1}
			cands = append(cands, Candidate{Peer: peer, Offer: o, Subnet: fmt.Sprint("10.0.", r.IntN(6), ".0/24")})
		}
		bids := map[string]Bid{} // per provider, its latest bid
		var out *Outcome
		for step := 0; step < 400 && out == nil; step++ {
			rd := j.Ready()
			if rd.Done != nil {
				out = rd.Done
				break
			}
			if rd.Discover {
				j.Candidates(now, cands)
				continue
			}
			for _, env := range rd.Calls {
				var c CallForBids
				if err := env.Open(keys, KindCall, &c); err != nil {
					t.Fatal(err)
				}
				for _, p := range c.Invitees {
					switch r.IntN(8) {
					case 0: // silent
					case 1:
						_ = j.Decline(now, Decline{Job: c.Job, Attempt: c.Attempt, Call: env.CID(), Provider: p, Requester: "req",
							Reason: DeclineBusy, Created: now.UnixMilli()})
					default:
						b := Bid{Job: c.Job, Attempt: c.Attempt, Call: env.CID(), Provider: p, Requester: "req",
							Price:         []int64{1 + r.Int64N(spec.MaxPrice), spec.MaxPrice, 1}[r.IntN(3)],
							StartWithinMs: []int64{r.Int64N(MaxStartWithin.Milliseconds() + 1), 0, MaxStartWithin.Milliseconds()}[r.IntN(3)],
							Created:       now.UnixMilli()}
						be, err := canon.Seal(keys.Signer(p), KindBid, b)
						if err != nil {
							t.Fatal(err)
						}
						if err := j.Bid(now, b, be.Encode()); err != nil {
							t.Fatalf("job %d: an in-bounds bid refused: %v", i, err)
						}
						bids[p] = b
					}
				}
			}
			for _, o := range rd.Awards {
				var a Award
				if err := o.Env.Open(keys, KindAward, &a); err != nil {
					t.Fatal(err)
				}
				own := bids[o.To]
				if a.Price < own.Price || a.Price > spec.MaxPrice || !a.Ranking.Rule.Known() {
					t.Fatalf("job %d: %s bid %d, awarded %d under %q, max %d", i, o.To, own.Price, a.Price, a.Ranking.Rule, spec.MaxPrice)
				}
				counts[map[PriceRule]string{PriceSecond: "second", PriceHighestWinning: "thin"}[a.Ranking.Rule]]++
				if a.Ranking.Rule == PriceHighestWinning && len(a.PriceBid) == 0 && a.Price != own.Price {
					t.Fatalf("job %d: paid %d for its own bid of %d", i, a.Price, own.Price)
				}
				switch r.IntN(12) {
				case 0: // never answers: times out
				case 1:
					j.Fault(now, o.To, FaultLost, "connection lost")
				default:
					_ = j.Ack(now, Ack{Job: a.Job, Attempt: a.Attempt, Award: o.Env.CID(), Provider: o.To, Requester: "req", Accept: true})
					res := Result{Job: a.Job, Attempt: a.Attempt, Award: o.Env.CID(), Provider: o.To, Requester: "req",
						Status: []Status{StatusOK, StatusOK, StatusOK, StatusOK, StatusOK, StatusTimeout}[r.IntN(6)],
						Stdout: Stream{Blob: Blob{CID: canon.BlobCID([]byte{byte(r.IntN(8) / 7)}).String()}}} // mostly agreeing
					if err := j.Result(now, res, nil); err != nil {
						t.Fatalf("job %d: %v", i, err)
					}
				}
			}
			if rd.Empty() {
				if nt := j.NextTimer(); !nt.IsZero() {
					now = nt
					j.Tick(now)
				}
			}
		}
		if out == nil {
			t.Fatalf("job %d did not end (state %s)", i, j.State())
		}
		total := new(big.Int)
		for _, p := range out.Paid {
			if p.Price <= 0 || p.Price > spec.MaxPrice || p.Basis.Rule == "" {
				t.Fatalf("job %d pays %s %d (%s)", i, p.Provider, p.Price, p.Basis)
			}
			total.Add(total, big.NewInt(p.Price))
		}
		if total.Cmp(big.NewInt(maxCost)) > 0 {
			t.Fatalf("job %d (%s, max price %d) pays %s in all, above its max cost %d", i, spec.Verify, spec.MaxPrice, total, maxCost)
		}
		counts[string(out.State)]++
		if len(out.Paid) > 1 {
			counts["replicas paid"]++
		}
		if out.State == StateFailed && out.Code == "" {
			t.Fatalf("job %d failed without a code: %s", i, out.Message)
		}
	}
}
