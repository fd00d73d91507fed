package requester

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
)

// newcomers: every peer is an eligible newcomer without a record.
type newcomers struct{ *fakeRep }

func (*newcomers) Standing(string, market.Capability, float64) market.Standing {
	return market.Standing{Eligible: true, Newcomer: true, Score: 0.5}
}

func TestProbation(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newProbation(&newcomers{&fakeRep{}}, reputation.DefaultCheckPolicy(), func() time.Time { return now })
	p.seen([]market.Candidate{
		{Peer: "a", Subnet: "203.0.113.0/24"}, {Peer: "b", Subnet: "203.0.113.0/24"},
		{Peer: "c", Subnet: "203.0.7.0/24"}, {Peer: "d", Subnet: "203.0.9.0/24"},
		{Peer: "l1", Subnet: "127.0.0.0/24"}, {Peer: "l2", Subnet: "127.0.0.0/24"},
	})
	eligible := func(peer string) bool { return p.Standing(peer, market.RuntimeWasm, 0).Eligible }

	// The review hold: an unproven provider under review wins nothing
	// more here until its run or check ends.
	if !p.unproven("a", "runtime/wasm") {
		t.Fatal("a stranger is not unproven")
	}
	p.hold("a")
	p.hold("a")
	if eligible("a") || !eligible("b") {
		t.Fatal("the hold must bar its provider alone")
	}
	p.release("a")
	if eligible("a") {
		t.Fatal("a second hold was released by the first release")
	}
	p.release("a")
	if !eligible("a") {
		t.Fatal("released, a is still barred")
	}

	// The subnet guard: one catch bars the newcomers of its /24, a catch
	// in a second /24 of the same /16 bars the /16, for a day.
	p.caught("a")
	if eligible("b") || !eligible("c") {
		t.Fatal("a catch in 203.0.113.0/24 must bar b there, not c elsewhere")
	}
	p.caught("c")
	if eligible("d") {
		t.Fatal("two caught /24s of 203.0.0.0/16 must bar d in a third")
	}
	now = now.Add(quarantine)
	if !eligible("b") || !eligible("d") {
		t.Fatal("the quarantine has passed")
	}

	// Loopback is never barred: an in-process devnet is one machine.
	p.caught("l1")
	if !eligible("l2") {
		t.Fatal("a loopback catch barred another loopback peer")
	}
	if got := guardedSubnet("203.0.113.7/24"); got != "203.0.113.0/24" {
		t.Fatalf("guardedSubnet = %q, want the canonical 203.0.113.0/24", got)
	}
}

// A testnet's subnets (Config.SharedSubnets) say nothing about who runs
// a peer: neither a catch there nor a check's cohorts count them, while
// other subnets still do.
func TestSharedSubnets(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newProbation(&newcomers{&fakeRep{}}, reputation.DefaultCheckPolicy(), func() time.Time { return now })
	p.shared = parseShared([]string{"10.201.0.0/16", "not a subnet"})
	p.seen([]market.Candidate{
		{Peer: "t1", Subnet: "10.201.1.0/24"}, {Peer: "t2", Subnet: "10.201.1.0/24"},
		{Peer: "s1", Subnet: "198.51.100.0/24"}, {Peer: "s2", Subnet: "198.51.100.0/24"},
	})
	if p.cohort("t1") != "" || p.cohort("s1") != "198.51.100.0/24" {
		t.Fatalf("cohorts %q and %q, want none inside the shared subnet and 198.51.100.0/24 outside", p.cohort("t1"), p.cohort("s1"))
	}
	p.caught("t1")
	p.caught("s1")
	if !p.Standing("t2", market.RuntimeWasm, 0).Eligible || p.Standing("s2", market.RuntimeWasm, 0).Eligible {
		t.Fatal("a catch in a shared subnet barred a neighbour, or one outside it did not")
	}
}

// ranked: peers' lower bounds are given; no one else is known.
type ranked struct {
	*fakeRep
	lb map[string]float64
}

