package settlement

import (
	"errors"
	"fmt"
	"math"
)

// state is the ledger's pure core, in the manner of etcd's raft: entries go
// in through apply, which validates each against the rules and the state
// left by the entries before it, and either changes nothing and returns an
// error, or applies it. It does no I/O of its own: Append runs it before
// writing, and Open, Verify and VerifyExport run it over a chain.
//
// Everything small and hot (agents, balances, open holds) lives in the
// maps. The ledger evicts closed holds and the ids of receipts and
// settlements once they are on disk, and reads them back through cold;
// replays keep everything in the maps (cold nil).
type state struct {
	self string
	cold coldReader

	seq            uint64
	head           string
	time           int64
	lastCheckpoint uint64 // seq of the last checkpoint entry
	totals         Totals

	agents   map[string]Account
	holds    map[string]HoldState
	balances map[string]int64
	seen     map[string]uint64 // receipt and settle ids → seq

	// While journaling, every change pushes its undo, and what changed is
	// remembered for the index writes of the group.
	journal bool
	undo    []func()
	dirty   dirtySet
}

type dirtySet struct {
	agents, holds, balances map[string]struct{}
	seen                    []string
}

// coldReader finds what the ledger evicted from memory.
type coldReader interface {
	hold(job string) (HoldState, bool, error)
	seen(id string) (uint64, bool, error)
}

// prepared is an entry on its way through apply: decoded, encoded, hashed.
type prepared struct {
	entry Entry
	enc   []byte // canonical encoding of entry: what is stored and hashed
	cid   string
	body  any // from parseBody
	refs  refs
}

// refs are what an entry is indexed under besides its kind; apply fills
// them, since some depend on state (a receipt's agent is its hold's).
type refs struct {
	job, peer, agent string
}

func newState(self string, cold coldReader) *state {
	return &state{
		self:     self,
		cold:     cold,
		agents:   map[string]Account{},
		holds:    map[string]HoldState{},
		balances: map[string]int64{},
		seen:     map[string]uint64{},
	}
}

// errInvariant marks a broken money invariant: always a bug, since the
// rules keep it, or a chain crafted to pass the rules but not the sums.
var errInvariant = errors.New("settlement: money invariant broken")

func invariantf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errInvariant}, args...)...)
}

// apply validates p against the state and, if it passes, applies it.
// Link errors (wrong seq, wrong prev, time going back) are
// CorruptionErrors; rule violations are the package's sentinels.
func (s *state) apply(p *prepared) error {
	e := &p.entry
	if e.Seq != s.seq+1 {
		return corruptf(s.seq+1, nil, "expected entry %d, found entry %d (missing or out of order)", s.seq+1, e.Seq)
	}
	if e.Prev != s.head {
		if s.seq == 0 {
			return corruptf(1, nil, "the first entry names a previous entry %q", e.Prev)
		}
		// Everything before s.seq is proven; entry s.seq is not: either it
		// was altered or the link that covers it was.
		return corruptf(s.seq, nil, "entry %d does not hash to the prev named by entry %d", s.seq, e.Seq)
	}
	if e.Time < s.time {
		return corruptf(e.Seq, nil, "entry %d's time %d is before entry %d's %d", e.Seq, e.Time, s.seq, s.time)
	}
	p.refs = refs{}
	var err error
	switch b := p.body.(type) {
	case Fund:
		err = s.fund(p, b)
	case Hold:
		err = s.hold(p, b)
	case Release:
		err = s.release(p, b)
	case openedReceipt:
		err = s.receipt(p, b)
	case openedSettle:
		err = s.settle(p, b)
	case Attestation:
	case Outcome:
		err = s.outcome(p, b)
	case Governance:
		err = s.governance(p, b)
	case Checkpoint:
		err = s.checkpoint(p, b)
	case Lost:
		err = s.lost(p, b)
	default:
		err = invalidf("no rules for body %T", b)
	}
	if err != nil {
		return err
	}
	s.seq, s.head, s.time = e.Seq, p.cid, e.Time
	if err := s.totals.check(); err != nil {
		return fmt.Errorf("%w (after entry %d)", err, e.Seq)
	}
	if invariants {
		if err := s.recount(); err != nil {
			return fmt.Errorf("%w (after entry %d)", err, e.Seq)
		}
	}
	return nil
}

// recount recomputes the totals from the accounts, holds and balances and
// compares: the expensive invariant check, on under the invariants build
// tag and in Verify.
func (s *state) recount() error {
	// Every sum is exact: a recount that leaves the int64 range is itself
	// a broken invariant, never a wrap that happens to match.
	var funded, left, held, paid, openHeld, owed, owing accumulator
	for _, a := range s.agents {
		if !eq128([]int64{a.Funded}, []int64{a.Budget, a.Held, a.Spent}) {
			return invariantf("agent %s: funded %d ≠ budget %d + held %d + spent %d", a.Name, a.Funded, a.Budget, a.Held, a.Spent)
		}
		funded.add(a.Funded)
		left.add(a.Budget)
		held.add(a.Held)
		paid.add(a.Spent)
	}
	for _, h := range s.holds {
		if !eq128([]int64{h.Amount}, []int64{h.Remaining, h.Paid, h.Released}) || h.Closed != (h.Remaining == 0) {
			return invariantf("hold for job %s: amount %d ≠ remaining %d + paid %d + released %d (closed %t)", h.Job, h.Amount, h.Remaining, h.Paid, h.Released, h.Closed)
		}
		openHeld.add(h.Remaining)
	}
	for _, b := range s.balances {
		switch {
		case b > 0:
			owed.add(b)
		case b == math.MinInt64: // the rules keep balances above it
			owing.overflow = true
		default:
			owing.add(-b)
		}
	}
	for name, a := range map[string]accumulator{"funded": funded, "budgets left": left, "held": held, "paid": paid,
		"open holds": openHeld, "owed": owed, "owing": owing} {
		if a.overflow {
			return invariantf("the %s, recounted, leave the int64 range", name)
		}
	}
	if openHeld.v != held.v {
		return invariantf("open holds add up to %d, agents hold %d", openHeld.v, held.v)
	}
	got := s.totals
	t := Totals{Funded: funded.v, BudgetsLeft: left.v, Held: held.v, Paid: paid.v, Owed: owed.v, Owing: owing.v,
		Earned: got.Earned, SettledIn: got.SettledIn, SettledOut: got.SettledOut}
	if t != got {
		return invariantf("totals %+v, recounted %+v", got, t)
	}
	return got.check()
}

