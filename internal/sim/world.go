package sim

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// epoch is the virtual time every run starts at.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const capWasm = string(market.RuntimeWasm)

// world is one simulation: the clock, the network and every peer.
type world struct {
	cfg    Config
	clk    clock
	rng    *rand.Rand // the network's and the populations' draws
	ctx    context.Context
	reps   reputation.Params
	check  reputation.CheckPolicy
	reqs   []*requester
	provs  []*provider // every identity ever, whitewashers' old ones too
	live   []*provider // online now, in join order
	byID   map[string]*provider
	roots  map[string]*rootJob // by job ID, sample runs included
	m      *metrics
	issued int // jobs submitted so far
	module market.Blob
	err    error // the first internal error: the run stops
}

// Run simulates cfg and reports what happened. It is deterministic: the
// same configuration (seed included) gives the same report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &world{cfg: cfg, ctx: ctx, rng: rand.New(rand.NewPCG(cfg.Seed, 0x68617965)),
		byID: map[string]*provider{}, roots: map[string]*rootJob{}}
	w.clk.now = epoch
	w.reps, w.check = reputation.DefaultParams(), reputation.DefaultCheckPolicy()
	w.check.RefValue = cfg.MaxPrice
	if cfg.Legacy {
		w.reps = legacyParams()
	}
	w.module = market.Blob{CID: canon.BlobCID([]byte("sim module")).String(), Size: 4096}
	w.m = newMetrics(w)
	for i := range cfg.Requesters {
		r, err := w.newRequester(i, i >= cfg.Requesters-cfg.NonPaying)
		if err != nil {
			return nil, err
		}
		w.reqs = append(w.reqs, r)
	}
	defer func() {
		for _, r := range w.reqs {
			if r.ledger != nil {
				r.ledger.Close()
			}
		}
	}()
	for pi := range cfg.Populations {
		p := &cfg.Populations[pi]
		for i := range p.Count {
			pr := w.newProvider(p, pi, i)
			if p.JoinAt == 0 {
				w.join(pr)
			}
		}
	}
	w.clk.at(w.clk.now, w.submit)
	w.clk.after(time.Duration(cfg.SettleEvery), w.settleRound)
	w.clk.after(10*time.Minute, w.gossipRound)
	steps := 0
	for w.err == nil && w.clk.step() {
		if steps++; steps%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if w.err != nil {
		return nil, w.err
	}
	return w.m.report(), nil
}

func (w *world) reqByID(id string) *requester {
	for _, r := range w.reqs {
		if r.id == id {
			return r
		}
	}
	return nil
}

func (w *world) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// send delivers a message after the network's latency, unless it is lost.
func (w *world) send(fn func()) {
	n := w.cfg.Network
	if n.Loss > 0 && w.rng.Float64() < n.Loss {
		w.m.lost++
		return
	}
	d := time.Duration(n.Latency)
	if n.Jitter > 0 {
		d += time.Duration(w.rng.ExpFloat64() * float64(n.Jitter))
	}
	w.clk.after(d, fn)
}

// submit issues the next job from a random requester, and schedules the
// one after.
func (w *world) submit() {
	if w.issued >= w.cfg.Jobs {
		return
	}
	i := w.issued
	w.issued++
	for _, p := range w.provs {
		if p.pop.JoinAt > 0 && !p.joined && float64(i) >= p.pop.JoinAt*float64(w.cfg.Jobs) {
			w.join(p)
		}
	}
	r := w.reqs[w.rng.IntN(len(w.reqs))]
	r.submit(i)
	gap := time.Duration(w.rng.ExpFloat64() * float64(w.cfg.Interval))
	w.clk.after(gap, w.submit)
}

// discover is a DHT lookup: up to Discovery providers online now, drawn
// at random, plus those the requester knows (its proven providers, as a
// node's discovery cache keeps the peers it dealt with).
func (w *world) discover(known map[string]bool) []market.Candidate {
	n := min(w.cfg.Discovery, len(w.live))
	idx := w.rng.Perm(len(w.live))[:n]
	sort.Ints(idx)
	out := make([]market.Candidate, 0, n+len(known))
	seen := map[string]bool{}
	for _, i := range idx {
		p := w.live[i]
		seen[p.id] = true
		out = append(out, market.Candidate{Peer: p.id, Offer: p.offer, Subnet: p.subnet})
	}
	for _, id := range slices.Sorted(maps.Keys(known)) {
		if p := w.byID[id]; p != nil && p.online && !seen[id] {
			out = append(out, market.Candidate{Peer: p.id, Offer: p.offer, Subnet: p.subnet})
		}
	}
	return out
}