func (r *ranked) Standing(peer string, _ market.Capability, min float64) market.Standing {
	return market.Standing{Eligible: r.lb[peer] >= min, Newcomer: r.lb[peer] < 0.2, Score: r.lb[peer]}
}

func (r *ranked) BookStanding(peer, _ string, min float64) reputation.Standing {
	return reputation.Standing{Eligible: r.lb[peer] >= min, LowerBound: r.lb[peer]}
}

// TestCloseToTrusted: once this node trusts three providers, adaptive
// jobs outside the open share go to trusted providers only, unasked
// bidders included; with two, every job is open.
func TestCloseToTrusted(t *testing.T) {
	rep := &ranked{&fakeRep{}, map[string]float64{"t1": 0.6, "t2": 0.7, "t3": 0.8, "new": 0.05}}
	r := &Service{self: "me", secret: []byte("secret"), policy: reputation.DefaultCheckPolicy()}
	r.prob = newProbation(rep, r.policy, time.Now)
	cands := []market.Candidate{{Peer: "t1"}, {Peer: "t2"}, {Peer: "new"}, {Peer: "me"}}
	var open, closed string
	for i := 0; open == "" || closed == ""; i++ {
		id := fmt.Sprintf("j%d", i)
		if reputation.ShouldSample(r.secret, "probation/"+id, probationShare) {
			open = id
		} else {
			closed = id
		}
	}
	job := func(id string) *job {
		return &job{id: id, spec: market.JobSpec{Runtime: market.RuntimeWasm}, rep: &drawnRep{probation: r.prob}}
	}

	j := job(closed)
	if got := r.closeToTrusted(j, cands); len(got) != len(cands) {
		t.Fatalf("two trusted providers closed the job to %v", got)
	}
	cands = append(cands, market.Candidate{Peer: "t3"})
	got := r.closeToTrusted(j, cands)
	if len(got) != 3 || slices.ContainsFunc(got, func(c market.Candidate) bool { return c.Peer == "new" || c.Peer == "me" }) {
		t.Fatalf("closed job's candidates %v, want t1, t2, t3", got)
	}
	if j.rep.Standing("new", market.RuntimeWasm, 0).Eligible || !j.rep.Standing("t2", market.RuntimeWasm, 0).Eligible {
		t.Fatal("a closed job must refuse a bid from a provider it does not trust, and take one from a trusted one")
	}
	if got := r.closeToTrusted(job(open), cands); len(got) != len(cands) {
		t.Fatalf("a job of the open share was closed to %v", got)
	}
}

// TestCheckCandidatesCohorts: a check run is drawn outside the subnets
// of the runs so far, so that sybils of one operator do not check each
// other (reputation.JudgeCheck's cohorts); shared subnets do not count.
func TestCheckCandidatesCohorts(t *testing.T) {
	rep := &ranked{&fakeRep{}, map[string]float64{}}
	seed := uint64(7)
	t.Logf("seed %d", seed)
	r := &Service{self: "me", secret: []byte("secret"), policy: reputation.DefaultCheckPolicy(),
		d: Deps{Rand: func() uint64 { seed++; return seed }}}
	r.prob = newProbation(rep, r.policy, time.Now)
	r.prob.shared = parseShared([]string{"10.201.0.0/16"})
	cands := []market.Candidate{
		{Peer: "s1", Subnet: "198.51.100.0/24"}, {Peer: "s2", Subnet: "198.51.100.0/24"}, {Peer: "s3", Subnet: "198.51.100.0/24"},
		{Peer: "h1", Subnet: "203.0.113.0/24"}, {Peer: "t1", Subnet: "10.201.1.0/24"},
	}
	r.prob.seen(cands)
	for i := range 20 {
		j := &job{id: fmt.Sprint("c", i), spec: market.JobSpec{Runtime: market.RuntimeWasm}, exclude: []string{"s1"}, rep: &drawnRep{probation: r.prob}}
		got := r.checkCandidates(j, cands)
		if len(got) != 2 || slices.ContainsFunc(got, func(c market.Candidate) bool { return c.Peer[0] == 's' }) {
			t.Fatalf("check of s1's result drawn from %v, want h1 and t1: none of s1's subnet", got)
		}
	}
}

