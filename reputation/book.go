package reputation

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// Book holds this node's beliefs about every peer it has evidence on, per
// capability: first-hand evidence from Record and third-party evidence
// from Attest. It is a pure state machine: it reads no clock and does no
// I/O; every input carries the time, and the book's clock is the latest
// time it has been given (Record, Attest, Tick). Reads (Standing,
// Reliability, CreditLimit, Snapshot) decay evidence to that clock.
//
// A Book is safe for concurrent use: auctions read standings while
// receipts and attestations are recorded.
type Book struct {
	mu     sync.Mutex
	p      Params
	self   string
	now    time.Time
	pruned time.Time
	peers  map[string]*subject
	seen   map[evKey]*mark

	// trustCache memoizes reporter weights at trustAt; any first-hand
	// record or clock change invalidates it.
	trustCache map[string]float64
	trustAt    time.Time
}

// subject is everything known about one peer.
type subject struct {
	caps map[string]*capEntry
}

// capEntry is the evidence on one (peer, capability): first-hand, and
// third-party raw evidence per reporter (unweighted: weights are applied
// when read, with the reporter's standing at that time).
type capEntry struct {
	direct tally
	// lapses: the share of direct.Neg that is timeouts (in Neg, decayed
	// with it; updated whenever a timeout updates direct, so its At is
	// never later than direct's). Standing.CheckBound leaves it out.
	lapses tally
	third  map[string]*tally
}

// evKey names a piece of evidence. Reporter is this node for first-hand
// evidence (so gossip can never pre-empt what this node saw itself), the
// reporter for receiptless reports, and empty for reports backed by a
// receipt (a receipt counts once whoever reports it).
type evKey struct {
	Subject, Reporter, Evidence string
}

// mark is how much a piece of evidence has counted: the heaviest
// positive and the heaviest negative outcome seen on it.
type mark struct {
	Pos, Neg float64
	At       time.Time // first counted
}

const (
	// forgetMass: a tally whose decayed evidence falls below it is
	// dropped at the next prune; its effect is below any display
	// precision.
	forgetMass = 1e-3
	// pruneEvery spaces out prunes, which walk the whole book.
	pruneEvery = time.Hour
)

// NewBook returns an empty book for the node self (its peer ID), or an
// error wrapping ErrParams when the parameters do not validate.
func NewBook(p Params, self string) (*Book, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if self == "" {
		return nil, fmt.Errorf("%w: the book's own peer ID", ErrMissing)
	}
	return &Book{p: p, self: self, peers: map[string]*subject{}, seen: map[evKey]*mark{}}, nil
}

// Params returns the book's parameters.
func (b *Book) Params() Params { return b.p }

// Now returns the book's clock: the latest time it has been given.
func (b *Book) Now() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

// advance moves the clock forward (never back) and returns it.
func (b *Book) advance(now time.Time) time.Time {
	if now.After(b.now) {
		b.now = now
	}
	return b.now
}

// Tick advances the book's clock, so reads see evidence decayed to now,
// and now and then forgets what has decayed away and evidence IDs older
// than EvidenceMemory. The node calls it periodically (once a minute is
// plenty) and before rounds of reads if it wants them exact.
func (b *Book) Tick(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now = b.advance(now)
	if now.Sub(b.pruned) < pruneEvery {
		return
	}
	b.pruned = now
	b.trustCache = nil
	for k, m := range b.seen {
		if now.Sub(m.At) > b.p.EvidenceMemory {
			delete(b.seen, k)
		}
	}
	for peer, s := range b.peers {
		for c, e := range s.caps {
			for r, t := range e.third {
				if t.at(now, b.p.HalfLife).mass() < forgetMass {
					delete(e.third, r)
				}
			}
			if len(e.third) == 0 && e.direct.at(now, b.p.HalfLife).mass() < forgetMass {
				delete(s.caps, c)
			}
		}
		if len(s.caps) == 0 {
			delete(b.peers, peer)
		}
	}
}

