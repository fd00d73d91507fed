package requester

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/reputation"
)

// TestCapturedDrawsWiderMarket: three checks in a row without a verdict
// in which providers this node trusts returned different results — its
// trusted pool cannot settle a check, as when it is one operator's
// switched cheats — and its checkers are drawn in the wider market for
// captureWindow, and the trusted providers of those checks have every
// result checked. A verdict breaks the streak; a check whose trusted
// runs agreed does not count.
func TestCapturedDrawsWiderMarket(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	rep := &ranked{&fakeRep{}, map[string]float64{"t1": 0.8, "t2": 0.8, "t3": 0.8, "t4": 0.8, "s1": 0.05, "s2": 0.05, "s3": 0.05}}
	seed := uint64(11)
	r := &Service{self: "me", secret: []byte("secret"), policy: reputation.DefaultCheckPolicy(),
		d: Deps{Rep: rep, Now: clock, Rand: func() uint64 { seed++; return seed }}}
	r.prob = newProbation(rep, r.policy, clock)
	var cands []market.Candidate
	for i, p := range []string{"t1", "t2", "t3", "t4", "s1", "s2", "s3"} {
		cands = append(cands, market.Candidate{Peer: p, Subnet: fmt.Sprintf("198.51.%d.0/24", i)})
	}
	r.prob.seen(cands)
	trusted := func(p string) bool { return r.prob.trusted(p, market.RuntimeWasm) }
	draw := func() []market.Candidate {
		j := &job{id: "c", spec: market.JobSpec{Runtime: market.RuntimeWasm}, exclude: []string{"t1"}, rep: &drawnRep{probation: r.prob}}
		return r.checkCandidates(j, cands)
	}
	fromTrusted := func(got []market.Candidate) bool {
		return len(got) == 3 && !slices.ContainsFunc(got, func(c market.Candidate) bool { return c.Peer[0] == 's' })
	}
	split := []reputation.Replica{{Provider: "t1", Digest: "a"}, {Provider: "t2", Digest: "b"}, {Provider: "t3", Digest: "c"}, {Provider: "s1", Digest: "d"}}
	agreed := []reputation.Replica{{Provider: "t1", Digest: "a"}, {Provider: "t2", Digest: "a"}, {Provider: "s1", Digest: "d"}}
	if got := trustedSplit(split, trusted); !slices.Equal(got, []string{"t1", "t2", "t3"}) || trustedSplit(agreed, trusted) != nil {
		t.Fatalf("trustedSplit %v, %v: misreads who contradicted whom", got, trustedSplit(agreed, trusted))
	}
	if got := draw(); !fromTrusted(got) {
		t.Fatalf("check drawn from %v, want t2, t3, t4", got)
	}
	inconclusive := func(reps []reputation.Replica) bool { return r.prob.checkEnded(false, trustedSplit(reps, trusted)) }
	inconclusive(split)
	inconclusive(split)
	r.prob.checkEnded(true, nil) // a verdict: the pool settles checks
	inconclusive(split)
	inconclusive(agreed) // no verdict, but no trusted contradiction either
	inconclusive(split)
	if got := draw(); !fromTrusted(got) || r.prob.captured() {
		t.Fatalf("captured after two trusted contradictions in a row: drawn from %v", got)
	}
	if r.prob.checkedEveryTime("t2") {
		t.Fatal("t2 checked every time before any capture")
	}
	if !inconclusive(split) || !r.prob.captured() {
		t.Fatal("three checks in a row split trusted providers without a verdict: not captured")
	}
	for _, p := range []string{"t1", "t2", "t3"} {
		if !r.prob.checkedEveryTime(p) || !r.certainCheck(p, market.JobSpec{Runtime: market.RuntimeWasm}) {
			t.Fatalf("captured: %s, which split its checks, is not checked every time", p)
		}
	}
	if r.prob.checkedEveryTime("t4") {
		t.Fatal("captured: t4, in none of the split checks, is checked every time")
	}
	for range 10 {
		if got := draw(); len(got) != checkerDraw || slices.ContainsFunc(got, func(c market.Candidate) bool { return c.Peer == "t1" }) {
			t.Fatalf("captured: check drawn from %v, want %d of the wider market, t1 excluded", got, checkerDraw)
		}
	}
	now = now.Add(captureWindow)
	if got := draw(); !fromTrusted(got) || r.prob.checkedEveryTime("t2") {
		t.Fatalf("after the window, check drawn from %v (want t2, t3, t4), t2 checked every time %v", got, r.prob.checkedEveryTime("t2"))
	}
}

// bookRep is the requester's reputation backed by a real book.
type bookRep struct {
	*fakeRep
	b *reputation.Book
}