// TestBarsSurviveARestart: a subnet caught before a restart stays barred
// to newcomers after it, until its quarantine ends; an expired bar is
// dropped; a corrupt file is reported and the node starts with none; a
// full set forgets the bars ending first.
func TestBarsSurviveARestart(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "subnet-bars.json")
	var log bytes.Buffer
	open := func() *probation {
		p := newProbation(&newcomers{&fakeRep{}}, reputation.DefaultCheckPolicy(), func() time.Time { return now })
		p.persist(file, slog.New(slog.NewTextHandler(&log, nil)))
		p.seen([]market.Candidate{
			{Peer: "a", Subnet: "203.0.113.0/24"}, {Peer: "b", Subnet: "203.0.113.0/24"},
			{Peer: "c", Subnet: "198.51.100.0/24"}, {Peer: "d", Subnet: "198.51.100.0/24"},
		})
		return p
	}
	barred := func(p *probation, peer string) bool { return !p.Standing(peer, market.RuntimeWasm, 0).Eligible }

	p := open()
	p.caught("c")
	now = now.Add(quarantine / 2)
	p.caught("a")
	if !barred(p, "b") || !barred(p, "d") {
		t.Fatal("the catches barred nothing")
	}
	now = now.Add(quarantine/2 + time.Minute) // c's bar has ended, a's has not

	p = open() // a restart: the bars were saved on change, without a Close
	if !barred(p, "b") {
		t.Error("a restart forgot an unexpired bar")
	}
	if barred(p, "d") {
		t.Error("an expired bar came back")
	}
	if _, ok := p.bars["198.51.100.0/24"]; ok {
		t.Error("an expired bar was loaded")
	}
	if log.Len() != 0 {
		t.Errorf("logged %q", log.String())
	}
	now = now.Add(quarantine / 2)
	if barred(p, "b") {
		t.Error("a reloaded bar outlived its quarantine")
	}

	// A corrupt file: reported with what to do, no bars, replaced by
	// the next save.
	if err := os.WriteFile(file, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	p = open()
	if !strings.Contains(log.String(), "corrupt") || !strings.Contains(log.String(), "remove the file") || len(p.bars) != 0 {
		t.Errorf("log %q, bars %v: want the corrupt file reported and no bars", log.String(), p.bars)
	}
	p.caught("c")
	log.Reset()
	if p = open(); !barred(p, "d") || log.Len() != 0 {
		t.Errorf("the corrupt file was not replaced (log %q)", log.String())
	}

	// Read back, no bar outlasts a quarantine from now.
	if err := wire.SaveUntil(file, map[string]time.Time{"198.51.100.0/24": now.Add(100 * quarantine)}); err != nil {
		t.Fatal(err)
	}
	if p = open(); !barred(p, "d") {
		t.Fatal("a bar read back was lost")
	}
	now = now.Add(quarantine)
	if barred(p, "d") {
		t.Error("a bar read back outlasted a quarantine")
	}

	// A full set: the bars ending first give way, in memory and on disk.
	m := map[string]time.Time{}
	for i := range maxBars + 10 {
		m[fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)] = now.Add(time.Duration(i+1) * time.Minute)
	}
	if err := wire.SaveUntil(file, m); err != nil {
		t.Fatal(err)
	}
	p = open()
	if len(p.bars) != maxBars || !p.guard.Bars(fmt.Sprintf("10.%d.%d.0/24", (maxBars+9)/256, (maxBars+9)%256), now) {
		t.Fatalf("%d bars loaded, want the cap %d with the last ending kept", len(p.bars), maxBars)
	}
	p.caught("a")
	if len(p.bars) != maxBars || !barred(p, "b") {
		t.Errorf("%d bars after a catch when full, want the cap %d with the new bar", len(p.bars), maxBars)
	}
	if _, ok := p.bars["10.0.10.0/24"]; ok {
		t.Error("the bar ending first was kept over the new one")
	}
}