// Record adds first-hand evidence: an outcome this node saw itself, from
// a receipt it is a party to or a verification it ran. evidence names it
// (a receipt CID, or a job ID for receiptless outcomes) and counts once:
// recording it again returns ErrDuplicate and changes nothing, except
// that a heavier outcome of the same sign replaces a lighter one (a
// missed start that turns into a failure counts as a failure, once).
func (b *Book) Record(now time.Time, peer, capability string, o Outcome, evidence string) error {
	switch {
	case peer == "" || capability == "" || evidence == "":
		return fmt.Errorf("%w: peer %q, capability %q and evidence %q are all required", ErrMissing, peer, capability, evidence)
	case peer == b.self:
		return fmt.Errorf("%w: %s on %s", ErrSelf, o, capability)
	case !o.fits(capability):
		return fmt.Errorf("%w: %q on %q", ErrOutcome, o, capability)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now = b.advance(now)
	d := b.count(evKey{Subject: peer, Reporter: b.self, Evidence: evidence}, o.Positive(), b.p.Weights.Of(o), now)
	if d == 0 {
		return fmt.Errorf("%w: %s %s about %s", ErrDuplicate, o, evidence, short(peer))
	}
	e := b.entry(peer, capability)
	e.direct.add(now, b.p.HalfLife, o.Positive(), d)
	if o == Timeout {
		e.lapses.add(now, b.p.HalfLife, false, d)
	}
	if o == WrongResult {
		e.direct.Wrong += d
	}
	b.trustCache = nil
	return nil
}

// count marks evidence k as counted at weight w and returns the weight
// to add: w the first time, the excess over what the same side of k
// counted before, or 0 for a duplicate.
func (b *Book) count(k evKey, positive bool, w float64, now time.Time) float64 {
	m := b.seen[k]
	if m == nil {
		m = &mark{At: now}
		b.seen[k] = m
	}
	cur := &m.Neg
	if positive {
		cur = &m.Pos
	}
	if w <= *cur {
		return 0
	}
	d := w - *cur
	*cur = w
	return d
}

func (b *Book) entry(peer, capability string) *capEntry {
	s := b.peers[peer]
	if s == nil {
		s = &subject{caps: map[string]*capEntry{}}
		b.peers[peer] = s
	}
	e := s.caps[capability]
	if e == nil {
		e = &capEntry{third: map[string]*tally{}}
		s.caps[capability] = e
	}
	return e
}

// view is the decayed, weighted, capped evidence on one (peer,
// capability).
type view struct {
	direct    tally   // first-hand, decayed
	lapses    float64 // of direct.Neg, this node's timeouts, decayed
	thirdPos  float64 // third-party, weighted and capped
	thirdNeg  float64
	reporters int       // reporters whose reports count now
	updated   time.Time // last evidence added
}

func (v view) posterior() Posterior {
	return Posterior{Alpha: 1 + v.direct.Pos + v.thirdPos, Beta: 1 + v.direct.Neg + v.thirdNeg}
}

func (v view) firstHand() float64  { return v.direct.mass() }
func (v view) thirdParty() float64 { return v.thirdPos + v.thirdNeg }

// views computes the views of every capability of peer at the book's
// clock. The third-party rule (doc.go, "Third parties"):
//
//	w_r  = ReporterWeight · clamp((LB₁(r) − TrustFloor) / (1 − TrustFloor), 0, 1)
//	m_r  = min(1, ReporterCap / R_r)        R_r: r's raw evidence on this peer
//	T    = Σ_r w_r · m_r · R_r
//	k    = min(1, ThirdPartyCap / T)
//	third(c) = k · Σ_r w_r · m_r · raw_r(c)
//
// Capabilities and reporters are visited in sorted order so that float
// sums, and so every result, are deterministic.
func (b *Book) views(peer string) map[string]view {
	s := b.peers[peer]
	if s == nil {
		return nil
	}
	now, hl := b.now, b.p.HalfLife
	caps := slices.Sorted(maps.Keys(s.caps))
	out := make(map[string]view, len(caps))
	type rawEv struct {
		cap string
		t   tally
	}
	byReporter := map[string][]rawEv{}
	for _, c := range caps {
		e := s.caps[c]
		v := view{direct: e.direct.at(now, hl), lapses: e.lapses.at(now, hl).Neg, updated: e.direct.At}
		for r, t := range e.third {
			byReporter[r] = append(byReporter[r], rawEv{c, t.at(now, hl)})
			if t.At.After(v.updated) {
				v.updated = t.At
			}
		}
		out[c] = v
	}
	type contrib struct{ pos, neg float64 }
	per := map[string]contrib{}
	counted := map[string]int{}
	total := 0.0
	for _, r := range slices.Sorted(maps.Keys(byReporter)) {
		w := b.trust(r)
		if w == 0 {
			continue
		}
		evs := byReporter[r] // in capability order, as built
		raw := 0.0
		for _, ev := range evs {
			raw += ev.t.mass()
		}
		if raw == 0 {
			continue
		}
		f := w * math.Min(1, b.p.ReporterCap/raw)
		for _, ev := range evs {
			c := per[ev.cap]
			c.pos += f * ev.t.Pos
			c.neg += f * ev.t.Neg
			per[ev.cap] = c
			total += f * ev.t.mass()
			if ev.t.mass() > 0 {
				counted[ev.cap]++
			}
		}
	}
	k := 1.0
	if total > b.p.ThirdPartyCap {
		k = b.p.ThirdPartyCap / total
	}
	for c, con := range per {
		v := out[c]
		v.thirdPos, v.thirdNeg, v.reporters = k*con.pos, k*con.neg, counted[c]
		out[c] = v
	}
	return out
}

// firstHand pools this node's first-hand evidence on peer over all
// capabilities (as a provider and as a requester).
func (b *Book) firstHand(peer string) tally {
	var sum tally
	s := b.peers[peer]
	if s == nil {
		return sum
	}
	for _, c := range slices.Sorted(maps.Keys(s.caps)) {
		t := s.caps[c].direct.at(b.now, b.p.HalfLife)
		sum.Pos += t.Pos
		sum.Neg += t.Neg
	}
	return sum
}

// trust is the weight of one report from reporter: zero for a peer this
// node has no first-hand evidence on, or whose first-hand lower bound is
// at or below TrustFloor; ReporterWeight at a lower bound of 1.
func (b *Book) trust(reporter string) float64 {
	if reporter == b.self {
		return 0
	}
	if b.trustCache == nil || !b.trustAt.Equal(b.now) {
		b.trustCache, b.trustAt = map[string]float64{}, b.now
	}
	if w, ok := b.trustCache[reporter]; ok {
		return w
	}
	w := b.computeTrust(reporter)
	b.trustCache[reporter] = w
	return w
}

func (b *Book) computeTrust(reporter string) float64 {
	fh := b.firstHand(reporter)
	if fh.mass() == 0 {
		return 0
	}
	lb := fh.posterior().LowerBound(b.p.Quantile)
	t := (lb - b.p.TrustFloor) / (1 - b.p.TrustFloor)
	return b.p.ReporterWeight * math.Max(0, math.Min(1, t))
}

// ReporterWeight is how many observations one report from reporter counts
// as now, before the caps: zero for strangers. `hayek rep` can show it to
// explain why an attestation did or did not move anything.
func (b *Book) ReporterWeight(reporter string) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.trust(reporter)
}

// Posterior returns the belief about peer on capability at the book's
// clock: first-hand evidence plus weighted, capped third-party evidence,
// decayed.
func (b *Book) Posterior(peer, capability string) Posterior {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.views(peer)[capability].posterior()
}
