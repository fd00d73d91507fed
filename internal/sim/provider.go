package sim

import (
	"fmt"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/reputation"
)

// provider is one simulated provider identity, driving a real
// market.Provider (bids, declines, award checks) and a reputation.Book of
// the requesters it works for (credit limits).
type provider struct {
	w      *world
	pop    *Population
	popIdx int
	id     string
	subnet string
	sg     signer
	mp     *market.Provider
	offer  market.Offer
	book   *reputation.Book
	cost   int64
	owed   map[string]int64 // requester → debt acknowledged by receipts, not settled
	credit map[string]int64 // requester → credit limit, until evidence about it arrives
	runs   int              // results delivered
	active map[string]*activeRun
	joined bool
	online bool
	caught bool // a requester recorded a wrong result against it
	gen    int  // whitewashers: identities used so far
	seq    int  // evidence IDs of its attestations
}

type activeRun struct {
	award     market.Award
	awardCID  string
	cancelled bool
}

func (w *world) newProvider(p *Population, pi, i int) *provider {
	pr := &provider{w: w, pop: p, popIdx: pi, cost: w.uniform(p.CostMin, p.CostMax)}
	pr.setIdentity(fmt.Sprintf("%s-%03d", p.Name, i))
	// Each honest provider is its own operator: its own /24, in a /16 of
	// its own. Each attacking population is one operator: an identity per
	// /24, all in one /16 (reputation.SubnetGuard's block); the sybils'
	// 100 identities share 20 /24s of one /16.
	// Subnets overrides how many /24s a population's identities share.
	switch {
	case p.Kind == KindHonest:
		pr.subnet = fmt.Sprintf("10.%d.%d.0/24", i%256, i/256+pi)
	case p.Subnets > 0:
		pr.subnet = fmt.Sprintf("192.%d.%d.0/24", (168+pi)%256, i%p.Subnets)
	case p.Kind == KindSybil:
		pr.subnet = fmt.Sprintf("172.16.%d.0/24", i%20)
	default:
		pr.subnet = fmt.Sprintf("192.%d.%d.0/24", (168+pi)%256, i%256)
	}
	w.provs = append(w.provs, pr)
	return pr
}

// setIdentity gives the provider a (new) peer ID: a fresh signer, market
// machine, offer and book, and nothing of its past.
func (p *provider) setIdentity(id string) {
	w := p.w
	p.id, p.sg = id, signer(id)
	cfg := market.DefaultProviderConfig(id)
	switch p.pop.Kind {
	case KindFalseStart:
		cfg.StartBaseMs = 0 // commits to start at once, whatever it will do
	default:
		cfg.StartBaseMs = 50 + time.Duration(p.pop.RunMin).Milliseconds()/10
	}
	p.mp = market.NewProvider(cfg, p.sg)
	f := p.pop.PriceFactor
	if f == 0 {
		f = 1
	}
	base := max(1, int64(float64(p.cost)*f+0.5))
	p.offer = market.Offer{
		Provider: id, Seq: 1, Capabilities: []market.Capability{market.RuntimeWasm},
		Pricing: market.Pricing{Base: base, Surge: 0.5},
		Limits: market.Limits{MaxMemoryBytes: 4 << 30, MaxTimeoutMs: 600_000, MaxModuleBytes: 64 << 20,
			MaxInputBytes: 64 << 20, MaxOutputBytes: 64 << 20, Slots: p.pop.Slots},
		Created: epoch.UnixMilli(), Expires: epoch.Add(7 * 24 * time.Hour).UnixMilli(),
	}
	book, err := reputation.NewBook(w.reps, id)
	if err != nil {
		panic(err) // params validated at start
	}
	p.book = book
	p.owed = map[string]int64{}
	p.credit = map[string]int64{}
	p.active = map[string]*activeRun{}
	p.runs = 0
	p.caught = false
	w.byID[id] = p
}

