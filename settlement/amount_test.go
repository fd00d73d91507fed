package settlement

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestFieldErrorNamesFieldAndMax: the case, funding an agent that
// has 1 with MaxInt64, is a FieldError naming the field and the largest
// amount that would have fitted; funding exactly that then works.
func TestFieldErrorNamesFieldAndMax(t *testing.T) {
	e := newEnv(t)
	e.must(e.fund("alice", 1))
	err := e.fund("alice", math.MaxInt64)
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, ErrOverflow) {
		t.Fatalf("fund MaxInt64 onto 1: %v, want a *FieldError wrapping ErrOverflow", err)
	}
	if fe.Field != "fund.amount" || fe.Value != math.MaxInt64 || fe.Max != math.MaxInt64-1 || !strings.Contains(fe.Sum, "alice") {
		t.Fatalf("field error %+v", fe)
	}
	for _, want := range []string{"settlement: ", "fund.amount", "9223372036854775806"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if fe.Cause == nil || !errors.Is(err, fe.Cause) {
		t.Errorf("the cause is not reachable with errors.Is: %+v", fe)
	}
	e.must(e.fund("alice", fe.Max))
	if a, _ := e.l.Agent("alice"); a.Budget != math.MaxInt64 || a.Funded != math.MaxInt64 {
		t.Fatalf("alice %+v", a)
	}
	// Full: nothing fits, and the message says so.
	err = e.fund("alice", 1)
	if !errors.As(err, &fe) || fe.Max != 0 || !strings.Contains(err.Error(), "no fund.amount fits") {
		t.Fatalf("fund onto a full budget: %v", err)
	}
	// The total counts too: another agent cannot push the ledger over.
	err = e.fund("bob", 1)
	if !errors.As(err, &fe) || fe.Sum != "total funded" || fe.Max != 0 {
		t.Fatalf("fund past the total: %v", err)
	}
	checkInvariants(t, e.l)
}

