package requester

import (
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/reputation"
)

// probation is the auction's view of reputation for adaptive jobs and
// their checks, as hayek sim measured it (internal/sim, repView): the
// book's standing, and two rules on top of it.
//
//   - Review hold: a provider without a record here (lower bound below
//     CheckPolicy.Trusted) that holds an award of an adaptive job, or
//     whose result is under check, wins nothing more here until that run
//     ends or that check is judged: a fresh identity cannot collect many
//     awards before its first check comes back.
//   - Subnet guard (reputation.SubnetGuard): newcomers from a subnet in
//     which this node caught a wrong result are barred for a day, and from
//     its /16 once two of its /24s were. Identities are free; addresses
//     are not.
//   - Probation floor: a provider without a record here whose first-hand
//     reliability fell below CheckPolicy.ProbationReliability is not
//     eligible (reputation.CheckPolicy.Probation).
//
// On top of both, an adaptive job outside the open share goes to trusted
// providers only once this node trusts minTrusted (adaptive.go,
// closeToTrusted). Jobs with other verify modes use the book's standing
// alone, as before.
type probation struct {
	Reputation
	policy reputation.CheckPolicy
	now    func() time.Time

	mu      sync.Mutex
	review  map[string]int    // provider → runs and checks holding it
	checks  map[string]int    // provider → its results under check (any record)
	subnets map[string]string // provider → its subnet, from discovery
	guard   *reputation.SubnetGuard
	bars    map[string]time.Time // subnet → end of its quarantine: the guard's state, saved (bars.go)
	shared  []netip.Prefix       // subnets that say nothing about a peer's operator (Config.SharedSubnets)
	// creditNo: providers that declined a call of this node over its
	// credit (market.DeclineRequester), with what it owed each then; a
	// decline stands until the provider bids again or the debt falls
	// below that (Service.hireable).
	creditNo map[string]int64
	// disputed: providers whose result a check contradicted and could not
	// settle, its tie-break finding no bid while this node's trusted
	// providers decline it over its credit, until when they are not hired
	// while a trusted provider declines this node over its credit
	// (Service.hireable).
	disputed map[string]time.Time
	// everyTime: providers whose results are checked every time until
	// then — disputed ones, those outnumbered in a check without a verdict
	// (Service.disputeOutnumbered), and the trusted providers of the checks
	// that found this node captured (checkEnded).
	everyTime map[string]time.Time
	// stuck counts this node's checks in a row that ended without a
	// verdict while providers it trusts returned different results in
	// them; at captureStreak its checkers are drawn in the wider market
	// until capturedUntil (checkEnded, Service.checkCandidates).
	stuck         int
	stuckBy       map[string]bool // the trusted providers of those checks
	capturedUntil time.Time       // checkers drawn in the wider market until then

	saveMu sync.Mutex // orders saves of bars
	file   string     // where bars are saved; "": nowhere
	log    *slog.Logger
}

// quarantine is how long a subnet in which a wrong result was caught
// stays barred to newcomers (the simulator's setting).
const quarantine = 24 * time.Hour

func newProbation(rep Reputation, policy reputation.CheckPolicy, now func() time.Time) *probation {
	return &probation{Reputation: rep, policy: policy, now: now, review: map[string]int{}, checks: map[string]int{}, subnets: map[string]string{},
		guard: reputation.NewSubnetGuard(quarantine), bars: map[string]time.Time{}, creditNo: map[string]int64{}, disputed: map[string]time.Time{},
		everyTime: map[string]time.Time{}}
}

var _ market.Reputation = (*probation)(nil)

