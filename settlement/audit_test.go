package settlement

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// pair is a requester's ledger (self) and a provider's (p1) on one clock,
// doing business the way nodes do it: the requester holds, signs a receipt
// naming its head; the provider countersigns naming its own head and
// appends; the requester appends.
type pair struct {
	t    *testing.T
	clk  *fakeClock
	req  *env
	prov *env
	jobs int
}

const provider = "p1"

func newPair(t *testing.T) *pair {
	clk := newFakeClock()
	p := &pair{t: t, clk: clk, req: newEnvAs(t, self, clk), prov: newEnvAs(t, provider, clk)}
	p.req.must(p.req.fund("alice", 1_000_000))
	return p
}

// sign returns a countersigned receipt for a new job at price, with both
// parties' current heads; holdTimes reserves room for that many receipts.
func (p *pair) sign(price int64, holdTimes int64) SignedReceipt {
	p.t.Helper()
	p.jobs++
	job := fmt.Sprintf("j%d", p.jobs)
	p.req.must(p.req.hold(job, "alice", price*holdTimes))
	r := receipt(self, provider, job, 1, price)
	_, r.RequesterHead = p.req.l.Head()
	sr, err := SignReceipt(p.req.keys.Signer(self), r)
	p.req.must(err)
	_, head := p.prov.l.Head()
	sr, err = Countersign(p.prov.keys.Signer(provider), sr, head)
	p.req.must(err)
	return sr
}

// job runs one paid job through both ledgers.
func (p *pair) job(price int64) SignedReceipt {
	p.t.Helper()
	sr := p.sign(price, 1)
	p.prov.must(p.prov.append(KindReceipt, sr))
	p.req.must(p.req.append(KindReceipt, sr))
	return sr
}

func export(t *testing.T, e *env) []byte {
	t.Helper()
	var b bytes.Buffer
	e.must(e.l.Export(e.ctx, &b))
	return b.Bytes()
}

func audit(t *testing.T, exports ...[]byte) AuditReport {
	t.Helper()
	var in []AuditInput
	for i, b := range exports {
		in = append(in, AuditInput{Name: fmt.Sprintf("export-%d", i), R: bytes.NewReader(b)})
	}
	rep, err := Audit(t.Context(), testKeyring(), in...)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	if len(rep.Pairs) != 1 {
		t.Fatalf("%d pairs, want 1", len(rep.Pairs))
	}
	return rep
}

// kinds renders findings as "kind subject" lines.
func kinds(p AuditPair) string {
	var s []string
	for _, f := range p.Findings {
		s = append(s, f.Kind+" "+f.Subject)
	}
	return strings.Join(s, "\n")
}

func TestAuditHonestLedgersAgree(t *testing.T) {
	p := newPair(t)
	for i := range 5 {
		p.job(int64(10 + i))
	}
	// A settlement, recorded by both as nodes do.
	ss := p.req.signedSettle(provider, Settle{Debtor: self, Creditor: provider, Amount: 30, Created: 1})
	p.prov.must(p.prov.append(KindSettle, ss))
	p.req.must(p.req.append(KindSettle, ss))

	rep := audit(t, export(t, p.req), export(t, p.prov))
	pr := rep.Pairs[0]
	if len(pr.Findings) != 0 || rep.Faults() != 0 {
		t.Fatalf("honest ledgers have findings:\n%+v", pr.Findings)
	}
	if pr.Shared != 6 || !pr.Agree() {
		t.Fatalf("shared %d, balances %d and %d; want 6 shared and opposite balances", pr.Shared, pr.BalanceA, pr.BalanceB)
	}
	owed := int64(10+11+12+13+14) - 30
	bal := map[string]int64{pr.A: pr.BalanceA, pr.B: pr.BalanceB}
	if bal[provider] != owed || bal[self] != -owed {
		t.Fatalf("balances %v, want %s owed %d", bal, provider, owed)
	}
	for _, l := range rep.Ledgers {
		if l.Unchecked != 0 || !l.Deep || l.Receipts != 5 {
			t.Fatalf("ledger %s: %+v", l.Node, l)
		}
	}
}

