package market

import (
	"fmt"
	"slices"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
)

// pickWinners takes the best bid of the pool when one run is needed; for
// replicas it draws the runs needed at random among the 2×need best, so
// that no bidder can count on filling a replica group by being cheapest.
// drawn is how many bids the winners came from; ref is the best bid after
// those (nil when there is none): it prices the winners under PriceSecond.
func (j *Job) pickWinners(pool []*BidRecord) (winners []*BidRecord, drawn int, ref *BidRecord) {
	size := 1
	if j.verify.K > 1 {
		size = 2 * j.need
	}
	best := pool[:min(len(pool), size)]
	if len(pool) > size {
		ref = pool[size]
	}
	if j.verify.K <= 1 {
		return best[:1], len(best), ref
	}
	for _, i := range j.rng.Perm(len(best))[:min(j.need, len(best))] {
		winners = append(winners, best[i])
	}
	slices.SortFunc(winners, func(a, b *BidRecord) int { return compareBids(j.id, *a, *b) })
	return winners, len(best), ref
}

// priced is a winner with its price and why.
type priced struct {
	w     *BidRecord
	price int64
	basis PriceBasis
	by    []byte // the signed bid that set the price, nil when the winner's own
}

// price prices every winner. With a bid outside the pool the winners were
// drawn from, each is paid the generalised second price against it: up to
// that score a winner would still have been in the pool. Without one there
// is no losing bid to set a price, and paying the max price (the reserve)
// made a thin market pay many times the going rate; each winner is paid
// the highest winning bid instead (a lone winner, its own).
// docs/protocol.md gives the incentive argument.
func (j *Job) price(winners []*BidRecord, drawn int, ref *BidRecord) (PriceRule, []priced, error) {
	rule, setter := PriceSecond, ref
	if ref == nil {
		rule, setter = PriceHighestWinning, winners[0]
		for _, w := range winners[1:] {
			if w.Bid.Price > setter.Bid.Price {
				setter = w
			}
		}
	}
	out := make([]priced, len(winners))
	for i, w := range winners {
		var by *Bid
		var byEnv []byte
		if setter != w {
			by, byEnv = &setter.Bid, setter.Env
		}
		p, basis, err := winnerPrice(rule, w.Bid, by, j.spec.ValueOfTime, j.spec.MaxPrice, drawn > 1)
		if err != nil {
			return rule, nil, fmt.Errorf("cannot price the award to %s: %w", short(w.Bid.Provider), err)
		}
		out[i] = priced{w: w, price: p, basis: basis, by: byEnv}
	}
	return rule, out, nil
}

// award picks the winners of the closed auction cur from pool, prices
// them, and sends each its signed award.
func (j *Job) award(now time.Time, cur *AttemptRecord, ranked int, pool []*BidRecord) {
	winners, drawn, ref := j.pickWinners(pool)
	rule, prices, err := j.price(winners, drawn, ref)
	if err != nil {
		// Bids were checked as they came in and ranked on the same
		// scores: this is a bug, not a market condition.
		j.fail(now, FailInternal, err.Error())
		return
	}
	ranking := Ranking{ValueOfTime: j.spec.ValueOfTime, MaxPrice: j.spec.MaxPrice, Rule: rule,
		Bids: ranked, Replicas: len(winners), Pool: drawn}
	if ref != nil {
		ranking.RunnerUpScore = ref.Score
		cur.RunnerUp = ref.Bid.Provider
	}
	cur.Prices, cur.Basis = map[string]int64{}, map[string]PriceBasis{}
	for i, pw := range prices {
		w := pw.w
		rk := ranking
		rk.WinnerScore = w.Score
		resultBy := now.Add(j.cfg.AckTimeout + time.Duration(w.Bid.StartWithinMs+j.spec.TimeoutMs)*time.Millisecond + j.cfg.ResultGrace)
		if resultBy.After(j.deadline) {
			resultBy = j.deadline
		}
		award := Award{
			Job: j.id, Attempt: cur.Number, Requester: j.cfg.Self, Provider: w.Bid.Provider, Price: pw.price,
			WinningBid: w.Env, PriceBid: pw.by, Ranking: rk,
			Run: RunSpec{
				Runtime: j.spec.runRuntime(), CPUMilli: j.spec.CPUMilli, GPUs: j.spec.GPUs,
				Module: j.spec.Module, Stdin: j.spec.Stdin, Inputs: j.spec.Inputs, Args: j.spec.Args, Env: j.spec.Env,
				MemoryBytes: j.spec.MemoryBytes, TimeoutMs: j.spec.TimeoutMs, MaxOutputBytes: j.spec.MaxOutputBytes,
			},
			ResultBy: resultBy.UnixMilli(), Created: now.UnixMilli(),
		}
		env, err := canon.Seal(j.signer, KindAward, award)
		if err != nil {
			j.fail(now, FailInternal, fmt.Sprintf("cannot sign the award: %v", err))
			return
		}
		r := &replica{bid: *w, attempt: cur, price: pw.price, basis: pw.basis, award: env, awardCID: env.CID(),
			ackBy: now.Add(j.cfg.AckTimeout), resultBy: resultBy}
		j.live[w.Bid.Provider] = r
		j.runs++
		cur.Winners = append(cur.Winners, w.Bid.Provider)
		cur.Prices[w.Bid.Provider] = pw.price
		cur.Basis[w.Bid.Provider] = pw.basis
		if i == 0 {
			cur.Winner, cur.Price, cur.AwardCID = w.Bid.Provider, pw.price, r.awardCID
		}
		j.ready.Awards = append(j.ready.Awards, Outgoing{To: w.Bid.Provider, Env: env})
	}
	j.need -= len(winners)
	if len(winners) == 1 {
		j.setState(now, StateAwarded, fmt.Sprintf("awarded to %s at %d", short(winners[0].Bid.Provider), cur.Price))
	} else {
		j.setState(now, StateAwarded, fmt.Sprintf("awarded to %d replicas", len(winners)))
	}
	for _, pw := range prices {
		j.event(now, Event{Type: "award", Provider: pw.w.Bid.Provider, Price: pw.price, Reason: string(rule),
			Message: fmt.Sprintf("%d eligible bids, winner bid %d; %s", ranked, pw.w.Bid.Price, pw.basis)})
	}
	if j.need > 0 {
		// Not enough winners for the replicas wanted: look for more.
		j.ready.Discover = true
	}
}

// inGroup reports whether peer holds an award or has delivered a result.
func (j *Job) inGroup(peer string) bool {
	if _, ok := j.live[peer]; ok {
		return true
	}
	for _, r := range j.results {
		if r.Provider == peer {
			return true
		}
	}
	return false
}