// Standing implements market.Reputation.
func (p *probation) Standing(peer string, c market.Capability, min float64) market.Standing {
	st := p.Reputation.Standing(peer, c, min)
	if st.Eligible {
		if bst := p.BookStanding(peer, string(c), 0); p.policy.Probation(bst, p.DirectReliability(peer, string(c))) {
			reason := "on probation with too poor a record"
			if p.policy.CaughtBar > 0 && bst.Wrong >= p.policy.CaughtBar {
				// Caught repeatedly, veteran or not (reputation's doc,
				// "Design choices", 22).
				reason = "caught with wrong results here too often lately"
			}
			return market.Standing{Reason: reason, Newcomer: st.Newcomer, Score: st.Score}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.review[peer] > 0 {
		return market.Standing{Reason: "a newcomer with a result under check here", Newcomer: st.Newcomer, Score: st.Score}
	}
	if st.Newcomer && p.guard.Bars(p.subnets[peer], p.now()) {
		return market.Standing{Reason: "a newcomer from a subnet that returned a wrong result", Newcomer: true, Score: st.Score}
	}
	return st
}

// unproven: peer has no record here yet (below CheckPolicy.Trusted), so
// it holds one unjudged award here at a time.
func (p *probation) unproven(peer, capability string) bool {
	return p.BookStanding(peer, capability, 0).LowerBound < p.policy.Trusted
}

// trusted: peer may check others' results (CheckPolicy.Trusted), and may
// win here now.
func (p *probation) trusted(peer string, c market.Capability) bool {
	return p.Standing(peer, c, p.policy.Trusted).Eligible && p.BookStanding(peer, string(c), 0).LowerBound >= p.policy.Trusted
}

// hold puts peer under review until release.
func (p *probation) hold(peer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.review[peer]++
}

func (p *probation) release(peer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.review[peer]--; p.review[peer] <= 0 {
		delete(p.review, peer)
	}
}

// checking counts a result of peer under check until unchecked.
func (p *probation) checking(peer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checks[peer]++
}

func (p *probation) unchecked(peer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.checks[peer]--; p.checks[peer] <= 0 {
		delete(p.checks, peer)
	}
}

// underCheck: a result of peer is being checked here. Until its verdict,
// the record that would excuse peer's next result from a check is in
// question, so that result is checked too (Service.decideCheck).
func (p *probation) underCheck(peer string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.checks[peer] > 0
}

// declined: peer declined a call of this node over its credit while it
// owed peer debt.
func (p *probation) declined(peer string, debt int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.creditNo) > 65536 {
		clear(p.creditNo)
	}
	p.creditNo[peer] = debt
}

// bid: peer bid for a job of this node, so it works for it again.
func (p *probation) bid(peer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.creditNo, peer)
}

// refuses: peer declined this node over its credit, and this node owes
// it no less now (owed) than then.
func (p *probation) refuses(peer string, owed func(peer string) int64) bool {
	p.mu.Lock()
	d, ok := p.creditNo[peer]
	p.mu.Unlock()
	return ok && owed(peer) >= d
}

// refusedOverCredit: some provider this node trusts for c declined it
// over its credit, and it owes that provider no less now (owed).
func (p *probation) refusedOverCredit(c market.Capability, owed func(peer string) int64) bool {
	p.mu.Lock()
	peers := slices.Collect(maps.Keys(p.creditNo))
	p.mu.Unlock()
	for _, q := range peers {
		if p.refuses(q, owed) && p.trusted(q, c) {
			return true
		}
	}
	return false
}

// anyDeclined: some provider declined this node over its credit since
// it last bid (Service.hireable has nothing to do otherwise).
func (p *probation) anyDeclined() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.creditNo) > 0
}

// dispute checks every result of peer until until, and keeps it from
// being hired while a trusted provider declines this node over its
// credit (disputeUnsettled).
func (p *probation) dispute(peer string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mark(p.disputed, peer, until)
	mark(p.everyTime, peer, until)
}

// outnumber checks every result of peer until until
// (disputeOutnumbered).
func (p *probation) outnumber(peer string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mark(p.everyTime, peer, until)
}

// mark extends peer's end in m, a bounded map of quarantines, to until.
func mark(m map[string]time.Time, peer string, until time.Time) {
	if len(m) > 65536 {
		clear(m)
	}
	if until.After(m[peer]) {
		m[peer] = until
	}
}

// checkedEveryTime: peer's results are checked every time here, for now
// (dispute, outnumber, checkEnded).
func (p *probation) checkedEveryTime(peer string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live(p.everyTime, peer)
}

// isUnsettled: a result of peer was contradicted by a check whose
// tie-break found no bid for this node's credit, less than quarantine
// ago (dispute).
func (p *probation) isUnsettled(peer string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live(p.disputed, peer)
}