func (r *bookRep) BookStanding(peer, c string, min float64) reputation.Standing {
	return r.b.Standing(peer, c, min)
}

// TestLapseNotChecked: a provider with 40 clean jobs here and one lost
// message is spot-checked on the ramp, not checked every time: the
// timeout costs it standing (its lower bound is below Proven), not
// checks (CheckPolicy.Rate reads Standing.CheckBound, 0.93).
func TestLapseNotChecked(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	b, err := reputation.NewBook(reputation.DefaultParams(), "me")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		for _, p := range []string{"lapsed", "failed"} {
			if err := b.Record(now, p, string(market.RuntimeWasm), reputation.Success, fmt.Sprint("r", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = b.Record(now, "lapsed", string(market.RuntimeWasm), reputation.Timeout, "lost")
	_ = b.Record(now, "failed", string(market.RuntimeWasm), reputation.Failure, "refused")
	rep := &bookRep{&fakeRep{}, b}
	r := &Service{self: "me", secret: []byte("secret"), policy: reputation.DefaultCheckPolicy(), d: Deps{Rep: rep, Now: func() time.Time { return now }}}
	r.prob = newProbation(rep, r.policy, r.d.Now)
	spec := market.JobSpec{Runtime: market.RuntimeWasm, MaxPrice: 10}
	if st := b.Standing("lapsed", string(market.RuntimeWasm), 0); st.LowerBound >= r.policy.Proven || r.certainCheck("lapsed", spec) {
		t.Fatalf("40 clean jobs and a timeout (bound %.3f, check bound %.3f): checked every time", st.LowerBound, st.CheckBound)
	}
	if !r.certainCheck("failed", spec) {
		t.Fatal("40 clean jobs and a failure: not checked every time")
	}
}

// TestDisputedNotHired: a provider whose contradicted result could not
// get a tie-break (disputeUnsettled) is not hired while a provider this
// node trusts declines it over its credit, however many others would
// check it — the next tie-break would find no bid either, and its record
// here would keep only its right results. Once this node pays, it is.
func TestDisputedNotHired(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	rep := &ranked{&fakeRep{}, map[string]float64{"t1": 0.97, "t2": 0.97, "t3": 0.97, "t4": 0.97, "t5": 0.97, "vet": 0.99}}
	led := &owing{debt: map[string]int64{}}
	r := &Service{self: "me", secret: []byte("secret"), policy: reputation.DefaultCheckPolicy(), d: Deps{Rep: rep, Ledger: led, Now: clock}}
	r.prob = newProbation(rep, r.policy, clock)
	cands := []market.Candidate{{Peer: "t1"}, {Peer: "t2"}, {Peer: "t3"}, {Peer: "t4"}, {Peer: "t5"}, {Peer: "vet"}}
	hired := func() (out []string, why string) {
		j := &job{id: "j", spec: market.JobSpec{Runtime: market.RuntimeWasm, MaxPrice: 10}, rep: &drawnRep{probation: r.prob}}
		r.hireable(j, cands)
		for _, c := range cands {
			if j.rep.Standing(c.Peer, market.RuntimeWasm, 0).Eligible {
				out = append(out, c.Peer)
			}
		}
		return out, j.rep.Standing("vet", market.RuntimeWasm, 0).Reason
	}
	led.debt["t2"] = 100
	r.prob.declined("t2", 100)
	s := &sampling{adaptive: true, original: market.ReplicaResult{Provider: "vet", Digest: "a"},
		runs: []market.ReplicaResult{{Provider: "t1", Digest: "b"}}}
	r.disputeUnsettled(&job{id: "j0", spec: market.JobSpec{Runtime: market.RuntimeWasm, MaxPrice: 10}, sampling: s})
	if got, why := hired(); slices.Contains(got, "vet") || !strings.Contains(why, "no tie-break could be run") {
		t.Fatalf("disputed, t2 declining over credit: hired %v (vet's reason %q)", got, why)
	}
	led.debt["t2"] = 0 // paid
	if got, _ := hired(); !slices.Contains(got, "vet") {
		t.Fatalf("paid: hired %v, want vet among them", got)
	}
	// Outnumbered (disputeOutnumbered) rather than unsettled: checked
	// every time, but hired while enough trusted providers would check
	// it (rule 18 decides), as in the simulator.
	led.debt["t2"] = 100
	r.prob.outnumber("t3", now.Add(quarantine))
	if got, why := hired(); !slices.Contains(got, "t3") || slices.Contains(got, "vet") || !r.certainCheck("t3", market.JobSpec{Runtime: market.RuntimeWasm, MaxPrice: 10}) {
		t.Fatalf("t3 outnumbered, vet unsettled, t2 declining: hired %v (vet's reason %q); want t3 hired and checked every time, vet not", got, why)
	}
}
