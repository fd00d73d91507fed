package settlement

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

var opsFlag = flag.Int("ops", 600, "operations per metamorphic run")

// The metamorphic test generates a seeded sequence of operations — funds,
// holds, releases, receipts both ways, replays, forgeries, settlements,
// governance, atomic batches — together with the outcome an independent
// model of the rules predicts for each. It runs the sequence against the
// ledger under several configurations (plain; reopened often; reopened
// with rebuilt indexes; verified on every open with tiny groups) and
// checks, after every step, the predicted outcome, the money invariants
// and the model's balances; at the end, that every configuration reached
// the same head and state, and that the chain verifies deeply and survives
// an export.
//
//	go test ./settlement -run TestMetamorphic -v              # prints its seed
//	go test ./settlement -run TestMetamorphic -seed N -ops 5000
func TestMetamorphic(t *testing.T) {
	seed := testSeed(t)
	ops := generateOps(t, seed, *opsFlag)
	outcomes := map[string]int{}
	for _, op := range ops {
		outcome := "ok"
		if op.want != nil {
			outcome = op.want.Error()
		}
		outcomes[op.name+": "+outcome]++
	}
	for _, k := range slices.Sorted(maps.Keys(outcomes)) {
		t.Logf("%5d %s", outcomes[k], k)
	}
	configs := []struct {
		name   string
		reopen int // reopen before every reopen-th op (0: never)
		mut    func(*Options)
	}{
		{"plain", 0, nil},
		{"reopen", 17, nil},
		{"rebuild", 29, func(o *Options) { o.RebuildIndexes = true }},
		{"verify-on-open-small-groups", 50, func(o *Options) { o.VerifyOnOpen = true; o.MaxBatch = 2 }},
	}
	var first, firstName string
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			if c.mut != nil {
				e.reopen(c.mut)
			}
			for i, op := range ops {
				if c.reopen > 0 && i > 0 && i%c.reopen == 0 {
					e.reopen(c.mut)
				}
				_, err := e.l.AppendAll(e.ctx, op.drafts...)
				if (op.want == nil) != (err == nil) || op.want != nil && !errors.Is(err, op.want) {
					t.Fatalf("op %d %s: error %v, the model expects %v", i, op.name, err, op.want)
				}
				checkInvariants(t, e.l)
				if err := op.after.matches(e.l); err != nil {
					t.Fatalf("op %d %s: %v", i, op.name, err)
				}
			}
			rep, err := e.l.Verify(e.ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			e.must(e.l.Export(e.ctx, &buf))
			xrep, err := VerifyExport(e.ctx, &buf, e.keys, true)
			if err != nil {
				t.Fatal(err)
			}
			if xrep.Head != rep.Head || xrep.Entries != rep.Entries || xrep.Totals != rep.Totals || rep.Unsealed != 0 {
				t.Fatalf("export report %+v, ledger report %+v", xrep, rep)
			}
			state := snapshotState(e.l)
			if first == "" {
				first, firstName = state, c.name
			} else if state != first {
				t.Fatalf("%s and %s end in different states:\n%s\n%s", firstName, c.name, first, state)
			}
			t.Logf("%d ops, %d entries, %d checkpoints, %d receipts", len(ops), rep.Entries, rep.Checkpoints, rep.Receipts)
		})
	}
}

type mop struct {
	name   string
	drafts []Draft
	want   error
	after  *model // the model after the op
}

// model is a second, deliberately naive implementation of the rules.
type model struct {
	agents   map[string]magent
	holds    map[string]mhold
	bal      map[string]int64
	receipts map[string]bool // body CIDs
	settles  map[string]bool
}

type magent struct {
	budget, held, spent int64
	created, revoked    bool
}

type mhold struct {
	agent     string
	remaining int64
}

func (m *model) clone() *model {
	return &model{maps.Clone(m.agents), maps.Clone(m.holds), maps.Clone(m.bal), maps.Clone(m.receipts), maps.Clone(m.settles)}
}

func (m *model) matches(l *Ledger) error {
	for name, a := range m.agents {
		got, _ := l.Agent(name)
		if got.Budget != a.budget || got.Held != a.held || got.Spent != a.spent || got.Created != a.created || got.Revoked != a.revoked {
			return fmt.Errorf("agent %s: ledger %+v, model %+v", name, got, a)
		}
	}
	for peer, b := range m.bal {
		if got := l.Balance(peer); got != b {
			return fmt.Errorf("balance with %s: ledger %d, model %d", peer, got, b)
		}
	}
	return nil
}