// live: peer's quarantine in m has not ended (an ended one is dropped).
// p.mu is held.
func (p *probation) live(m map[string]time.Time, peer string) bool {
	until, ok := m[peer]
	if ok && !p.now().Before(until) {
		delete(m, peer)
		return false
	}
	return ok
}

// checkEnded counts an adaptive check that ended with a verdict or
// without one; split: the providers trusted here that returned
// different results in it (none when they agreed). It reports whether
// this node is now captured: captureStreak checks in a row ended without
// a verdict, trusted providers contradicting each other in each. Its
// trusted pool cannot settle its checks — a pool of one operator's cheats
// that switched, each returning a wrong output of its own — and while
// its checkers come from that pool no newcomer's result gets a verdict
// either, so no honest provider can earn its trust. For captureWindow it
// draws its checkers in the wider market (Service.checkCandidates), and
// checks every result of the trusted providers of those checks
// (checkedEveryTime) (reputation's doc, "Design choices", 21).
func (p *probation) checkEnded(verdict bool, split []string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case verdict:
		p.stuck, p.stuckBy = 0, nil
	case len(split) > 0:
		if p.stuckBy == nil {
			p.stuckBy = map[string]bool{}
		}
		for _, q := range split {
			p.stuckBy[q] = true
		}
		if p.stuck++; p.stuck >= captureStreak {
			p.capturedUntil = p.now().Add(captureWindow)
			for q := range p.stuckBy {
				mark(p.everyTime, q, p.capturedUntil)
			}
			p.stuck, p.stuckBy = 0, nil
			return true
		}
	}
	return false
}

// captured: this node draws its checkers in the wider market
// (checkEnded).
func (p *probation) captured() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now().Before(p.capturedUntil)
}

// captureStreak is how many checks in a row without a verdict, in which
// trusted providers contradicted each other, make this node draw its
// checkers in the wider market for captureWindow (the simulator's
// setting).
const captureStreak = 3

const captureWindow = 10 * time.Minute

// seen remembers the subnets discovery found the candidates in.
func (p *probation) seen(cands []market.Candidate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.subnets) > 65536 {
		clear(p.subnets)
	}
	for _, c := range cands {
		if s := p.guarded(c.Subnet); s != "" {
			p.subnets[c.Peer] = s
		}
	}
}

// cohort is peer's subnet as discovery found it, "" when unknown or
// loopback: reputation.JudgeCheck counts agreeing runs of one cohort as
// one voice, and a check run is drawn outside the cohorts of the runs so
// far (checkCandidates).
func (p *probation) cohort(peer string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.subnets[peer]
}

// caught: a wrong result from peer was recorded.
func (p *probation) caught(peer string) {
	p.mu.Lock()
	s := p.subnets[peer]
	p.bar(s, p.now())
	p.mu.Unlock()
	if s != "" {
		p.save()
	}
}

// guarded is guardedSubnet, "" too for a subnet inside a shared one:
// on a testnet every peer has an address in the same few /24s, and
// counting them as one operator would bar every newcomer after one catch
// and leave a check no independent checker.
func (p *probation) guarded(subnet string) string {
	s := guardedSubnet(subnet)
	if s == "" {
		return ""
	}
	pf := netip.MustParsePrefix(s)
	for _, sh := range p.shared {
		if sh.Bits() <= pf.Bits() && sh.Contains(pf.Addr()) {
			return ""
		}
	}
	return s
}

// parseShared parses Config.SharedSubnets, skipping what does not parse
// (the node's config validated them as the gossip whitelist).
func parseShared(subnets []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range subnets {
		if pf, err := netip.ParsePrefix(s); err == nil {
			out = append(out, pf.Masked())
		}
	}
	return out
}

// guardedSubnet is subnet in canonical CIDR form (e.g. 203.0.113.0/24),
// or "" for what the guard must not bar: unparsable, or loopback — every
// peer of an in-process devnet is on 127.0.0.1, and one cheat among them
// says nothing about the others.
func guardedSubnet(subnet string) string {
	pf, err := netip.ParsePrefix(subnet)
	if err != nil || pf.Addr().IsLoopback() || pf.Addr().IsUnspecified() {
		return ""
	}
	return pf.Masked().String()
}