func TestAuditFindsADroppedReceipt(t *testing.T) {
	p := newPair(t)
	p.job(10)
	sr := p.sign(20, 1)
	p.req.must(p.req.append(KindReceipt, sr)) // the provider countersigned, then "forgot"
	p.job(30)

	pr := audit(t, export(t, p.req), export(t, p.prov)).Pairs[0]
	if got := kinds(pr); got != "missing "+provider {
		t.Fatalf("findings:\n%s\nwant one missing receipt, provider at fault", got)
	}
	f := pr.Findings[0]
	if f.Job != "j2" || f.Amount != 20 || f.Holder != self || !strings.Contains(f.Detail, "missing from p1's") {
		t.Fatalf("finding %+v", f)
	}
	if pr.Agree() || pr.Shared != 2 {
		t.Fatalf("shared %d, balances %d %d: the dropped receipt should make them disagree", pr.Shared, pr.BalanceA, pr.BalanceB)
	}
}

func TestAuditFindsARewrittenHistory(t *testing.T) {
	p := newPair(t)
	p.prov.must(p.prov.append(KindOutcome, Outcome{Peer: "p2", Capability: "runtime/wasm", Outcome: "failure", Job: "x"}))
	a := p.job(10)
	b := p.job(20)
	// The provider starts a new chain holding the same receipts but not
	// the entries they were countersigned over.
	rewritten := newEnvAs(t, provider, p.clk)
	rewritten.must(rewritten.append(KindReceipt, a))
	rewritten.must(rewritten.append(KindReceipt, b))

	pr := audit(t, export(t, p.req), export(t, rewritten)).Pairs[0]
	if got := kinds(pr); got != "head_missing "+provider+"\nhead_missing "+provider+"\nhead_missing "+provider+"\nhead_missing "+provider {
		// each receipt's provider head is missing, seen from both copies
		t.Fatalf("findings:\n%s", got)
	}
	if !pr.Agree() || pr.Shared != 2 {
		t.Fatalf("the money still agrees: shared %d, balances %d %d", pr.Shared, pr.BalanceA, pr.BalanceB)
	}
}

func TestAuditFindsAHeadAfterItsReceipt(t *testing.T) {
	p := newPair(t)
	sr := p.sign(10, 1)
	p.prov.must(p.prov.append(KindReceipt, sr))
	p.prov.must(p.prov.append(KindOutcome, Outcome{Peer: self, Capability: "requester", Outcome: "paid", Job: "j1"}))
	// The requester's copy is countersigned again, over a head that comes
	// after the provider recorded the receipt.
	_, later := p.prov.l.Head()
	again, err := Countersign(p.prov.keys.Signer(provider), sr, later)
	p.prov.must(err)
	p.req.must(p.req.append(KindReceipt, again))

	pr := audit(t, export(t, p.req), export(t, p.prov)).Pairs[0]
	if got := kinds(pr); got != "head_order "+provider {
		t.Fatalf("findings:\n%s\nwant the provider's head out of order", got)
	}
}

func TestAuditFindsTwoReceiptsForOneRun(t *testing.T) {
	p := newPair(t)
	sr := p.sign(10, 2)
	p.prov.must(p.prov.append(KindReceipt, sr))
	p.req.must(p.req.append(KindReceipt, sr))
	r2 := receipt(self, provider, "j1", 1, 10)
	r2.Result = "bafyother"
	_, r2.RequesterHead = p.req.l.Head()
	second, err := SignReceipt(p.req.keys.Signer(self), r2)
	p.req.must(err)
	_, head := p.prov.l.Head()
	second, err = Countersign(p.prov.keys.Signer(provider), second, head)
	p.req.must(err)
	p.prov.must(p.prov.append(KindReceipt, second))
	p.req.must(p.req.append(KindReceipt, second))

	pr := audit(t, export(t, p.req), export(t, p.prov)).Pairs[0]
	if got := kinds(pr); got != "conflict "+self {
		t.Fatalf("findings:\n%s\nwant one conflict, the requester at fault", got)
	}
}

func TestAuditTellsANewerReceiptFromAMissingOne(t *testing.T) {
	p := newPair(t)
	p.job(10)
	old := export(t, p.req)
	p.job(20) // after the requester's export
	pr := audit(t, old, export(t, p.prov)).Pairs[0]
	if got := kinds(pr); got != "newer "+self {
		t.Fatalf("findings:\n%s\nwant the requester's export older than the receipt", got)
	}
	if (AuditReport{Pairs: []AuditPair{pr}}).Faults() != 0 {
		t.Fatal("a newer receipt counted as a fault")
	}
}