// step predicts d's outcome and applies it to m if it passes.
func (m *model) step(d Draft) error {
	switch b := d.Body.(type) {
	case Fund:
		a := m.agents[b.Agent]
		a.budget += b.Amount
		m.agents[b.Agent] = a
	case Hold:
		a := m.agents[b.Agent]
		h, ok := m.holds[b.Job]
		switch {
		case a.revoked:
			return ErrRevoked
		case ok && h.remaining > 0:
			return ErrHoldExists
		case ok && h.agent != b.Agent:
			return ErrInvalid
		case a.budget < b.Amount:
			return ErrBudgetExceeded
		}
		a.budget -= b.Amount
		a.held += b.Amount
		m.agents[b.Agent] = a
		m.holds[b.Job] = mhold{b.Agent, b.Amount}
	case Release:
		h, ok := m.holds[b.Job]
		switch {
		case !ok:
			return ErrUnknownHold
		case h.remaining == 0:
			return ErrHoldClosed
		case b.Amount > h.remaining:
			return ErrOverHold
		}
		a := m.agents[h.agent]
		a.budget += b.Amount
		a.held -= b.Amount
		m.agents[h.agent] = a
		h.remaining -= b.Amount
		m.holds[b.Job] = h
	case SignedReceipt:
		o, err := openReceiptBody(b)
		if err != nil {
			return err
		}
		r := o.r
		if m.receipts[o.id] {
			return ErrDuplicate
		}
		switch self {
		case r.Requester:
			h, ok := m.holds[r.Job]
			switch {
			case !ok:
				return ErrUnknownHold
			case h.remaining == 0:
				return ErrHoldClosed
			case r.Price > h.remaining:
				return ErrOverHold
			}
			a := m.agents[h.agent]
			a.held -= r.Price
			a.spent += r.Price
			m.agents[h.agent] = a
			h.remaining -= r.Price
			m.holds[r.Job] = h
			m.bal[r.Provider] -= r.Price
		case r.Provider:
			m.bal[r.Requester] += r.Price
		default:
			return ErrNotParty
		}
		m.receipts[o.id] = true
	case SignedSettle:
		o, err := openSettleBody(b)
		if err != nil {
			return err
		}
		s := o.s
		if m.settles[o.id] {
			return ErrDuplicate
		}
		switch self {
		case s.Creditor:
			if m.bal[s.Debtor] < s.Amount {
				return ErrOverSettle
			}
			m.bal[s.Debtor] -= s.Amount
		case s.Debtor:
			if -m.bal[s.Creditor] < s.Amount {
				return ErrOverSettle
			}
			m.bal[s.Creditor] += s.Amount
		default:
			return ErrNotParty
		}
		m.settles[o.id] = true
	case Governance:
		a := m.agents[b.Agent]
		switch b.Action {
		case ActionAgentCreate:
			if a.created {
				return ErrDuplicate
			}
			a.created = true
		case ActionAgentRevoke:
			switch {
			case !a.created:
				return ErrUnknownAgent
			case a.revoked:
				return ErrRevoked
			}
			a.revoked = true
		}
		m.agents[b.Agent] = a
	case Outcome:
	}
	return nil
}