// --- journal ---

type savepoint struct {
	undo           int
	seq            uint64
	head           string
	time           int64
	lastCheckpoint uint64
	totals         Totals
}

func (s *state) beginGroup() {
	s.journal = true
	s.undo = s.undo[:0]
	s.dirty = dirtySet{agents: map[string]struct{}{}, holds: map[string]struct{}{}, balances: map[string]struct{}{}}
}

func (s *state) save() savepoint {
	return savepoint{len(s.undo), s.seq, s.head, s.time, s.lastCheckpoint, s.totals}
}

func (s *state) rollback(sp savepoint) {
	for i := len(s.undo) - 1; i >= sp.undo; i-- {
		s.undo[i]()
		s.undo[i] = nil
	}
	s.undo = s.undo[:sp.undo]
	s.seq, s.head, s.time, s.lastCheckpoint, s.totals = sp.seq, sp.head, sp.time, sp.lastCheckpoint, sp.totals
}

// endGroup forgets the journal once the group is on disk and evicts what
// the ledger can read back from disk.
func (s *state) endGroup(evict bool) {
	if evict {
		for job := range s.dirty.holds {
			if h, ok := s.holds[job]; ok && h.Closed {
				delete(s.holds, job)
			}
		}
		for _, id := range s.dirty.seen {
			delete(s.seen, id)
		}
	}
	clear(s.undo)
	s.undo = s.undo[:0]
	s.journal = false
	s.dirty = dirtySet{}
}

func (s *state) putAgent(a Account) {
	if s.journal {
		old, ok := s.agents[a.Name]
		s.undo = append(s.undo, func() {
			if ok {
				s.agents[a.Name] = old
			} else {
				delete(s.agents, a.Name)
			}
		})
		s.dirty.agents[a.Name] = struct{}{}
	}
	s.agents[a.Name] = a
}

func (s *state) putHold(h HoldState) {
	if s.journal {
		old, ok := s.holds[h.Job]
		s.undo = append(s.undo, func() {
			if ok {
				s.holds[h.Job] = old
			} else {
				delete(s.holds, h.Job)
			}
		})
		s.dirty.holds[h.Job] = struct{}{}
	}
	s.holds[h.Job] = h
}

// checkBalance checks that setting the balance with peer to v keeps Owed
// and Owing in range. The rules keep Owed ≤ Earned and Owing ≤ Paid, both
// checked sums, so this fails only for a chain crafted to break them.
func (s *state) checkBalance(peer string, v int64) error {
	old := s.balances[peer]
	var owed, owing accumulator
	owed.add(s.totals.Owed)
	owed.add(max(v, 0) - max(old, 0))
	owing.add(s.totals.Owing)
	owing.add(max(-v, 0) - max(-old, 0))
	if owed.overflow || owing.overflow {
		return invariantf("the balance with %s going from %d to %d overflows the totals owed %d and owing %d", peer, old, v, s.totals.Owed, s.totals.Owing)
	}
	return nil
}

// setBalance sets the balance with peer and keeps Owed and Owing in step.
// The rules call checkBalance first.
func (s *state) setBalance(peer string, v int64) {
	old, ok := s.balances[peer]
	if s.journal {
		s.undo = append(s.undo, func() {
			if ok {
				s.balances[peer] = old
			} else {
				delete(s.balances, peer)
			}
		})
		s.dirty.balances[peer] = struct{}{}
	}
	s.totals.Owed += max(v, 0) - max(old, 0)
	s.totals.Owing += max(-v, 0) - max(-old, 0)
	s.balances[peer] = v
}

func (s *state) markSeen(id string, seq uint64) {
	if s.journal {
		s.undo = append(s.undo, func() { delete(s.seen, id) })
		s.dirty.seen = append(s.dirty.seen, id)
	}
	s.seen[id] = seq
}

func (s *state) agent(name string) Account {
	if a, ok := s.agents[name]; ok {
		return a
	}
	return Account{Name: name}
}

func (s *state) getHold(job string) (HoldState, bool, error) {
	if h, ok := s.holds[job]; ok {
		return h, true, nil
	}
	if s.cold == nil {
		return HoldState{}, false, nil
	}
	return s.cold.hold(job)
}

func (s *state) seenAt(id string) (uint64, bool, error) {
	if seq, ok := s.seen[id]; ok {
		return seq, true, nil
	}
	if s.cold == nil {
		return 0, false, nil
	}
	return s.cold.seen(id)
}