// owing is a ledger that knows only what this node owes each peer.
type owing struct {
	Ledger
	debt map[string]int64
}

func (l *owing) Balance(peer string) int64 { return -l.debt[peer] }

// TestUncheckableNotHired: a provider whose result this node would check
// every time is not hired while fewer than two of the other providers it
// trusts — its checkers — will work for it: the rest declined its calls
// over its unpaid credit and it owes them no less since. A veteran,
// checked only now and then, still is; paying a decliner back, or its
// bidding again, makes it a checker again (Service.hireable).
func TestUncheckableNotHired(t *testing.T) {
	rep := &ranked{&fakeRep{}, map[string]float64{"t1": 0.97, "t2": 0.97, "t3": 0.97, "t4": 0.97, "mid": 0.6, "new": 0.05}}
	led := &owing{debt: map[string]int64{}}
	r := &Service{self: "me", secret: []byte("secret"), policy: reputation.DefaultCheckPolicy(), d: Deps{Rep: rep, Ledger: led}}
	r.prob = newProbation(rep, r.policy, time.Now)
	cands := []market.Candidate{{Peer: "t1"}, {Peer: "t2"}, {Peer: "t3"}, {Peer: "t4"}, {Peer: "mid"}, {Peer: "new"}, {Peer: "me"}}
	hired := func() (out []string) {
		j := &job{id: "j", spec: market.JobSpec{Runtime: market.RuntimeWasm, MaxPrice: 10}, rep: &drawnRep{probation: r.prob}}
		r.hireable(j, cands)
		for _, c := range cands {
			if c.Peer != "me" && j.rep.Standing(c.Peer, market.RuntimeWasm, 0).Eligible {
				out = append(out, c.Peer)
			}
		}
		return out
	}
	everyone := []string{"t1", "t2", "t3", "t4", "mid", "new"}
	if got := hired(); !slices.Equal(got, everyone) {
		t.Fatalf("nobody declined, hired %v", got)
	}
	decline := func(ps ...string) {
		for _, p := range ps {
			led.debt[p] = 100
			r.prob.declined(p, 100)
		}
	}
	reason := func(p string) string {
		j := &job{id: "j", spec: market.JobSpec{Runtime: market.RuntimeWasm, MaxPrice: 10}, rep: &drawnRep{probation: r.prob}}
		r.hireable(j, cands)
		return j.rep.Standing(p, market.RuntimeWasm, 0).Reason
	}
	// mid (trusted, not proven: checked every time) has t4 alone left to
	// check it; new has t4 and mid.
	decline("t1", "t2", "t3")
	if got := hired(); !slices.Equal(got, []string{"t1", "t2", "t3", "t4", "new"}) {
		t.Fatalf("with one checker left for mid, hired %v: want all but mid", got)
	}
	if why := reason("mid"); !strings.Contains(why, "3 of the 4 other providers you trust decline you over unpaid credit") ||
		!strings.Contains(why, "--verify none") {
		t.Fatalf("reason %q does not say what is wrong and what to do", why)
	}
	decline("t4")
	vets := []string{"t1", "t2", "t3", "t4"}
	if got := hired(); !slices.Equal(got, vets) {
		t.Fatalf("with one checker left for new, hired %v: want the veterans only, checked now and then", got)
	}
	led.debt["t1"] = 150 // owes it more since: still declined
	if got := hired(); !slices.Equal(got, vets) {
		t.Fatalf("a decliner owed more counts as a checker: hired %v", got)
	}
	led.debt["t1"] = 0 // paid back
	if got := hired(); !slices.Equal(got, []string{"t1", "t2", "t3", "t4", "new"}) {
		t.Fatalf("t1 paid: hired %v, want all but mid", got)
	}
	r.prob.bid("t2") // works for this node again
	if got := hired(); !slices.Equal(got, everyone) {
		t.Fatalf("t2 bid again: hired %v, want everyone", got)
	}
	decline("t1", "t2")
	r.prob.checking("t4") // a veteran whose earlier result is under check is checked too
	if got := hired(); !slices.Equal(got, []string{"t1", "t2", "t3"}) {
		t.Fatalf("t4 under check, mid alone to check it: hired %v", got)
	}
}