// TestOverflowEverySum pushes each sum the rules keep to its limit and
// checks that the entry that would pass it is refused with a FieldError
// naming the entry's field and the sum, and that nothing changed.
func TestOverflowEverySum(t *testing.T) {
	const M = math.MaxInt64
	cases := []struct {
		name  string
		setup func(e *env)
		op    func(e *env) error
		field string
		sum   string
	}{
		{"earned", func(e *env) {
			e.must(e.append(KindReceipt, e.signedReceipt(receipt("p1", self, "x1", 0, M))))
		}, func(e *env) error {
			return e.append(KindReceipt, e.signedReceipt(receipt("p2", self, "x2", 0, 1)))
		}, "receipt.price", "total earned"},
		{"balance with a requester", func(e *env) {
			e.must(e.append(KindReceipt, e.signedReceipt(receipt("p1", self, "x1", 0, M-5))))
		}, func(e *env) error {
			return e.append(KindReceipt, e.signedReceipt(receipt("p1", self, "x2", 0, 10)))
		}, "receipt.price", "balance with p1"},
		{"paid", func(e *env) {
			e.must(e.fund("alice", M))
			e.must(e.hold("j1", "alice", M))
			e.must(e.append(KindReceipt, e.signedReceipt(receipt(self, "p1", "j1", 0, M-1))))
		}, func(e *env) error {
			// The hold has 1 left; the balance with p1 is -(M-1): paying p1
			// 1 more would reach -M, which fits; p1 is not the limit, the
			// hold is. So pay p2 from a hold re-made later: here, the
			// remaining 1 to p1 must work, and then nothing more can be held.
			e.must(e.append(KindReceipt, e.signedReceipt(receipt(self, "p1", "j1", 1, 1))))
			return e.fund("alice", 1)
		}, "fund.amount", "funding of agent alice"},
		{"balance with a provider", func(e *env) {
			e.must(e.fund("alice", M))
			e.must(e.hold("j1", "alice", M))
			e.must(e.append(KindReceipt, e.signedReceipt(receipt(self, "p1", "j1", 0, M-3))))
			e.must(e.append(KindReceipt, e.signedReceipt(receipt("p1", self, "x1", 0, M))))
			// Now the balance with p1 is 3 and earned is M: settle in to 0,
			// then owe p1 as much as we may.
			e.must(e.append(KindSettle, e.signedSettle(self, Settle{Debtor: "p1", Creditor: self, Amount: 3})))
		}, func(e *env) error {
			return e.append(KindReceipt, e.signedReceipt(receipt(self, "p1", "j1", 1, 3)))
		}, "", ""}, // fits: -3 is far from the limit; checked below as a success
		{"earned, after settling it", func(e *env) {
			e.must(e.append(KindReceipt, e.signedReceipt(receipt("p1", self, "x1", 0, M))))
			e.must(e.append(KindSettle, e.signedSettle(self, Settle{Debtor: "p1", Creditor: self, Amount: M})))
		}, func(e *env) error {
			return e.append(KindReceipt, e.signedReceipt(receipt("p2", self, "x2", 0, 1)))
		}, "receipt.price", "total earned"},
		{"re-held hold", func(e *env) {
			e.must(e.fund("alice", M))
			e.must(e.hold("j1", "alice", M))
			e.must(e.release("j1", M))
		}, func(e *env) error { return e.hold("j1", "alice", 1) }, "hold.amount", "hold of job j1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			c.setup(e)
			before := snapshotState(e.l)
			err := c.op(e)
			checkInvariants(t, e.l)
			if c.field == "" {
				e.must(err)
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrOverflow) {
				t.Fatalf("error %v, want a FieldError", err)
			}
			if fe.Field != c.field || fe.Sum != c.sum || fe.Max >= fe.Value || fe.Max < 0 {
				t.Fatalf("field error %+v, want field %s sum %q", fe, c.field, c.sum)
			}
			if c.name != "paid" {
				if after := snapshotState(e.l); after != before {
					t.Fatalf("a refused entry changed the state:\n%s\n%s", before, after)
				}
			}
			if _, err := e.l.Verify(e.ctx, true); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBalanceNeverReachesMinInt64: a balance can always be negated, so
// owing MaxInt64 to one peer is the limit.
func TestBalanceNeverReachesMinInt64(t *testing.T) {
	const M = math.MaxInt64
	e := newEnv(t)
	e.must(e.append(KindReceipt, e.signedReceipt(receipt("p1", self, "x1", 0, 5))))
	e.must(e.fund("alice", M-5))
	e.must(e.hold("j1", "alice", M-5))
	e.must(e.append(KindReceipt, e.signedReceipt(receipt(self, "p2", "j1", 0, M-5))))
	if got := e.l.Balance("p2"); got != -(M - 5) {
		t.Fatalf("balance with p2 %d", got)
	}
	checkInvariants(t, e.l)
}

// TestOverflowProperty appends a seeded random mix of funds, holds,
// releases, receipts both ways and settlements whose amounts are drawn
// log-uniformly up to MaxInt64, so most of them land near the limits. After
// every append the invariants must hold, every total must equal an exact
// (big.Int) sum of the amounts accepted so far — a wrap would show as a
// difference — and every refusal for size must be a FieldError whose Max
// is below the value. A fund refused for size must then succeed at Max.
func TestOverflowProperty(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 7))
	e := newEnv(t)
	amount := func() int64 {
		switch r.IntN(4) {
		case 0:
			return 1 + r.Int64N(1000)
		case 1:
			return math.MaxInt64 - r.Int64N(1000)
		default:
			return 1 + r.Int64N(int64(1)<<r.IntN(63))
		}
	}
	agents := []string{"a0", "a1", "a2"}
	var (
		funded, paid, earned, settledIn, settledOut big.Int
		nextJob                                     int
		jobs                                        []string
		overflows, ok                               int
	)
	add := func(x *big.Int, v int64) { x.Add(x, big.NewInt(v)) }
	const ops = 1500
	for i := range ops {
		var (
			err    error
			effect func()
			what   string
		)
		switch k := r.IntN(7); k {
		case 0, 1:
			a, v := agents[r.IntN(len(agents))], amount()
			what = fmt.Sprintf("fund %s %d", a, v)
			err = e.fund(a, v)
			effect = func() { add(&funded, v) }
			var fe *FieldError
			if errors.As(err, &fe) && fe.Max > 0 {
				// The Max it names must fit exactly.
				if err2 := e.fund(a, fe.Max); err2 != nil {
					t.Fatalf("op %d (seed %d): %s refused with max %d, but funding %d fails: %v", i, seed, what, fe.Max, fe.Max, err2)
				}
				add(&funded, fe.Max)
			}
		case 2:
			a, v := agents[r.IntN(len(agents))], amount()
			if acct, _ := e.l.Agent(a); acct.Budget > 0 && r.IntN(2) == 0 {
				v = 1 + r.Int64N(acct.Budget)
			}
			nextJob++
			job := fmt.Sprintf("j%d", nextJob)
			what = fmt.Sprintf("hold %s %s %d", job, a, v)
			if err = e.hold(job, a, v); err == nil {
				jobs = append(jobs, job)
			}
		case 3:
			if len(jobs) == 0 {
				continue
			}
			job := jobs[r.IntN(len(jobs))]
			h, _ := e.l.Hold(job)
			if h.Closed {
				continue
			}
			v := 1 + r.Int64N(h.Remaining)
			what = fmt.Sprintf("release %s %d", job, v)
			err = e.release(job, v)
		case 4:
			if len(jobs) == 0 {
				continue
			}
			job := jobs[r.IntN(len(jobs))]
			h, _ := e.l.Hold(job)
			if h.Closed {
				continue
			}
			v := 1 + r.Int64N(h.Remaining)
			p := testPeers[r.IntN(len(testPeers))]
			what = fmt.Sprintf("receipt to %s for %s %d", p, job, v)
			err = e.append(KindReceipt, e.signedReceipt(receipt(self, p, job, uint32(i), v)))
			effect = func() { add(&paid, v) }
		case 5:
			p, v := testPeers[r.IntN(len(testPeers))], amount()
			what = fmt.Sprintf("receipt from %s %d", p, v)
			err = e.append(KindReceipt, e.signedReceipt(receipt(p, self, fmt.Sprintf("x%d", i), 0, v)))
			effect = func() { add(&earned, v) }
		case 6:
			p := testPeers[r.IntN(len(testPeers))]
			bal := e.l.Balance(p)
			switch {
			case bal > 0:
				v := 1 + r.Int64N(bal)
				what = fmt.Sprintf("settle in %s %d", p, v)
				err = e.append(KindSettle, e.signedSettle(self, Settle{Debtor: p, Creditor: self, Amount: v, Created: int64(i)}))
				effect = func() { add(&settledIn, v) }
			case bal < 0:
				v := 1 + r.Int64N(-bal)
				what = fmt.Sprintf("settle out %s %d", p, v)
				err = e.append(KindSettle, e.signedSettle(p, Settle{Debtor: self, Creditor: p, Amount: v, Created: int64(i)}))
				effect = func() { add(&settledOut, v) }
			default:
				continue
			}
		}
		switch {
		case err == nil:
			ok++
			if effect != nil {
				effect()
			}
		case errors.Is(err, ErrOverflow):
			overflows++
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Max >= fe.Value || fe.Max < 0 || fe.Field == "" || fe.Sum == "" {
				t.Fatalf("op %d (seed %d): %s: overflow without a proper FieldError: %v", i, seed, what, err)
			}
		case errors.Is(err, ErrBudgetExceeded):
		default:
			t.Fatalf("op %d (seed %d): %s: %v", i, seed, what, err)
		}
		checkInvariants(t, e.l)
		tot := e.l.Totals()
		for _, c := range []struct {
			name string
			got  int64
			want *big.Int
		}{{"funded", tot.Funded, &funded}, {"paid", tot.Paid, &paid}, {"earned", tot.Earned, &earned},
			{"settled in", tot.SettledIn, &settledIn}, {"settled out", tot.SettledOut, &settledOut}} {
			if big.NewInt(c.got).Cmp(c.want) != 0 {
				t.Fatalf("op %d (seed %d) %s: total %s is %d, the exact sum of what was accepted is %s", i, seed, what, c.name, c.got, c.want)
			}
		}
		for _, a := range e.l.Agents() {
			if a.Budget < 0 || a.Held < 0 || a.Spent < 0 || a.Funded < 0 {
				t.Fatalf("op %d (seed %d) %s: agent %+v went negative", i, seed, what, a)
			}
		}
	}
	if _, err := e.l.Verify(e.ctx, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d ops: %d accepted, %d refused for overflow; totals %+v", ops, ok, overflows, e.l.Totals())
	if overflows == 0 {
		t.Errorf("no op reached a limit: the amounts are not large enough to test anything")
	}
}

// TestInvariantCheckCannotBeFooledByAWrap: totals crafted so that the sums
// wrap around to match would pass an int64 comparison.
func TestInvariantCheckCannotBeFooledByAWrap(t *testing.T) {
	const M = math.MaxInt64
	m := int64(M)
	if m+m+3 != 1 { // the wrap the check must not fall for: 2^64 + 1
		t.Fatal("int64 arithmetic does not wrap as this test assumes")
	}
	crafted := Totals{Funded: 1, BudgetsLeft: M, Held: M, Paid: 3, Owed: 0, Owing: 0, Earned: 3}
	if err := crafted.check(); !errors.Is(err, errInvariant) {
		t.Fatalf("crafted totals %+v pass the invariant check: %v", crafted, err)
	}
}
