package market

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"slices"
)

// rank orders an auction's eligible bids, best first, and records in cur
// why the others were left out.
//
// Reputation decides eligibility. At most one newcomer is ranked per
// auction and per replica group (counting those already in it), so fresh
// identities cannot flood an auction or a group, nor shill its price. The
// rule is waived when no bidder is established (a young network: nobody
// to prefer) and when it would leave the job without enough runs — a group
// of newcomers must then agree for the odds rule to accept it.
func (j *Job) rank(cur *AttemptRecord) []*BidRecord {
	newcomer := false
	for _, r := range j.live {
		newcomer = newcomer || r.bid.Standing.Newcomer
	}
	for _, r := range j.results {
		newcomer = newcomer || r.Standing.Newcomer
	}
	bids := slices.Clone(cur.Bids)
	slices.SortStableFunc(bids, func(a, b BidRecord) int { return compareBids(j.id, a, b) })
	var eligible, ranked, waived []*BidRecord
	for i := range bids {
		b := &bids[i]
		if !b.Standing.Eligible {
			cur.Ineligible = append(cur.Ineligible, fmt.Sprintf("%s: %s", short(b.Bid.Provider), b.Standing.Reason))
			continue
		}
		eligible = append(eligible, b)
		if b.Standing.Newcomer {
			if newcomer {
				waived = append(waived, b)
				continue
			}
			newcomer = true
		}
		ranked = append(ranked, b)
	}
	established := false
	for _, b := range eligible {
		established = established || !b.Standing.Newcomer
	}
	if len(waived) == 0 || !established {
		return eligible // nobody waived, or a young network: nobody to prefer
	}
	fresh := 0
	for _, b := range ranked {
		if !j.inGroup(b.Bid.Provider) {
			fresh++
		}
	}
	if fresh < j.need {
		return eligible // not enough runs otherwise: the rule is waived
	}
	for _, b := range waived {
		cur.Ineligible = append(cur.Ineligible, fmt.Sprintf("%s: a newcomer already ranked", short(b.Bid.Provider)))
	}
	return ranked
}

// pool is the ranked bids that may win this auction, best first: from
// providers not in the job's replica group yet and, when replicas must be
// apart, only the best bid of each subnet the group does not use yet (one
// operator's other machines cannot win beside it, so they do not compete).
func (j *Job) pool(ranked []*BidRecord) []*BidRecord {
	used := map[string]bool{}
	if j.apart() {
		for p := range j.live {
			used[j.subnets[p]] = true
		}
		for _, r := range j.results {
			used[j.subnets[r.Provider]] = true
		}
	}
	var pool []*BidRecord
	for _, b := range ranked {
		if j.inGroup(b.Bid.Provider) {
			continue
		}
		if sn := j.subnets[b.Bid.Provider]; j.apart() && sn != "" {
			if used[sn] {
				continue
			}
			used[sn] = true
		}
		pool = append(pool, b)
	}
	return pool
}

// compareBids orders bids by score, then standing, then committed start,
// then a hash of job and peer ID: equal bids are ranked the same way by
// anyone who checks, yet different jobs spread over equal providers.
func compareBids(job string, a, b BidRecord) int {
	if c := cmp.Compare(a.Score, b.Score); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Standing.Score, a.Standing.Score); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Bid.StartWithinMs, b.Bid.StartWithinMs); c != 0 {
		return c
	}
	if c := cmp.Compare(tieBreak(job, a.Bid.Provider), tieBreak(job, b.Bid.Provider)); c != 0 {
		return c
	}
	return cmp.Compare(a.Bid.Provider, b.Bid.Provider)
}

func tieBreak(job, peer string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(job))
	h.Write([]byte{0})
	h.Write([]byte(peer))
	return h.Sum64()
}