func TestAuditRefusesBadInput(t *testing.T) {
	p := newPair(t)
	p.job(10)
	req, prov := export(t, p.req), export(t, p.prov)
	tampered := bytes.Replace(prov, []byte(`"price":10`), []byte(`"price":11`), 1)
	if bytes.Equal(tampered, prov) {
		t.Fatal("the tamper did not apply")
	}
	empty := newEnvAs(t, "p2", p.clk)
	for name, in := range map[string][][]byte{
		"does not verify":     {req, tampered},
		"one export per node": {req, prov, prov},
		"empty ledger":        {req, export(t, empty)},
	} {
		t.Run(name, func(t *testing.T) {
			var ins []AuditInput
			for i, b := range in {
				ins = append(ins, AuditInput{Name: fmt.Sprintf("f%d.jsonl", i), R: bytes.NewReader(b)})
			}
			_, err := Audit(t.Context(), testKeyring(), ins...)
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "f1.jsonl") {
				t.Fatalf("error %v, want one naming f1.jsonl and saying %q", err, name)
			}
		})
	}
}

func TestAuditCountsPeersNotGiven(t *testing.T) {
	p := newPair(t)
	p.job(10)
	third := newEnvAs(t, "p2", p.clk)
	third.must(third.fund("bob", 100))
	rep, err := Audit(t.Context(), testKeyring(),
		AuditInput{Name: "req", R: bytes.NewReader(export(t, p.req))}, AuditInput{Name: "third", R: bytes.NewReader(export(t, third))})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Pairs) != 1 || rep.Pairs[0].Shared != 0 || len(rep.Pairs[0].Findings) != 0 {
		t.Fatalf("pairs %+v", rep.Pairs)
	}
	for _, l := range rep.Ledgers {
		if want := map[string]int{self: 1, "p2": 0}[l.Node]; l.Unchecked != want {
			t.Fatalf("%s: %d unchecked, want %d", l.Node, l.Unchecked, want)
		}
	}
}

// FuzzAudit feeds Audit arbitrary bytes as the counterparty's export, as a
// peer could send one: it must not panic, and whatever it accepts gives
// findings about the two nodes only.
func FuzzAudit(f *testing.F) {
	clk := newFakeClock()
	req, prov := newEnvAs(f, self, clk), newEnvAs(f, provider, clk)
	p := &pair{clk: clk, req: req, prov: prov}
	req.must(req.fund("alice", 1000))
	for _, price := range []int64{10, 20} {
		p.jobs++
		job := fmt.Sprintf("j%d", p.jobs)
		req.must(req.hold(job, "alice", price))
		r := receipt(self, provider, job, 1, price)
		_, r.RequesterHead = req.l.Head()
		sr, err := SignReceipt(req.keys.Signer(self), r)
		req.must(err)
		_, head := prov.l.Head()
		sr, err = Countersign(prov.keys.Signer(provider), sr, head)
		req.must(err)
		prov.must(prov.append(KindReceipt, sr))
		req.must(req.append(KindReceipt, sr))
	}
	var mine, theirs bytes.Buffer
	req.must(req.l.Export(req.ctx, &mine))
	prov.must(prov.l.Export(prov.ctx, &theirs))
	for _, e := range []*env{req, prov} { // the fuzzed code needs no database
		e.must(e.l.Close())
		e.l = nil
	}
	f.Add(theirs.Bytes())
	f.Add(bytes.Replace(theirs.Bytes(), []byte("\n"), nil, 1))
	f.Add([]byte(`{"seq":1,"prev":"","time":1,"kind":"checkpoint","body":{}}`))
	keys := testKeyring()
	f.Fuzz(func(t *testing.T, b []byte) {
		// Not t.Context(): with it, go1.26's fuzz workers stall after a
		// few inputs (0 execs/s); nothing here outlives the call.
		rep, err := Audit(context.Background(), keys, AuditInput{Name: "mine", R: bytes.NewReader(mine.Bytes())}, AuditInput{Name: "theirs", R: bytes.NewReader(b)})
		if err != nil {
			return
		}
		for _, pr := range rep.Pairs {
			for _, fd := range pr.Findings {
				if (fd.Subject != pr.A && fd.Subject != pr.B) || fd.Detail == "" {
					t.Fatalf("finding %+v about neither %s nor %s", fd, pr.A, pr.B)
				}
			}
		}
	})
}