// TestUnsettledDispute: a result a checker contradicted, whose
// tie-break found no bid while a trusted provider declines this node over
// its credit, makes its provider checked every time for a day — a right
// result's check needs one run, a wrong one's two, so otherwise a cheat's
// record keeps only its right results. Without the credit decline, or
// without a contradiction, nothing changes.
func TestUnsettledDispute(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	rep := &ranked{&fakeRep{}, map[string]float64{"t1": 0.97, "t2": 0.97, "t3": 0.97, "vet": 0.99}}
	led := &owing{debt: map[string]int64{}}
	r := &Service{self: "me", secret: []byte("secret"), policy: reputation.DefaultCheckPolicy(), d: Deps{Rep: rep, Ledger: led, Now: clock}}
	r.prob = newProbation(rep, r.policy, clock)
	spec := market.JobSpec{Runtime: market.RuntimeWasm, MaxPrice: 10}
	unsettled := func(digests ...string) *job {
		s := &sampling{adaptive: true, original: market.ReplicaResult{Provider: "vet", Digest: "a"}}
		for i, d := range digests {
			s.runs = append(s.runs, market.ReplicaResult{Provider: fmt.Sprintf("t%d", i+1), Digest: d})
		}
		j := &job{id: "j", spec: spec, sampling: s}
		r.disputeUnsettled(j)
		return j
	}
	if r.certainCheck("vet", spec) {
		t.Fatal("a settled veteran is checked every time before any dispute")
	}
	unsettled("b")
	if r.certainCheck("vet", spec) {
		t.Fatal("disputed though no provider declines this node over its credit")
	}
	led.debt["t2"] = 100
	r.prob.declined("t2", 100)
	unsettled("a")
	if r.certainCheck("vet", spec) {
		t.Fatal("disputed though its checker agreed")
	}
	j := unsettled("b")
	if !r.certainCheck("vet", spec) {
		t.Fatal("contradicted, tie-break unstaffed, t2 declining over credit: vet is not checked every time")
	}
	if len(j.events) != 1 || !strings.Contains(j.events[0].Message, "checked every time for a day") {
		t.Fatalf("events %+v do not say why", j.events)
	}
	now = now.Add(quarantine)
	if r.certainCheck("vet", spec) {
		t.Fatal("still disputed a day later")
	}
}