// onCall answers a call for bids, verified and decoded once for all its
// invitees (as gossip validators do before delivery).
func (p *provider) onCall(r *requester, call *market.CallForBids, callCID string) {
	if !p.online {
		return
	}
	w := p.w
	now := w.clk.now
	if p.mp.Outstanding() > 0 && w.rng.IntN(64) == 0 {
		p.mp.Expire(now)
	}
	load := market.Load{Running: len(p.active), Slots: p.pop.Slots, RequesterOwes: p.owed[r.id], CreditLimit: p.creditLimit(r)}
	out, send, err := p.mp.Answer(now, p.offer, *call, callCID, load, market.Prep{})
	if err != nil {
		w.fail(fmt.Errorf("sim: %s: answer: %w", p.id, err))
		return
	}
	if send {
		w.send(func() { r.onAnswer(call.Job, out) })
	}
}

// onAward checks an award against its bid and acknowledges it, then runs
// the job (or, by its nature, does not).
func (p *provider) onAward(r *requester, env canon.Envelope) {
	w := p.w
	var a market.Award
	if err := env.Open(keys{}, market.KindAward, &a); err != nil {
		w.fail(fmt.Errorf("sim: %s: award: %w", p.id, err))
		return
	}
	if !p.online {
		return // gone: the requester's ack timeout will tell
	}
	ack := market.Ack{Job: a.Job, Attempt: a.Attempt, Award: env.CID(), Provider: p.id, Requester: r.id, Created: w.clk.now.UnixMilli()}
	_, err := p.mp.CheckAward(a, keys{})
	switch {
	case err != nil:
		w.fail(fmt.Errorf("sim: %s refuses an award from the real Job: %w", p.id, err))
		return
	case len(p.active) >= p.pop.Slots:
		ack.Code, ack.Reason = market.DeclineBusy, "all slots in use"
	default:
		ack.Accept = true
	}
	aenv, err := canon.Seal(p.sg, market.KindAck, ack)
	if err != nil {
		w.fail(err)
		return
	}
	w.send(func() { r.onAck(a.Job, aenv) })
	if !ack.Accept {
		return
	}
	run := &activeRun{award: a, awardCID: ack.Award}
	p.active[a.Job] = run
	if p.pop.Kind == KindLazy && w.rng.Float64() < p.pop.Rate {
		// Holds the slot and never answers: freed when the result was due.
		w.clk.at(time.UnixMilli(a.ResultBy), func() { p.done(a.Job, run) })
		return
	}
	start := time.Duration(0)
	if p.pop.Kind == KindFalseStart {
		start = time.Duration(p.pop.LateBy)
	}
	d := start + w.duration(time.Duration(p.pop.RunMin), time.Duration(p.pop.RunMax))
	w.clk.after(d, func() { p.deliver(r, run, start) })
}

func (p *provider) done(job string, run *activeRun) {
	if p.active[job] == run {
		delete(p.active, job)
	}
}

// deliver sends the run's signed result: right, or wrong by the
// provider's nature.
func (p *provider) deliver(r *requester, run *activeRun, late time.Duration) {
	w := p.w
	a := run.award
	p.done(a.Job, run)
	if run.cancelled || !p.online {
		return
	}
	root := w.roots[a.Job]
	wrong := p.cheats()
	out := root.right
	if wrong {
		out = canon.BlobCID([]byte("wrong/" + root.id + "/" + p.fakeTag())).String()
	}
	p.runs++
	res := market.Result{
		Job: a.Job, Attempt: a.Attempt, Award: run.awardCID, Provider: p.id, Requester: r.id,
		Status: market.StatusOK, Stdout: market.Stream{Blob: market.Blob{CID: out, Size: 64}},
		Stderr:         market.Stream{Blob: market.Blob{CID: root.right, Size: 0}},
		StartedAfterMs: late.Milliseconds(), StartHeld: late == 0,
		Usage: market.Usage{WallUs: 1000}, Created: w.clk.now.UnixMilli(),
	}
	env, err := canon.Seal(p.sg, market.KindResult, res)
	if err != nil {
		w.fail(err)
		return
	}
	w.m.delivered(p, root, wrong)
	w.send(func() { r.onResult(a.Job, env) })
}