// generateOps draws n operations from seed, with their predicted outcomes.
func generateOps(t *testing.T, seed uint64, n int) []mop {
	r := rand.New(rand.NewPCG(seed, 0x6861796b))
	e := &env{t: t, keys: testKeyring(), heads: map[string]int{}}
	m := &model{agents: map[string]magent{}, holds: map[string]mhold{}, bal: map[string]int64{}, receipts: map[string]bool{}, settles: map[string]bool{}}
	agents := []string{"a0", "a1", "a2", "a3", "a4"}
	nextJob := 0
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	// existing picks a job the model knows: mostly one with an open hold,
	// sometimes a closed one, rarely one never held.
	existing := func() string {
		var open, closed []string
		for _, j := range slices.Sorted(maps.Keys(m.holds)) {
			if m.holds[j].remaining > 0 {
				open = append(open, j)
			} else {
				closed = append(closed, j)
			}
		}
		switch k := r.IntN(10); {
		case k < 7 && len(open) > 0:
			return pick(open)
		case k < 9 && len(closed) > 0:
			return pick(closed)
		}
		return "ghost"
	}
	fresh := func() string { nextJob++; return fmt.Sprintf("j%d", nextJob) }
	var accepted []SignedReceipt
	simple := func() (string, Draft) {
		switch r.IntN(3) {
		case 0:
			return "fund", Draft{KindFund, Fund{Agent: pick(agents), Amount: 1 + r.Int64N(500)}}
		case 1:
			j := fresh()
			if r.IntN(10) == 0 {
				j = existing()
			}
			return "hold", Draft{KindHold, Hold{Job: j, Agent: pick(agents), Amount: 1 + r.Int64N(400)}}
		default:
			j := existing()
			amt := 1 + r.Int64N(150)
			if h, ok := m.holds[j]; ok && h.remaining > 0 && r.IntN(2) == 0 {
				amt = h.remaining
			}
			return "release", Draft{KindRelease, Release{Job: j, Amount: amt}}
		}
	}
	var ops []mop
	for len(ops) < n {
		var op mop
		switch k := r.IntN(100); {
		case k < 40:
			name, d := simple()
			op = mop{name: name, drafts: []Draft{d}}
		case k < 55:
			j := existing()
			price := 1 + r.Int64N(250)
			if h, ok := m.holds[j]; ok && h.remaining > 0 && r.IntN(4) > 0 {
				price = 1 + r.Int64N(h.remaining+10)
			}
			rc := receipt(self, pick(testPeers), j, uint32(r.IntN(3)), price)
			op = mop{name: "receipt-as-requester", drafts: []Draft{{KindReceipt, e.signedReceipt(rc)}}}
		case k < 65:
			nextJob++
			rc := receipt(pick(testPeers), self, fmt.Sprintf("x%d", nextJob), 0, 1+r.Int64N(200))
			op = mop{name: "receipt-as-provider", drafts: []Draft{{KindReceipt, e.signedReceipt(rc)}}}
		case k < 68 && len(accepted) > 0:
			op = mop{name: "replayed-receipt", drafts: []Draft{{KindReceipt, accepted[r.IntN(len(accepted))]}}}
		case k < 70:
			// Countersigned by a peer other than the one it names.
			sr, err := SignReceipt(e.keys.Signer(self), receipt(self, "p1", existing(), 9, 1))
			e.must(err)
			sr.ProviderSig, err = e.keys.Signer("p2").Sign(signingBytes(domainCounter, counterBody(sr)))
			e.must(err)
			op = mop{name: "forged-countersignature", drafts: []Draft{{KindReceipt, sr}}, want: ErrBadSignature}
		case k < 78:
			peer := pick(testPeers)
			owed := m.bal[peer]
			amt := 1 + r.Int64N(max(owed, -owed, 0)+20)
			st := Settle{Debtor: peer, Creditor: self, Amount: amt, Created: int64(len(ops))}
			signer := self
			if owed < 0 {
				st.Debtor, st.Creditor, signer = self, peer, peer
			}
			if r.IntN(10) == 0 { // signed by the debtor instead
				signer = st.Debtor
				op.want = ErrBadSignature
			}
			op = mop{name: "settle", drafts: []Draft{{KindSettle, e.signedSettle(signer, st)}}, want: op.want}
		case k < 82:
			// Only a4 is ever revoked, so the others keep trading.
			g := Governance{Action: ActionAgentCreate, Agent: pick(agents)}
			if r.IntN(4) == 0 {
				g = Governance{Action: ActionAgentRevoke, Agent: "a4"}
			}
			op = mop{name: g.Action, drafts: []Draft{{KindGovernance, g}}}
		case k < 88:
			op = mop{name: "outcome", drafts: []Draft{{KindOutcome, Outcome{Peer: pick(testPeers), Outcome: "success", Job: existing()}}}}
		default:
			op.name = "batch"
			for range 2 + r.IntN(3) {
				_, d := simple()
				op.drafts = append(op.drafts, d)
			}
		}
		if op.want == nil {
			next := m.clone()
			for _, d := range op.drafts {
				if err := next.step(d); err != nil {
					op.want = err
					break
				}
			}
			if op.want == nil {
				m = next
				for _, d := range op.drafts {
					if sr, ok := d.Body.(SignedReceipt); ok {
						accepted = append(accepted, sr)
					}
				}
			}
		}
		op.after = m
		ops = append(ops, op)
	}
	return ops
}