// TestOutnumberedDispute: a check without a verdict in which more
// subnets contradicted a provider's result than returned it makes that
// provider checked every time for a day — a veteran's run outweighs
// three agreeing strangers, so the checks of its wrong results end so
// while its right ones earn a Success (internal/sim seed 29). A check
// without a verdict where no result had two subnets changes nothing.
func TestOutnumberedDispute(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	rep := &ranked{&fakeRep{}, map[string]float64{"vet": 0.99, "vet2": 0.99}}
	r := &Service{self: "me", secret: []byte("secret"), policy: reputation.DefaultCheckPolicy(), d: Deps{Rep: rep, Ledger: &owing{debt: map[string]int64{}}, Now: clock}}
	r.prob = newProbation(rep, r.policy, clock)
	spec := market.JobSpec{Runtime: market.RuntimeWasm, MaxPrice: 10}
	judge := func(reps ...reputation.Replica) *job {
		j := &job{id: "j", spec: spec}
		d := reputation.JudgeCheck(reps, checkEpsilon, market.MaxCheckRuns)
		if d.Verdict != reputation.SampleUnresolved {
			t.Fatalf("JudgeCheck = %v (%s), want unresolved", d.Verdict, d.Reason)
		}
		r.disputeOutnumbered(j, d)
		return j
	}
	if r.certainCheck("vet", spec) {
		t.Fatal("a settled veteran is checked every time before any dispute")
	}
	judge(reputation.Replica{Provider: "vet", Digest: "w", Reliability: 0.995, Cohort: "n1"},
		reputation.Replica{Provider: "s1", Digest: "a", Reliability: 0.9, Cohort: "n2"},
		reputation.Replica{Provider: "s2", Digest: "b", Reliability: 0.9, Cohort: "n3"},
		reputation.Replica{Provider: "s3", Digest: "c", Reliability: 0.9, Cohort: "n4"},
		reputation.Replica{Provider: "s4", Digest: "d", Reliability: 0.9, Cohort: "n5"})
	if r.certainCheck("vet", spec) {
		t.Fatal("disputed though no result had two subnets")
	}
	j := judge(reputation.Replica{Provider: "vet", Digest: "w", Reliability: 0.995, Cohort: "n1"},
		reputation.Replica{Provider: "vet2", Digest: "w2", Reliability: 0.995, Cohort: "n2"},
		reputation.Replica{Provider: "s1", Digest: "ok", Reliability: 0.9, Cohort: "n3"},
		reputation.Replica{Provider: "s2", Digest: "ok", Reliability: 0.9, Cohort: "n4"},
		reputation.Replica{Provider: "s3", Digest: "ok", Reliability: 0.9, Cohort: "n5"})
	if !r.certainCheck("vet", spec) || !r.certainCheck("vet2", spec) {
		t.Fatal("outnumbered by three subnets in a check without a verdict: the veterans are not checked every time")
	}
	if len(j.events) != 2 || !strings.Contains(j.events[0].Message, "checked every time for a day") {
		t.Fatalf("events %+v do not say why", j.events)
	}
	now = now.Add(quarantine)
	if r.certainCheck("vet", spec) {
		t.Fatal("still disputed a day later")
	}
}

// caught is ranked with this node's own wrong-result and other evidence
// against each peer.
type caught struct {
	*ranked
	wrong, against map[string]float64
}

func (c *caught) BookStanding(peer, capability string, min float64) reputation.Standing {
	st := c.ranked.BookStanding(peer, capability, min)
	st.Wrong, st.Against = c.wrong[peer], c.against[peer]
	return st
}

// TestCaughtBar: a provider caught three times lately here
// (CheckPolicy.CaughtBar, Standing.Wrong) is neither eligible nor
// trusted as a checker, however long its record — a veteran's right
// results between catches kept it winning on price (internal/sim seed
// 29). A veteran with as much evidence against it from timeouts and
// failures, and only two catches, stays both.
func TestCaughtBar(t *testing.T) {
	rep := &caught{&ranked{&fakeRep{}, map[string]float64{"cheat": 0.9, "lossy": 0.9}},
		map[string]float64{"cheat": 24, "lossy": 16}, map[string]float64{"cheat": 24, "lossy": 46}}
	p := newProbation(rep, reputation.DefaultCheckPolicy(), time.Now)
	if st := p.Standing("cheat", market.RuntimeWasm, 0); st.Eligible || !strings.Contains(st.Reason, "wrong results") {
		t.Errorf("a veteran caught three times: standing %+v", st)
	}
	if p.trusted("cheat", market.RuntimeWasm) {
		t.Error("a veteran caught three times is trusted to check others")
	}
	if st := p.Standing("lossy", market.RuntimeWasm, 0); !st.Eligible || !p.trusted("lossy", market.RuntimeWasm) {
		t.Errorf("a veteran with lost messages and two catches: standing %+v, trusted %v", st, p.trusted("lossy", market.RuntimeWasm))
	}
}