// checkers are the candidates of a check run: a few of the requester's
// proven providers drawn at random, none in the subnet of a run so far,
// so that no provider can count on checking (or being checked by) its
// friends by bidding low.
func (w *world) checkers(known map[string]bool, exclude []string, n int) []market.Candidate {
	nets := w.subnets(exclude)
	var ids []string
	for _, id := range slices.Sorted(maps.Keys(known)) {
		if p := w.byID[id]; p != nil && p.online && !slices.Contains(exclude, id) && !nets[p.subnet] {
			ids = append(ids, id)
		}
	}
	var out []market.Candidate
	for _, i := range w.rng.Perm(len(ids))[:min(n, len(ids))] {
		p := w.byID[ids[i]]
		out = append(out, market.Candidate{Peer: p.id, Offer: p.offer, Subnet: p.subnet})
	}
	return out
}

// drawn is n of cands, drawn at random, none of them in exclude or in
// the subnet of one that is: the
// candidates of a check run while the requester trusts too few providers
// to draw its checkers from them. Drawn, not chosen by price, so that
// no provider can buy its way into checking by bidding low.
func (w *world) drawn(cands []market.Candidate, exclude []string, n int) []market.Candidate {
	nets := w.subnets(exclude)
	var pool []market.Candidate
	for _, c := range cands {
		if !slices.Contains(exclude, c.Peer) && !nets[c.Subnet] {
			pool = append(pool, c)
		}
	}
	var out []market.Candidate
	for _, i := range w.rng.Perm(len(pool))[:min(n, len(pool))] {
		out = append(out, pool[i])
	}
	return out
}

// subnets are the subnets of providers that ran a job already: a
// checker is drawn from none of them, so that one operator's machines
// do not check each other (reputation.JudgeCheck's cohorts).
func (w *world) subnets(ran []string) map[string]bool {
	out := map[string]bool{}
	for _, id := range ran {
		if p := w.byID[id]; p != nil && p.subnet != "" {
			out[p.subnet] = true
		}
	}
	return out
}

func (w *world) join(p *provider) {
	p.joined, p.online = true, true
	w.live = append(w.live, p)
}

func (w *world) leave(p *provider) {
	p.online = false
	for i, q := range w.live {
		if q == p {
			w.live = append(w.live[:i], w.live[i+1:]...)
			break
		}
	}
}

// settleRound: paying requesters settle what they owe every provider.
func (w *world) settleRound() {
	for _, r := range w.reqs {
		if !r.nonPaying {
			r.settleAll()
		}
	}
	if w.issued < w.cfg.Jobs || w.m.open > 0 {
		w.clk.after(time.Duration(w.cfg.SettleEvery), w.settleRound)
	}
}

// gossipRound: the ring's members attest for each other and against
// honest providers, to every requester.
func (w *world) gossipRound() {
	var ring []*provider
	for _, p := range w.live {
		if p.pop.Kind == KindRing {
			ring = append(ring, p)
		}
	}
	var honest []*provider
	for _, p := range w.live {
		if p.pop.Kind == KindHonest {
			honest = append(honest, p)
		}
	}
	for _, p := range ring {
		att := p.ringAttestation(ring, honest)
		if len(att.Reports) == 0 {
			continue
		}
		for _, r := range w.reqs {
			if _, err := r.book.Attest(w.clk.now, att); err == nil {
				r.rep.invalidateAll()
			}
		}
	}
	if w.issued < w.cfg.Jobs || w.m.open > 0 {
		w.clk.after(10*time.Minute, w.gossipRound)
	}
}

// newLedger opens a requester's real settlement ledger in memory, funded
// for every job it could run.
func (w *world) newLedger(id string) (*settlement.Ledger, error) {
	l, err := settlement.Open(w.ctx, "ledger-"+id, settlement.Options{
		Signer: signer(id), Verifier: keys{}, FS: vfs.NewMem(), Now: func() time.Time { return w.clk.now },
	})
	if err != nil {
		return nil, fmt.Errorf("sim: ledger of %s: %w", id, err)
	}
	fund := int64(w.cfg.Jobs) * w.cfg.MaxPrice * 16
	if _, err := l.Append(w.ctx, settlement.KindFund, settlement.Fund{Agent: "sim", Amount: fund}); err != nil {
		l.Close()
		return nil, fmt.Errorf("sim: fund %s: %w", id, err)
	}
	return l, nil
}

// uniform draws from [lo, hi].
func (w *world) uniform(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + w.rng.Int64N(hi-lo+1)
}

func (w *world) duration(lo, hi time.Duration) time.Duration {
	return time.Duration(w.uniform(int64(lo), int64(hi)))
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
