package sim

import (
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/reputation"
)

// repView is a requester's reputation.Book as the market sees it: the
// auction's Reputation and the replica Decider, exactly as the node
// adapts them (node/reputation.go), with standings cached until evidence
// about the peer arrives (a standing costs a Beta quantile).
type repView struct {
	book    *reputation.Book
	epsilon float64
	gen     uint64
	peerGen map[string]uint64
	cache   map[standingKey]cachedStanding
	// review counts each provider's results held back for a check: a
	// provider under review wins nothing more here until it is judged, so
	// a fresh identity cannot collect many awards before its first check.
	review map[string]int
	// guard bars newcomers from subnets where this requester caught a
	// wrong result (reputation.SubnetGuard); subnet and now are the
	// world's.
	guard  *reputation.SubnetGuard
	subnet func(peer string) string
	now    func() time.Time
	// check, when set, bars providers on probation whose first-hand
	// record fell below its ProbationReliability, and any provider caught
	// CaughtBar's worth lately.
	check *reputation.CheckPolicy
}

type standingKey struct {
	peer string
	min  float64
}

type cachedStanding struct {
	gen, peerGen uint64
	st           reputation.Standing
}

var (
	_ market.Reputation = (*repView)(nil)
	_ market.Decider    = (*repView)(nil)
)

func newRepView(b *reputation.Book, epsilon float64) *repView {
	return &repView{book: b, epsilon: epsilon, peerGen: map[string]uint64{}, cache: map[standingKey]cachedStanding{}, review: map[string]int{}}
}

// caught: a wrong result from peer was recorded.
func (v *repView) caught(peer string) {
	if v.guard != nil {
		v.guard.Caught(v.subnet(peer), v.now())
		v.invalidateAll()
	}
}

func (v *repView) invalidate(peer string) { v.peerGen[peer]++ }
func (v *repView) invalidateAll()         { v.gen++ }

// standing is the book's full standing, cached.
func (v *repView) standing(peer string, min float64) reputation.Standing {
	k := standingKey{peer, min}
	if c, ok := v.cache[k]; ok && c.gen == v.gen && c.peerGen == v.peerGen[peer] {
		return c.st
	}
	st := v.book.Standing(peer, capWasm, min)
	v.cache[k] = cachedStanding{gen: v.gen, peerGen: v.peerGen[peer], st: st}
	return st
}

// Standing implements market.Reputation.
func (v *repView) Standing(peer string, _ market.Capability, min float64) market.Standing {
	st := v.standing(peer, min)
	if v.review[peer] > 0 {
		return market.Standing{Reason: "a result of it is being checked", Newcomer: st.Newcomer, Score: st.Score}
	}
	if v.guard != nil && st.Newcomer && v.guard.Bars(v.subnet(peer), v.now()) {
		return market.Standing{Reason: "a newcomer from a subnet that returned a wrong result", Newcomer: true, Score: st.Score}
	}
	if v.check != nil && st.Eligible && v.check.Probation(st, v.book.DirectReliability(peer, capWasm)) {
		reason := "on probation with too poor a record"
		if v.check.CaughtBar > 0 && st.Wrong >= v.check.CaughtBar {
			reason = "caught with wrong results here too often lately"
		}
		return market.Standing{Reason: reason, Newcomer: st.Newcomer, Score: st.Score}
	}
	return market.Standing{Eligible: st.Eligible, Reason: st.Reason, Newcomer: st.Newcomer, Score: st.Score}
}

// Decide implements market.Decider with the odds rule, as the node does.
func (v *repView) Decide(votes []market.Vote, want, have, max int) market.Decision {
	if len(votes) < want && have < max {
		return market.Decision{More: want - len(votes)}
	}
	reps := make([]reputation.Replica, len(votes))
	for i, vt := range votes {
		reps[i] = reputation.Replica{Provider: vt.Provider, Digest: vt.Digest, Reliability: v.book.Reliability(vt.Provider, string(vt.Capability))}
	}
	d := reputation.Decide(reputation.GroupReplicas(reps), v.epsilon, max, have)
	switch d.Verdict {
	case reputation.Accept:
		return market.Decision{Accept: d.Digest}
	case reputation.NeedMore:
		return market.Decision{More: d.More}
	}
	return market.Decision{Fail: d.Reason}
}