// cheats draws whether this run returns a wrong result.
func (p *provider) cheats() bool {
	w := p.w
	switch p.pop.Kind {
	case KindCheat:
		return true
	case KindRing, KindIntermittent, KindSybil, KindWhitewash:
		return w.rng.Float64() < p.pop.Rate
	case KindOnOff:
		return p.runs >= p.pop.HonestJobs && w.rng.Float64() < p.pop.Rate
	}
	return false
}

// fakeTag is what makes a wrong result: the ring's members (and a
// colluding population's) all return the same one; everyone else's
// garbage is its own.
func (p *provider) fakeTag() string {
	if p.pop.Kind == KindRing || p.pop.Collude {
		return "ring/" + p.pop.Name
	}
	return p.id
}

func (p *provider) onCancel(job string) {
	if run := p.active[job]; run != nil {
		run.cancelled = true
		delete(p.active, job)
	}
}

// creditLimit is what requester r may owe this provider: its book's
// CreditLimit, cached until evidence about r arrives.
func (p *provider) creditLimit(r *requester) int64 {
	if c, ok := p.credit[r.id]; ok {
		return c
	}
	c := p.book.CreditLimit(r.id, p.w.cfg.CreditBase, p.w.cfg.CreditMax)
	p.credit[r.id] = c
	return c
}

// paid: a receipt was countersigned.
func (p *provider) paid(r *requester, price int64, receipt string) {
	p.owed[r.id] += price
	delete(p.credit, r.id)
	_ = p.book.Record(p.w.clk.now, r.id, reputation.CapRequester, reputation.Paid, receipt)
}

// disputed: the requester refused to sign for a delivered result.
func (p *provider) disputed(r *requester, job string) {
	delete(p.credit, r.id)
	_ = p.book.Record(p.w.clk.now, r.id, reputation.CapRequester, reputation.Disputed, "job:"+job+":"+p.id)
}

// settled: the requester paid its debt.
func (p *provider) settled(r *requester, amount int64, settle string) {
	p.owed[r.id] -= amount
	delete(p.credit, r.id)
	_ = p.book.Record(p.w.clk.now, r.id, reputation.CapRequester, reputation.Settled, settle)
}

// caughtCheating: a requester recorded a wrong result against it. A
// whitewasher leaves and comes back as a stranger half an hour later.
func (p *provider) caughtCheating() {
	if p.caught {
		return
	}
	p.caught = true
	if p.pop.Kind != KindWhitewash || !p.online {
		return
	}
	w := p.w
	w.leave(p)
	old := p.id
	w.clk.after(30*time.Minute, func() {
		// The old identity stays in the books (and the metrics) as it was;
		// this provider continues as a new one.
		np := &provider{w: w, pop: p.pop, popIdx: p.popIdx, cost: p.cost, subnet: p.subnet, gen: p.gen + 1}
		np.setIdentity(fmt.Sprintf("%s~%d", old, np.gen))
		w.provs = append(w.provs, np)
		w.join(np)
	})
}

// ringAttestation: praise for every ring-mate, backed by receipts of
// cheap jobs the ring ran for itself, and receiptless timeouts against
// three honest providers.
func (p *provider) ringAttestation(ring, honest []*provider) reputation.Attestation {
	w := p.w
	att := reputation.Attestation{Reporter: p.id, Created: w.clk.now.UnixMilli()}
	for _, q := range ring {
		if q == p {
			continue
		}
		p.seq++
		ev := fmt.Sprintf("selfdeal/%s/%s/%d", p.id, q.id, p.seq)
		att.Reports = append(att.Reports, reputation.Report{Subject: q.id, Capability: capWasm, Outcome: reputation.Success,
			Evidence: ev, Receipt: []byte(ev)})
	}
	for range 3 {
		if len(honest) == 0 {
			break
		}
		h := honest[w.rng.IntN(len(honest))]
		p.seq++
		att.Reports = append(att.Reports, reputation.Report{Subject: h.id, Capability: capWasm, Outcome: reputation.Timeout,
			Evidence: fmt.Sprintf("badmouth/%s/%d", p.id, p.seq)})
	}
	p.seq++
	att.Seq = uint64(p.seq)
	return att
}
