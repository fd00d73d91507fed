package market

import (
	"fmt"
	"slices"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
)

// pickWinners takes the best bid when one run is needed; for K replicas it
// draws them at random among the 2K best, so that no bidder can count on
// filling a replica group by being cheapest. Winners are distinct
// providers (and subnets, when configured) that have not already run this
// job. ref is the best bid outside the pool drawn from: it prices them.
func (j *Job) pickWinners(ranked []*BidRecord) (winners []*BidRecord, ref *BidRecord) {
	need := j.need
	if need <= 0 || len(ranked) == 0 {
		return nil, nil
	}
	usedSubnet := map[string]bool{}
	for p := range j.live {
		usedSubnet[j.subnets[p]] = true
	}
	for _, r := range j.results {
		usedSubnet[j.subnets[r.Provider]] = true
	}
	var pool []*BidRecord
	for _, b := range ranked {
		sn := j.subnets[b.Bid.Provider]
		switch {
		case j.inGroup(b.Bid.Provider):
		case j.cfg.DistinctSubnets && j.verify.K > 1 && sn != "" && usedSubnet[sn]:
		default:
			pool = append(pool, b)
		}
	}
	size := 1
	if j.verify.K > 1 {
		size = 2 * need
	}
	best := pool[:min(len(pool), size)]
	if len(pool) > size {
		ref = pool[size]
	}
	for _, i := range j.rng.Perm(len(best)) {
		if j.verify.K <= 1 {
			i = 0
		}
		b := best[i]
		sn := j.subnets[b.Bid.Provider]
		if j.cfg.DistinctSubnets && j.verify.K > 1 && sn != "" && usedSubnet[sn] {
			continue
		}
		winners = append(winners, b)
		usedSubnet[sn] = true
		if len(winners) == need {
			break
		}
	}
	slices.SortFunc(winners, func(a, b *BidRecord) int { return compareBids(j.id, *a, *b) })
	return winners, ref
}

// award sends each winner of the closed auction cur its signed award at
// its price, and records them. ranked is how many eligible bids ranked.
func (j *Job) award(now time.Time, cur *AttemptRecord, ranked int, winners []*BidRecord, ref *BidRecord) {
	vot := j.spec.ValueOfTime
	ranking := Ranking{ValueOfTime: vot, MaxPrice: j.spec.MaxPrice, Bids: ranked, Replicas: len(winners)}
	// Every winner is paid against the reference: the best bid outside the
	// pool the winners came from (the second-ranked bid when there is one
	// winner, the (2K+1)-th for K replicas drawn among the 2K best). Up to
	// that score a winner would still have been in the pool: the
	// generalised second price.
	prices := make([]int64, len(winners))
	for i, w := range winners {
		prices[i] = j.spec.MaxPrice // alone: the reserve
		if ref == nil {
			continue
		}
		p, _, err := SecondPrice(w.Bid.StartWithinMs, vot, ref.Score, j.spec.MaxPrice)
		if err != nil {
			// Bids were checked as they came in and ranked on the same
			// scores: this is a bug, not a market condition.
			j.fail(now, FailInternal, fmt.Sprintf("cannot price the award to %s: %v", short(w.Bid.Provider), err))
			return
		}
		prices[i] = p
	}
	if ref != nil {
		ranking.RunnerUpScore = ref.Score
		cur.RunnerUp = ref.Bid.Provider
	}
	cur.Prices = map[string]int64{}
	for i, w := range winners {
		price := prices[i]
		rk := ranking
		rk.WinnerScore = w.Score
		var refEnv []byte
		if ref != nil {
			refEnv = ref.Env
		}
		resultBy := now.Add(j.cfg.AckTimeout + time.Duration(w.Bid.StartWithinMs+j.spec.TimeoutMs)*time.Millisecond + j.cfg.ResultGrace)
		if resultBy.After(j.deadline) {
			resultBy = j.deadline
		}
		award := Award{
			Job: j.id, Attempt: cur.Number, Requester: j.cfg.Self, Provider: w.Bid.Provider, Price: price,
			WinningBid: w.Env, RunnerUp: refEnv, Ranking: rk,
			Run: RunSpec{
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
		r := &replica{bid: *w, attempt: cur, price: price, award: env, awardCID: env.CID(),
			ackBy: now.Add(j.cfg.AckTimeout), resultBy: resultBy}
		j.live[w.Bid.Provider] = r
		j.runs++
		cur.Winners = append(cur.Winners, w.Bid.Provider)
		cur.Prices[w.Bid.Provider] = price
		if i == 0 {
			cur.Winner, cur.Price, cur.AwardCID = w.Bid.Provider, price, r.awardCID
		}
		j.ready.Awards = append(j.ready.Awards, Outgoing{To: w.Bid.Provider, Env: env})
	}
	j.need -= len(winners)
	if len(winners) == 1 {
		w := winners[0]
		j.setState(now, StateAwarded, fmt.Sprintf("awarded to %s at %d", short(w.Bid.Provider), cur.Price))
	} else {
		j.setState(now, StateAwarded, fmt.Sprintf("awarded to %d replicas", len(winners)))
	}
	for _, w := range winners {
		j.event(now, Event{Type: "award", Provider: w.Bid.Provider, Price: cur.Prices[w.Bid.Provider],
			Message: fmt.Sprintf("%d eligible bids, winner bid %d", ranked, w.Bid.Price)})
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
